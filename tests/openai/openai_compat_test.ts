/**
 * OpenAI Chat Completions compatibility, over HTTP against the stand-in CLI:
 * the models list, usage chunks, content parts and images, parameters (stop,
 * response_format, max tokens, n, tools), error shapes and finish reasons, and
 * a Pipecat-shaped request replayed as JSON.
 */
import assert from "node:assert/strict";
import {
  AUTH,
  recordingServer,
  sseData,
  startServer,
  steer,
  streamedText,
} from "../support/harness.ts";
import { waitGone } from "../support/processes.ts";

interface Chunk {
  choices?: { delta: { role?: string; content?: string }; finish_reason: string | null }[];
  usage?: {
    prompt_tokens: number;
    completion_tokens: number;
    total_tokens: number;
    prompt_tokens_details: { cached_tokens: number };
  };
  error?: { message: string };
}

const chunksOf = async (response: Response) =>
  sseData(await response.text()).filter((item): item is Chunk => item !== "[DONE]");
const finishesOf = (chunks: Chunk[]) =>
  chunks.flatMap((chunk) => chunk.choices ?? []).map((choice) => choice.finish_reason)
    .filter((reason) => reason !== null);

const CACHED_USAGE = {
  input_tokens: 100,
  cache_creation_input_tokens: 30,
  cache_read_input_tokens: 40,
  output_tokens: 20,
};

Deno.test("GET /v1/models lists the allowed models in OpenAI's shape, behind auth", async () => {
  await using server = await startServer({ MODELS: "haiku,sonnet", DEFAULT_MODEL: "sonnet" });
  const response = await fetch(`${server.url}/v1/models`, { headers: AUTH });
  assert.equal(response.status, 200);
  const body = await response.json();
  assert.equal(body.object, "list");
  assert.deepEqual(body.data.map((model: { id: string }) => model.id), ["haiku", "sonnet"]);
  for (const model of body.data) {
    assert.equal(model.object, "model");
    assert.ok(Number.isInteger(model.created));
    assert.equal(model.owned_by, "anthropic");
  }
  const one = await fetch(`${server.url}/v1/models/haiku`, { headers: AUTH });
  assert.equal(one.status, 200);
  assert.equal((await one.json()).id, "haiku");
  const missing = await fetch(`${server.url}/v1/models/gpt-4`, { headers: AUTH });
  assert.equal(missing.status, 404);
  const error = await missing.json();
  assert.equal(error.error, "model not found");
  assert.match(error.message, /gpt-4/);
  const anonymous = await fetch(`${server.url}/v1/models`);
  assert.equal(anonymous.status, 401);
  await anonymous.body?.cancel();
});

Deno.test("include_usage: a choices-less usage chunk with cached tokens comes last before [DONE]", async () => {
  await using server = await startServer();
  const response = await server.post("/v1/chat/completions", {
    stream: true,
    stream_options: { include_usage: true },
    messages: [steer({ say: ["a", "b"], usage: CACHED_USAGE })],
  });
  const events = sseData(await response.text());
  assert.equal(events.at(-1), "[DONE]");
  const usage = events.at(-2) as Chunk;
  assert.deepEqual(usage.choices, []);
  assert.deepEqual(usage.usage, {
    prompt_tokens: 170,
    completion_tokens: 20,
    total_tokens: 190,
    prompt_tokens_details: { cached_tokens: 40 },
  });
  assert.equal((events.at(-3) as Chunk).choices?.[0]?.finish_reason, "stop");
});

Deno.test("without include_usage a stream has no usage chunk; non-streaming always has usage", async () => {
  await using server = await startServer();
  const streamed = await chunksOf(
    await server.post("/v1/chat/completions", { stream: true, messages: [steer({})] }),
  );
  assert.ok(streamed.every((chunk) => chunk.usage === undefined && chunk.choices?.length === 1));
  const whole = await (await server.post("/v1/chat/completions", {
    messages: [steer({ usage: CACHED_USAGE })],
  })).json();
  assert.equal(whole.usage.prompt_tokens, 170);
  assert.equal(whole.usage.prompt_tokens_details.cached_tokens, 40);
});

