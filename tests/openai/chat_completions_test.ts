/**
 * The original service's test cases for `/v1/chat/completions`, ported to Deno
 * and run against the stand-in CLI as a real subprocess.
 */
import assert from "node:assert/strict";
import { recordingServer, sseData, startServer, steer } from "../support/harness.ts";
import { isRunning, waitGone } from "../support/processes.ts";

async function recorded(
  dir: string,
): Promise<
  { argv: string[]; stdin: string; cwd: string; env: Record<string, string | undefined> }[]
> {
  const records = [];
  for await (const entry of Deno.readDir(dir)) {
    records.push(JSON.parse(await Deno.readTextFile(`${dir}/${entry.name}`)));
  }
  return records;
}

async function withRecording<T>(
  fn: (server: Awaited<ReturnType<typeof startServer>>, dir: string) => Promise<T>,
) {
  const dir = await Deno.makeTempDir();
  Deno.env.set("FAKE_CLAUDE_RECORD", dir);
  try {
    await using server = await startServer();
    return await fn(server, dir);
  } finally {
    Deno.env.delete("FAKE_CLAUDE_RECORD");
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("happy path: messages in, OpenAI-shaped chat.completion out", async () => {
  await using server = await startServer();
  const response = await server.post("/v1/chat/completions", {
    model: "haiku",
    messages: [
      { role: "system", content: "You are concise." },
      steer({ say: ["Paris is the capital of France."] }, "Capital of France?"),
    ],
  });
  assert.equal(response.status, 200);
  const body = await response.json();
  assert.equal(body.object, "chat.completion");
  assert.match(body.id, /^chatcmpl-/);
  assert.equal(body.model, "haiku");
  assert.equal(typeof body.created, "number");
  assert.ok(Number.isInteger(body.created));
  assert.equal(body.choices.length, 1);
  assert.equal(body.choices[0].index, 0);
  assert.equal(body.choices[0].finish_reason, "stop");
  assert.equal(body.choices[0].message.role, "assistant");
  assert.equal(body.choices[0].message.content, "Paris is the capital of France.");
  assert.deepEqual(
    [body.usage.prompt_tokens, body.usage.completion_tokens, body.usage.total_tokens],
    [10, 2, 12],
  );
});

Deno.test("unsupported model is rejected with 400 before anything is spawned, streaming too", async () => {
  await withRecording(async (server, dir) => {
    for (const stream of [true, false]) {
      const response = await server.post("/v1/chat/completions", {
        model: "gpt-4",
        messages: [{ role: "user", content: "hi" }],
        stream,
      });
      assert.equal(response.status, 400);
      const body = await response.json();
      assert.equal(body.error, "unsupported model");
      assert.deepEqual(body.supported, ["haiku", "sonnet", "opus"]);
      assert.match(body.message, /gpt-4/);
    }
    assert.deepEqual(await recorded(dir), []);
  });
});

Deno.test("a missing bearer key is 401", async () => {
  await using server = await startServer();
  const response = await server.post("/v1/chat/completions", {
    model: "haiku",
    messages: [{ role: "user", content: "hi" }],
  }, {});
  assert.equal(response.status, 401);
  assert.equal((await response.json()).error, "unauthorized");
});

Deno.test("a wrong bearer key is 401", async () => {
  await using server = await startServer();
  const response = await server.post("/v1/chat/completions", {
    model: "haiku",
    messages: [{ role: "user", content: "hi" }],
  }, { authorization: "Bearer wrong" });
  assert.equal(response.status, 401);
  await response.body?.cancel();
});

Deno.test("a CLI that exits non-zero gives 503 execution failed with its stderr as detail", async () => {
  await using server = await startServer();
  const response = await server.post("/v1/chat/completions", {
    model: "haiku",
    messages: [steer({ plain: "", stderr: "boom", exit: 42 }, "trigger fail")],
  });
  assert.equal(response.status, 503);
  const body = await response.json();
  assert.equal(body.error, "execution failed");
  assert.equal(body.detail, "boom");
});

Deno.test("empty messages are rejected with 400", async () => {
  await using server = await startServer();
  const response = await server.post("/v1/chat/completions", { model: "haiku", messages: [] });
  assert.equal(response.status, 400);
  const body = await response.json();
  assert.equal(body.error, "invalid request");
  assert.match(body.message, /messages/);
});

Deno.test("stdout that is not a JSON result becomes the content", async () => {
  await using server = await startServer();
  const response = await server.post("/v1/chat/completions", {
    model: "haiku",
    messages: [steer({ plain: "plain non-json output" })],
  });
  assert.equal(response.status, 200);
  const body = await response.json();
  assert.match(body.choices[0].message.content, /plain non-json output/);
});

Deno.test("the prompt on stdin holds system and user content, never argv", async () => {
  await withRecording(async (server, dir) => {
    const response = await server.post("/v1/chat/completions", {
      model: "haiku",
      messages: [
        { role: "system", content: "SYSTEM-MARKER" },
        { role: "user", content: "USER-MARKER" },
      ],
    });
    assert.equal(response.status, 200);
    await response.body?.cancel();
    const [run] = await recorded(dir);
    assert.ok(run);
    assert.match(run.stdin, /SYSTEM-MARKER/);
    assert.match(run.stdin, /USER-MARKER/);
    assert.ok(!run.argv.some((arg) => arg.includes("MARKER")));
  });
});

for (const model of ["haiku", "sonnet", "opus"]) {
  Deno.test(`model ${model} is passed to the CLI as --model ${model}`, async () => {
    await withRecording(async (server, dir) => {
      const response = await server.post("/v1/chat/completions", {
        model,
        messages: [{ role: "user", content: "hi" }],
      });
      assert.equal(response.status, 200);
      assert.equal((await response.json()).model, model);
      const [run] = await recorded(dir);
      assert.equal(run?.argv[run.argv.indexOf("--model") + 1], model);
    });
  });
}

Deno.test("a missing model uses DEFAULT_MODEL and the response echoes it", async () => {
  await withRecording(async (server, dir) => {
    const response = await server.post("/v1/chat/completions", {
      messages: [{ role: "user", content: "hi" }],
    });
    assert.equal(response.status, 200);
    assert.equal((await response.json()).model, "sonnet");
    const [run] = await recorded(dir);
    assert.equal(run?.argv[run.argv.indexOf("--model") + 1], "sonnet");
  });
});

Deno.test("stream=true relays CLI deltas as chat.completion.chunk SSE and ends with [DONE]", async () => {
  await using server = await startServer();
  const response = await server.post("/v1/chat/completions", {
    model: "sonnet",
    stream: true,
    messages: [
      steer({ say: ["Две", " точки."], before: ["not json", '{"type":"mystery"}'] }, "Колко е?"),
    ],
  });
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type") ?? "", /^text\/event-stream/);
  assert.equal(response.headers.get("cache-control"), "no-cache, no-transform");
  assert.equal(response.headers.get("x-accel-buffering"), "no");
  const text = await response.text();
  assert.ok(text.trimEnd().endsWith("data: [DONE]"));
  const events = sseData(text);
  assert.equal(events.at(-1), "[DONE]");
  const chunks = events.slice(0, -1) as {
    id: string;
    object: string;
    created: number;
    model: string;
    choices: { delta: { role?: string; content?: string }; finish_reason: string | null }[];
  }[];
  assert.equal(chunks[0]?.choices[0]?.delta.role, "assistant");
  assert.ok(chunks.every((chunk) => chunk.object === "chat.completion.chunk"));
  assert.equal(
    new Set(chunks.map((chunk) => `${chunk.id}/${chunk.created}/${chunk.model}`)).size,
    1,
  );
  assert.equal(chunks.map((chunk) => chunk.choices[0]?.delta.content ?? "").join(""), "Две точки.");
  assert.deepEqual(chunks.map((chunk) => chunk.choices[0]?.finish_reason), [
    null,
    null,
    null,
    "stop",
  ]);
});

Deno.test("a finished stream's CLI stays alive as the conversation's live session", async () => {
  await using server = await recordingServer();
  const response = await server.post("/v1/chat/completions", {
    stream: true,
    messages: [steer({ say: ["done"] })],
  });
  assert.equal(sseData(await response.text()).at(-1), "[DONE]");
  const [run] = await server.runs();
  assert.ok(isRunning(run!.pid));
  assert.equal(server.app.engine.live.status().idle, 1);
});

Deno.test("without live sessions, a finished stream's CLI exits by itself once its stdin closes, unsignalled", async () => {
  await using server = await recordingServer({ LIVE_SESSIONS: "0" });
  const response = await server.post("/v1/chat/completions", {
    stream: true,
    messages: [steer({ say: ["done"], lingerMs: 300 })],
  });
  assert.equal(sseData(await response.text()).at(-1), "[DONE]");
  const [run] = await server.runs();
  await waitGone([run!.pid], 5000);
  const [ended] = await server.runs();
  assert.deepEqual(ended!.exited, { code: 0, reason: "stdin closed" });
});
