/**
 * End to end through the whole chain: the official `openai` client → the
 * bridge → the **real** Claude Code CLI → a fake Anthropic API on loopback.
 *
 * Needs the real CLI (`CLAUDE_E2E_BIN`, or `claude` on PATH); without it
 * every test here fails with the install command. Each test starts its own
 * fake API and bridge (both cheap); the CLI takes about a second per request.
 */
import assert from "node:assert/strict";
import { APIError, OpenAI } from "../support/client_libraries.ts";
import type { FakeResponse } from "../support/fake_anthropic.ts";
import { sseData } from "../support/harness.ts";
import { contentText, type E2E, execShim, startE2E } from "../support/real_cli.ts";

type Message = OpenAI.Chat.Completions.ChatCompletionMessageParam;

const MODEL = "sonnet";

/** Streams one completion with the client and returns its chunks. */
async function streamChunks(e2e: E2E, messages: Message[]) {
  const stream = await e2e.client.chat.completions.create({ model: MODEL, messages, stream: true });
  const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

/** The JSON error body of the client's latest (failed) response. */
async function errorBody(e2e: E2E): Promise<Record<string, unknown>> {
  return JSON.parse(await e2e.lastBody());
}

/** Asserts the client call fails with an `APIError` of `status` and returns it. */
async function rejectsWith(call: Promise<unknown>, status: number): Promise<APIError> {
  const error = await call.then(() => undefined, (error: unknown) => error);
  assert.ok(error instanceof APIError, `expected an APIError, got ${error}`);
  assert.equal(error.status, status, error.message);
  return error;
}

const ask = (text: string): Message[] => [{ role: "user", content: text }];

Deno.test("streaming: each fake text delta arrives as one chunk, multi-byte text intact, then stop and [DONE]", async () => {
  await using e2e = await startE2E();
  const deltas = ["Приве", "т, ми", "р! 👩‍", "💻 гото", "во 🎉"];
  e2e.script([{ text: deltas }]);
  const chunks = await streamChunks(e2e, ask("Say hello"));

  const content = chunks.flatMap((c) => c.choices.map((choice) => choice.delta.content ?? ""));
  assert.deepEqual(content.filter((text) => text !== ""), deltas);
  assert.equal(chunks[0]?.choices[0]?.delta.role, "assistant");
  assert.match(chunks[0]?.id ?? "", /^chatcmpl-/);
  assert.deepEqual(new Set(chunks.map((c) => c.id)).size, 1, "one id for every chunk");
  for (const chunk of chunks) {
    assert.equal(chunk.object, "chat.completion.chunk");
    assert.equal(chunk.model, MODEL);
  }
  const finishes = chunks.flatMap((c) => c.choices.map((choice) => choice.finish_reason));
  assert.deepEqual(finishes.filter((reason) => reason !== null), ["stop"]);
  assert.equal(chunks.at(-1)?.choices[0]?.finish_reason, "stop");

  const wire = sseData(await e2e.lastBody());
  assert.equal(wire.at(-1), "[DONE]");
  assert.equal(wire.filter((data) => data === "[DONE]").length, 1);
  assert.equal(e2e.posts().length, 1);
  assert.equal(e2e.posts()[0]?.body.stream, true);
});

Deno.test("non-streaming: the fake's answer arrives whole with id, role, finish reason and usage", async () => {
  await using e2e = await startE2E();
  e2e.script([{
    text: ["Съешь ещё ", "этих мягких 🥐", " булок"],
    usage: { input_tokens: 12, output_tokens: 5 },
  }]);
  const completion = await e2e.client.chat.completions.create({
    model: MODEL,
    messages: ask("Say something"),
  });

  assert.match(completion.id, /^chatcmpl-/);
  assert.equal(completion.object, "chat.completion");
  assert.equal(completion.model, MODEL);
  assert.ok(Number.isInteger(completion.created));
  assert.equal(completion.choices.length, 1);
  assert.equal(completion.choices[0]?.message.role, "assistant");
  assert.equal(completion.choices[0]?.message.content, "Съешь ещё этих мягких 🥐 булок");
  assert.equal(completion.choices[0]?.finish_reason, "stop");
  assert.deepEqual(
    [
      completion.usage?.prompt_tokens,
      completion.usage?.completion_tokens,
      completion.usage?.total_tokens,
    ],
    [12, 5, 17],
  );
});

Deno.test("the whole conversation reaches the model as native turns: the system text as its system prompt, every turn in order", async () => {
  await using e2e = await startE2E();
  e2e.script([{ text: ["noted"] }]);
  const messages: Message[] = [
    { role: "system", content: "SYS-MARKER: answer like a lighthouse keeper." },
    { role: "user", content: "USER-MARKER-1: what is the weather?" },
    { role: "assistant", content: "ASSISTANT-MARKER-1: foggy, as ever." },
    { role: "user", content: "USER-MARKER-2: User: and tomorrow?" },
    { role: "assistant", content: "ASSISTANT-MARKER-2: clearer." },
    { role: "user", content: "USER-MARKER-3: thanks, keeper." },
  ];
  const chunks = await streamChunks(e2e, messages);
  assert.equal(chunks.map((c) => c.choices[0]?.delta.content ?? "").join(""), "noted");
  const body = e2e.posts().at(-1)!.body;
  assert.match(body.system.at(-1).text, /\n\nSYS-MARKER: answer like a lighthouse keeper\.$/);
  const turns = body.messages as { role: string; content: unknown }[];
  assert.deepEqual(turns.map((turn) => turn.role), [
    "user",
    "assistant",
    "user",
    "assistant",
    "user",
  ]);
  for (const [i, message] of messages.slice(1).entries()) {
    assert.ok(
      contentText(turns[i]!.content).includes(String(message.content)),
      `turn ${i} is not ${message.role}'s "${message.content}"`,
    );
  }
});

Deno.test("a 300 KB history reaches the model whole as native turns (a session file, never argv), streaming or not", async () => {
  await using e2e = await startE2E();
  e2e.script([{ text: ["read it all"] }]);
  const filler = "The quick brown fox jumps over the lazy dog. ".repeat(240); // ~11 KB
  const messages: Message[] = [];
  for (let turn = 0; turn < 30; turn++) {
    messages.push({
      role: turn % 2 ? "assistant" : "user",
      content: `TURN-${turn}-START ${filler}`,
    });
  }
  messages.push({ role: "user", content: "LAST-QUESTION: summarise." });
  const size = new TextEncoder().encode(JSON.stringify(messages)).length;
  assert.ok(size > 300_000, `history is only ${size} bytes`);

  const chunks = await streamChunks(e2e, messages);
  assert.equal(chunks.map((c) => c.choices[0]?.delta.content ?? "").join(""), "read it all");
  const streamed = e2e.posts().at(-1)!.body.messages;
  const completion = await e2e.client.chat.completions.create({ model: MODEL, messages });
  assert.equal(completion.choices[0]?.message.content, "read it all");
  const completed = e2e.posts().at(-1)!.body.messages;

  for (const turns of [streamed, completed] as { role: string; content: unknown }[][]) {
    assert.equal(turns.length, 31);
    for (const [i, turn] of turns.entries()) {
      const marker = i === 30 ? "LAST-QUESTION" : `TURN-${i}-START`;
      assert.ok(contentText(turn.content).includes(marker), `${marker} is not turn ${i}`);
    }
    assert.ok(JSON.stringify(turns).length > 300_000);
  }
});

Deno.test("upstream 429 becomes our 429 with Retry-After, before the first token, streaming or not", async () => {
  await using e2e = await startE2E();
  e2e.script([{
    status: 429,
    errorType: "rate_limit_error",
    message: "Number of requests has exceeded your rate limit",
    headers: { "retry-after": "7" },
  }]);
  for (const stream of [false, true]) {
    const error = await rejectsWith(
      e2e.client.chat.completions.create({ model: MODEL, messages: ask("hi"), stream }),
      429,
    );
    assert.ok(error instanceof OpenAI.RateLimitError);
    assert.match(error.headers?.get("retry-after") ?? "", /^[1-9]\d*$/, `stream: ${stream}`);
    const body = await errorBody(e2e);
    assert.equal(body.error, "rate limited");
    assert.match(String(body.message), /rate limit/i);
  }
});

/** Asserts the latest failure is a 502 that tells the operator to sign the CLI in. */
async function assertSignInError(e2e: E2E, call: Promise<unknown>): Promise<void> {
  await rejectsWith(call, 502);
  const body = await errorBody(e2e);
  assert.equal(body.error, "upstream authentication failed");
  assert.match(String(body.message), /sign the Claude Code CLI in/);
  assert.match(String(body.message), /\/login|setup-token/);
}

Deno.test("upstream 401 becomes a 502 telling the operator to sign the CLI in", async () => {
  await using e2e = await startE2E();
  e2e.script([{ status: 401, errorType: "authentication_error", message: "invalid x-api-key" }]);
  for (const stream of [false, true]) {
    await assertSignInError(
      e2e,
      e2e.client.chat.completions.create({ model: MODEL, messages: ask("hi"), stream }),
    );
  }
});

Deno.test("a CLI that is not logged in gives a 502 telling the operator to sign it in", async () => {
  await using e2e = await startE2E({ childEnv: { ANTHROPIC_API_KEY: "" } });
  await assertSignInError(
    e2e,
    e2e.client.chat.completions.create({ model: MODEL, messages: ask("hi"), stream: true }),
  );
  assert.match(String((await errorBody(e2e)).message), /Not logged in/);
  assert.equal(e2e.posts().length, 0, "a CLI without credentials must not reach the API");
});

Deno.test("an API the CLI cannot reach gives a 502 saying so", async () => {
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = closed.addr.port;
  closed.close();
  await using e2e = await startE2E({
    childEnv: { ANTHROPIC_BASE_URL: `http://127.0.0.1:${port}` },
  });
  await rejectsWith(
    e2e.client.chat.completions.create({ model: MODEL, messages: ask("hi") }),
    502,
  );
  const body = await errorBody(e2e);
  assert.equal(body.error, "upstream unreachable");
  assert.match(String(body.message), /could not reach Claude's API/);
});

Deno.test("upstream 500 becomes 502 and 529 becomes 503 before the first token, streaming or not", async () => {
  await using e2e = await startE2E();
  const cases: [FakeResponse, number, string][] = [
    [
      { status: 500, errorType: "api_error", message: "Internal server error" },
      502,
      "upstream error",
    ],
    [
      { status: 529, errorType: "overloaded_error", message: "Overloaded" },
      503,
      "upstream overloaded",
    ],
  ];
  for (const [upstream, status, code] of cases) {
    e2e.script([upstream]);
    for (const stream of [false, true]) {
      await rejectsWith(
        e2e.client.chat.completions.create({ model: MODEL, messages: ask("hi"), stream }),
        status,
      );
      assert.equal(
        (await errorBody(e2e)).error,
        code,
        `upstream ${"status" in upstream && upstream.status}, stream ${stream}`,
      );
    }
  }
});

// Anthropic signals a mid-stream overload with an SSE `error` event; the CLI
// then retries once without streaming. Whether that retry fails or answers
// anew, the half already sent cannot be completed: the client must get an error.
const brokenStreams: [name: string, retry: FakeResponse, message: RegExp][] = [
  [
    "a failure after the first token arrives as an SSE error that the openai client raises",
    { status: 529, errorType: "overloaded_error", message: "Overloaded" },
    /overloaded/i,
  ],
  [
    "a stream that broke off and was answered anew by the CLI's retry is an error, never a wrong answer",
    { text: ["A completely different answer"] },
    /broke off/,
  ],
];

for (const [name, retry, message] of brokenStreams) {
  Deno.test(name, async () => {
    await using e2e = await startE2E();
    e2e.script([
      { text: ["Half an ", "answer"], failAfterText: { errorType: "overloaded_error" } },
      retry,
    ]);
    const stream = await e2e.client.chat.completions.create({
      model: MODEL,
      messages: ask("hi"),
      stream: true,
    });
    let received = "";
    const error = await (async () => {
      for await (const chunk of stream) received += chunk.choices[0]?.delta.content ?? "";
    })().then(() => undefined, (error: unknown) => error);

    assert.equal(received, "Half an answer");
    assert.ok(error instanceof APIError, `the client raised no APIError: ${error}`);
    assert.match(error.message, message);
    const wire = sseData(await e2e.lastBody());
    assert.ok(!wire.includes("[DONE]"), "a failed stream must not end with [DONE]");
  });
}

Deno.test("a missing or non-executable CLAUDE_BIN gives 503 naming CLAUDE_BIN, and the server keeps serving", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bridge-e2e-bin-" });
  try {
    const bin = `${dir}/claude`;
    await using e2e = await startE2E({ env: { CLAUDE_BIN: bin } });
    e2e.script([{ text: ["back ", "again"] }]);
    const failures: string[] = [];
    for (const stream of [false, true]) {
      await rejectsWith(
        e2e.client.chat.completions.create({ model: MODEL, messages: ask("hi"), stream }),
        503,
      );
      failures.push(String((await errorBody(e2e)).message));
    }
    await Deno.writeTextFile(bin, "#!/bin/sh\necho never\n", { mode: 0o644 });
    await rejectsWith(
      e2e.client.chat.completions.create({ model: MODEL, messages: ask("hi") }),
      503,
    );
    failures.push(String((await errorBody(e2e)).message));
    for (const message of failures) assert.match(message, /CLAUDE_BIN/);
    assert.match(failures[0]!, /not found/);
    assert.match(failures[2]!, /not executable/);

    const health = await fetch(`${e2e.bridge.url}/healthz`);
    assert.equal(health.status, 200);
    await health.body?.cancel();
    await Deno.remove(bin);
    await execShim(bin);
    const completion = await e2e.client.chat.completions.create({
      model: MODEL,
      messages: ask("hi"),
    });
    assert.equal(completion.choices[0]?.message.content, "back again");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a stop sequence the API stops at itself ends the answer there, and the conversation stays live", async () => {
  await using e2e = await startE2E();
  e2e.script([
    { text: ["one, two"], stopReason: "stop_sequence", stopSequence: "three" },
    { text: ["and on"] },
  ]);
  const messages: Message[] = [{ role: "user", content: "count" }];
  const first = await e2e.client.chat.completions.create({
    model: MODEL,
    messages,
    stop: ["three"],
  });
  assert.equal(first.choices[0]?.message.content, "one, two");
  assert.equal(first.choices[0]?.finish_reason, "stop");
  assert.deepEqual(e2e.posts()[0]?.body.stop_sequences, ["three"]);
  const second = await e2e.client.chat.completions.create({
    model: MODEL,
    messages: [...messages, { role: "assistant", content: "one, two" }, {
      role: "user",
      content: "go on",
    }],
  });
  assert.equal(second.choices[0]?.message.content, "and on");
  assert.equal(e2e.bridge.app.engine.paths.live, 1, "the second turn went to the same process");
});

Deno.test("a persona of many KB reaches the model whole as its system prompt, and turn 2 reads it from the prompt cache", async () => {
  await using e2e = await startE2E();
  e2e.script([{ text: ["Hello, I am Ava."] }, { text: ["Happy to help."] }]);
  const persona = `PERSONA-START ${
    "You are Ava, a calm and precise receptionist. ".repeat(600)
  }PERSONA-END`;
  assert.ok(persona.length > 25_000);
  const messages: Message[] = [{ role: "system", content: persona }, {
    role: "user",
    content: "hi",
  }];
  const first = await e2e.client.chat.completions.create({ model: MODEL, messages });
  assert.equal(first.choices[0]?.message.content, "Hello, I am Ava.");
  const system = e2e.posts()[0]!.body.system.at(-1).text as string;
  assert.ok(system.endsWith(persona), "the persona is the end of the real system prompt, intact");
  const second = await e2e.client.chat.completions.create({
    model: MODEL,
    messages: [...messages, { role: "assistant", content: "Hello, I am Ava." }, {
      role: "user",
      content: "book a room",
    }],
  });
  const usage = second.usage!;
  const cached = usage.prompt_tokens_details?.cached_tokens ?? 0;
  // The fake applies Anthropic's prefix-cache rule: everything before the newest message was written by turn 1.
  assert.equal(cached, e2e.posts()[1]!.usage?.cache_read_input_tokens);
  assert.ok(
    cached / usage.prompt_tokens > 0.8,
    `only ${cached} of ${usage.prompt_tokens} prompt tokens cached`,
  );
  assert.equal(e2e.bridge.app.engine.paths.live, 1);
});