Deno.test("content parts and a data: image reach the CLI as native text and image blocks (non-streaming)", async () => {
  await using server = await recordingServer();
  const response = await server.post("/v1/chat/completions", {
    messages: [{
      role: "user",
      content: [
        { type: "text", text: "Describe" },
        { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=" } },
        { type: "text", text: 'briefly. [[fake:{"say":["A square."]}]]' },
      ],
    }],
  });
  assert.equal(response.status, 200);
  const body = await response.json();
  assert.equal(body.choices[0].message.content, "A square.");
  assert.equal(body.choices[0].finish_reason, "stop");
  const [run] = await server.runs();
  assert.ok(run);
  const line = run.stdin.trim().split("\n").map((text) => JSON.parse(text))
    .find((message) => message.type === "user");
  assert.deepEqual(line.message.content.map((block: { type: string }) => block.type), [
    "text",
    "image",
    "text",
  ]);
  assert.equal(line.message.content[0].text, "Describe");
  assert.equal(line.message.content[1].source.media_type, "image/png");
});

Deno.test("a remote image URL is a clear 400 and nothing is spawned", async () => {
  await using server = await recordingServer();
  const response = await server.post("/v1/chat/completions", {
    messages: [{
      role: "user",
      content: [{ type: "image_url", image_url: { url: "https://example.com/a.png" } }],
    }],
  });
  assert.equal(response.status, 400);
  const body = await response.json();
  assert.equal(body.error, "unsupported image");
  assert.match(body.message, /data URL/);
  assert.deepEqual(await server.runs(), []);
});

Deno.test("n > 1 is a 400 with a message", async () => {
  await using server = await startServer();
  const n = await server.post("/v1/chat/completions", { n: 2, messages: [steer({})] });
  assert.equal(n.status, 400);
  const body = await n.json();
  assert.equal(body.error, "unsupported parameter");
  assert.match(body.message, /n > 1/);
  assert.equal(body.param, "n");
});

Deno.test("accepted-but-not-honoured parameters, empty tools and unknown fields are fine", async () => {
  await using server = await startServer();
  const response = await server.post("/v1/chat/completions", {
    messages: [steer({ say: ["fine"] })],
    temperature: 0.2,
    top_p: 0.9,
    seed: 7,
    user: "u-1",
    metadata: { trace: "x" },
    service_tier: "auto",
    parallel_tool_calls: false,
    tools: [],
    tool_choice: "none",
    frequency_penalty: 0,
    logit_bias: {},
    some_future_field: { nested: true },
  });
  assert.equal(response.status, 200);
  assert.equal((await response.json()).choices[0].message.content, "fine");
});

Deno.test("stream: output is cut at a stop sequence spanning deltas, finish stop, CLI stopped", async () => {
  await using server = await recordingServer();
  const response = await server.post("/v1/chat/completions", {
    stream: true,
    stop: ["END", "###"],
    messages: [steer({ say: ["one E", "N", "D two", " three"], hang: true })],
  });
  assert.equal(response.status, 200);
  const chunks = await chunksOf(response);
  assert.equal(streamedText(chunks), "one ");
  assert.deepEqual(finishesOf(chunks), ["stop"]);
  const [run] = await server.runs();
  assert.ok(run, "no CLI run was recorded");
  await waitGone([run.pid], 5000); // the CLI is stopped at the stop sequence
});

Deno.test("non-streaming: the answer is cut at a stop string and the CLI is stopped", async () => {
  await using server = await recordingServer();
  // The stand-in never finishes (hang), so this only answers because the bridge cuts and stops it.
  const response = await server.post("/v1/chat/completions", {
    stop: "\n\n",
    messages: [steer({ say: ["First para.\n", "\nSecond."], hang: true })],
  });
  assert.equal(response.status, 200);
  const body = await response.json();
  assert.equal(body.choices[0].message.content, "First para.");
  assert.equal(body.choices[0].finish_reason, "stop");
  const [run] = await server.runs();
  assert.ok(run, "no CLI run was recorded");
  await waitGone([run.pid], 5000);
});

Deno.test("response_format json_schema reaches the CLI as the session's output schema (on stdin) and answers its JSON", async () => {
  await using server = await recordingServer();
  const schema = {
    type: "object",
    properties: { name: { type: "string" } },
    required: ["name"],
  };
  for (const stream of [false, true]) {
    const response = await server.post("/v1/chat/completions", {
      stream,
      response_format: {
        type: "json_schema",
        json_schema: { name: "person", strict: true, schema },
      },
      messages: [steer({ say: ["Here you go."], structured: { name: "Bob" } })],
    });
    assert.equal(response.status, 200);
    const content = stream
      ? streamedText(await chunksOf(response))
      : (await response.json()).choices[0].message.content;
    assert.deepEqual(JSON.parse(content), { name: "Bob" });
  }
  for (const run of await server.runs()) {
    assert.deepEqual(run.initialize?.jsonSchema, schema);
    assert.ok(!run.argv.includes("--json-schema"), "nothing a client sent goes in argv");
  }
});

Deno.test("response_format json_object uses a permissive object schema", async () => {
  await using server = await recordingServer();
  const response = await server.post("/v1/chat/completions", {
    response_format: { type: "json_object" },
    messages: [steer({ structured: { ok: true } })],
  });
  assert.deepEqual(JSON.parse((await response.json()).choices[0].message.content), { ok: true });
  const [run] = await server.runs();
  assert.deepEqual(run?.initialize?.jsonSchema, { type: "object", additionalProperties: true });
});

Deno.test("response_format that cannot be honoured is a clear 400", async () => {
  await using server = await startServer();
  for (
    const response_format of [
      { type: "json_schema", json_schema: { name: "list", schema: { type: "array" } } },
      { type: "grammar", grammar: "root ::= x" },
    ]
  ) {
    const response = await server.post("/v1/chat/completions", {
      response_format,
      messages: [steer({})],
    });
    assert.equal(response.status, 400);
    const body = await response.json();
    assert.equal(body.error, "unsupported parameter");
    assert.match(body.message, /response_format/);
  }
  const text = await server.post("/v1/chat/completions", {
    response_format: { type: "text" },
    messages: [steer({})],
  });
  assert.equal(text.status, 200);
  await text.body?.cancel();
});

Deno.test("max_tokens reaches the CLI as the turn's token limit and a cut is finish length", async () => {
  await using server = await recordingServer();
  for (const stream of [false, true]) {
    const response = await server.post("/v1/chat/completions", {
      stream,
      [stream ? "max_completion_tokens" : "max_tokens"]: 5,
      messages: [steer({ say: ["cut ", "here"], stopReason: "max_tokens", then: [" RESUMED"] })],
    });
    assert.equal(response.status, 200);
    if (stream) {
      const chunks = await chunksOf(response);
      assert.equal(streamedText(chunks), "cut here");
      assert.deepEqual(finishesOf(chunks), ["length"]);
    } else {
      const body = await response.json();
      assert.equal(body.choices[0].message.content, "cut here");
      assert.equal(body.choices[0].finish_reason, "length");
    }
  }
  const runs = await server.runs();
  assert.equal(runs.length, 2);
  for (const run of runs) {
    assert.equal(run.turns[0]?.settings.maxTokens, 5);
    // A limit this small leaves no room for extended thinking.
    assert.equal(run.turns[0]?.settings.thinking.type, "disabled");
    assert.equal(run.env.CLAUDE_CODE_MAX_OUTPUT_TOKENS, undefined, "not fixed at process start");
  }
});

Deno.test("finish reasons: refusal is content_filter, max_tokens without a limit is length", async () => {
  await using server = await startServer();
  const refusal = await (await server.post("/v1/chat/completions", {
    messages: [steer({ stopReason: "refusal" })],
  })).json();
  assert.equal(refusal.choices[0].finish_reason, "content_filter");
  const length = await (await server.post("/v1/chat/completions", {
    messages: [steer({ stopReason: "max_tokens" })],
  })).json();
  assert.equal(length.choices[0].finish_reason, "length");
});

Deno.test("an upstream 400/402 keeps the CLI's message verbatim, never as answer text", async () => {
  await using server = await startServer();
  const cases = [
    [402, "Credit balance is too low"],
    [400, "Third-party apps now draw from your extra usage, not your plan limits."],
  ] as const;
  for (const [status, message] of cases) {
    for (const stream of [false, true]) {
      const response = await server.post("/v1/chat/completions", {
        stream,
        messages: [
          steer({ say: [], result: { is_error: true, api_error_status: status, result: message } }),
        ],
      });
      assert.equal(response.status, status);
      const body = await response.json();
      assert.equal(typeof body.error, "string");
      assert.equal(body.message, message);
    }
  }
});

Deno.test("an interrupted run is an error, never '[Request interrupted by user]' as content", async () => {
  await using server = await startServer();
  const interrupted = {
    say: [],
    before: [
      JSON.stringify({
        type: "user",
        message: {
          role: "user",
          content: [{ type: "text", text: "[Request interrupted by user]" }],
        },
      }),
    ],
    result: { subtype: "error_during_execution", is_error: true, result: "" },
    exit: 0,
  };
  const quiet = { say: [], result: { result: "[Request interrupted by user]" } };
  for (const script of [interrupted, quiet]) {
    for (const stream of [false, true]) {
      const response = await server.post("/v1/chat/completions", {
        stream,
        messages: [steer(script)],
      });
      assert.ok(response.status >= 500, `status ${response.status}`);
      const text = await response.text();
      assert.ok(!/"content":"\[Request interrupted/.test(text));
      assert.equal(typeof JSON.parse(text).message, "string");
    }
  }
});

Deno.test("a Pipecat-shaped request (developer message, content parts, include_usage) streams", async () => {
  await using server = await recordingServer();
  const body = JSON.stringify({
    model: "haiku",
    stream: true,
    stream_options: { include_usage: true },
    messages: [
      {
        role: "developer",
        content: "You are a voice assistant. Keep answers short; no markdown.",
      },
      { role: "user", content: [{ type: "text", text: "Hello!" }] },
      { role: "assistant", content: [{ type: "text", text: "Hi! How can I help?" }] },
      {
        role: "user",
        content: [{
          type: "text",
          text: 'What time is it in Tokyo? [[fake:{"say":["It is ","noon."]}]]',
        }],
      },
    ],
    tools: [],
    tool_choice: "none",
    temperature: 0.7,
    service_tier: null,
    seed: null,
  });
  const response = await server.post("/v1/chat/completions", body);
  assert.equal(response.status, 200);
  const events = sseData(await response.text());
  assert.equal(events.at(-1), "[DONE]");
  const chunks = events.filter((item): item is Chunk => item !== "[DONE]");
  assert.equal(chunks[0]?.choices?.[0]?.delta.role, "assistant");
  assert.equal(streamedText(chunks), "It is noon.");
  assert.deepEqual(finishesOf(chunks), ["stop"]);
  const usage = chunks.at(-1);
  assert.deepEqual(usage?.choices, []);
  assert.equal(usage?.usage?.total_tokens, 12);
  const [run] = await server.runs();
  // The developer message is the system prompt; the earlier turns are native turns.
  assert.match(
    run!.turns[0]!.system,
    /You are a voice assistant\. Keep answers short; no markdown\.$/,
  );
  assert.match(run!.resume ?? "", /"Hi! How can I help\?"/);
});

Deno.test("a response_format schema over 128 KiB (argv's limit per argument) goes to the CLI on stdin", async () => {
  await using server = await recordingServer();
  const properties = Object.fromEntries(
    Array.from(
      { length: 3000 },
      (_, i) => [`field_${i}`, { type: "string", description: "x".repeat(40) }],
    ),
  );
  const schema = { type: "object", properties };
  assert.ok(JSON.stringify(schema).length > 128 * 1024);
  const response = await server.post("/v1/chat/completions", {
    response_format: { type: "json_schema", json_schema: { name: "big", schema } },
    messages: [steer({ structured: { field_0: "a" } })],
  });
  assert.equal(response.status, 200, await response.clone().text());
  assert.deepEqual(JSON.parse((await response.json()).choices[0].message.content), {
    field_0: "a",
  });
  const [run] = await server.runs();
  assert.deepEqual(run?.initialize?.jsonSchema, schema);
  assert.ok(run!.argv.every((arg) => arg.length < 4096), "nothing large in argv");
});
