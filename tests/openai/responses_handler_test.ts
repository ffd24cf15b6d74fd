/**
 * `POST /v1/responses` through the real app with the stand-in CLI as real
 * subprocesses, driven by the official `openai` SDK (`responses.create`
 * streaming and not, `responses.stream` with its accumulator) and by raw
 * HTTP for the wire format: function-call round trips, previous_response_id,
 * the error shape, a Codex-shaped request and the left-out tool types.
 */
import assert from "node:assert/strict";
import { Logger } from "../../src/ops/log.ts";
import { APIError, type OpenAI, openaiClient } from "../support/client_libraries.ts";
import { firstRecordedPid, isRunning, waitGone } from "../support/processes.ts";
import { AUTH, recordingServer, startServer, type TestServer } from "../support/harness.ts";

/** A user text that steers the stand-in CLI. */
const steered = (script: Record<string, unknown>, text = "hi") =>
  `${text} [[fake:${JSON.stringify(script)}]]`;

function clientOf(server: TestServer): OpenAI {
  return openaiClient(`${server.url}/v1`);
}

const weather = {
  type: "function" as const,
  name: "get_weather",
  description: "Weather for a city",
  parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  strict: false,
};

// deno-lint-ignore no-explicit-any
type Event = Record<string, any>;

/** Parses a Responses SSE body: each event's `event:` name and JSON data (names checked equal). */
function sseEvents(body: string): Event[] {
  return body.split("\n\n").filter((block) => block.trim() !== "").map((block) => {
    const lines = block.split("\n");
    const name = lines.find((line) => line.startsWith("event: "))?.slice(7);
    const data = JSON.parse(lines.find((line) => line.startsWith("data: "))!.slice(6));
    assert.equal(name, data.type, "the SSE event name repeats the data's type");
    return data;
  });
}

/** Asserts the sequence numbers count 0, 1, 2, … */
function assertSequenced(events: Event[]): void {
  assert.deepEqual(events.map((event) => event.sequence_number), events.map((_, index) => index));
}

/** Asserts `call` fails with an `APIError` of `status` and returns it. */
async function rejectsWith(call: Promise<unknown>, status: number): Promise<APIError> {
  const error = await call.then(() => undefined, (error: unknown) => error);
  assert.ok(error instanceof APIError, `expected an APIError, got ${error}`);
  assert.equal(error.status, status, error.message);
  return error;
}

Deno.test("openai SDK responses.create: the answer, ids, usage; instructions and developer items form the system prompt", async () => {
  await using server = await recordingServer();
  const client = clientOf(server);
  const response = await client.responses.create({
    model: "haiku",
    instructions: "Be brief.",
    input: [
      { role: "developer", content: "Answer in French." },
      { role: "user", content: steered({ say: ["Bon", "jour"] }) },
    ],
  });
  assert.match(response.id, /^resp_[0-9a-f]{32}$/);
  assert.equal(response.object, "response");
  assert.equal(response.status, "completed");
  assert.equal(response.model, "haiku");
  assert.equal(response.output_text, "Bonjour");
  assert.equal(response.instructions, "Be brief.");
  assert.equal(response.output.length, 1);
  const [message] = response.output;
  assert.equal(message!.type, "message");
  assert.match(message!.id!, /^msg_/);
  assert.deepEqual(response.usage, {
    input_tokens: 10,
    input_tokens_details: { cached_tokens: 0, cache_write_tokens: 0 },
    output_tokens: 2,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: 12,
  });
  const [run] = await server.runs();
  assert.match(run!.turns[0]!.system, /Be brief\.\n\nAnswer in French\./);
});

Deno.test("openai SDK responses.create with stream: events in order, sequence numbers from 0, the text", async () => {
  await using server = await startServer();
  const stream = await clientOf(server).responses.create({
    model: "sonnet",
    input: steered({ say: ["Hel", "lo"] }),
    stream: true,
  });
  const events: Event[] = [];
  for await (const event of stream) events.push(event);
  assert.deepEqual(events.map((event) => event.type), [
    "response.created",
    "response.in_progress",
    "response.output_item.added",
    "response.content_part.added",
    "response.output_text.delta",
    "response.output_text.delta",
    "response.output_text.done",
    "response.content_part.done",
    "response.output_item.done",
    "response.completed",
  ]);
  assertSequenced(events);
  assert.equal(events.at(-1)!.response.output[0].content[0].text, "Hello");
});

Deno.test("openai SDK responses.stream: the accumulator builds the final response, text and tool call", async () => {
  await using server = await startServer();
  const client = clientOf(server);
  const text = client.responses.stream({ model: "sonnet", input: steered({ say: ["a", "b"] }) });
  const deltas: string[] = [];
  text.on("response.output_text.delta", (event) => deltas.push(event.delta));
  const final = await text.finalResponse();
  assert.deepEqual(deltas, ["a", "b"]);
  assert.equal(final.output_text, "ab");

  const call = client.responses.stream({
    model: "sonnet",
    tools: [weather],
    input: steered({
      say: ["Checking."],
      toolCalls: [{ name: "get_weather", input: { city: "Paris" }, id: "call_7" }],
    }),
  });
  const done = await call.finalResponse();
  assert.deepEqual(done.output.map((item) => item.type), ["message", "function_call"]);
  const fc = done.output[1] as OpenAI.Responses.ResponseFunctionToolCall;
  assert.equal(fc.call_id, "call_7");
  assert.equal(fc.name, "get_weather");
  assert.deepEqual(JSON.parse(fc.arguments), { city: "Paris" });
  assert.equal(fc.status, "completed");
});

Deno.test("a function-call round trip: the client replays our items (id, status) and the suspended run continues", async () => {
  await using server = await recordingServer();
  const client = clientOf(server);
  const input: OpenAI.Responses.ResponseInputItem[] = [{
    role: "user",
    content: steered({
      toolCalls: [{ name: "get_weather", input: { city: "Paris" } }],
      thenSay: ["It is sunny."],
    }, "weather?"),
  }];
  const first = await client.responses.create({ model: "sonnet", tools: [weather], input });
  assert.equal(first.status, "completed");
  const call = first.output.find((item) => item.type === "function_call");
  assert.ok(call && call.type === "function_call");
  assert.match(call.id!, /^fc_/);
  const second = await client.responses.create({
    model: "sonnet",
    tools: [weather],
    input: [
      ...input,
      ...first.output as OpenAI.Responses.ResponseInputItem[],
      {
        type: "function_call_output",
        id: "fco_1",
        status: "completed",
        call_id: call.call_id,
        output: "sunny, 25C",
      } as OpenAI.Responses.ResponseInputItem,
    ],
  });
  assert.equal(second.output_text, "It is sunny.");
  assert.equal(server.app.engine.paths.tool_results, 1);
  assert.equal((await server.runs()).length, 1, "one process for the whole round");
});

Deno.test("previous_response_id with store: true continues a tool call and then a chat; without store it is not found", async () => {
  await using server = await recordingServer();
  const client = clientOf(server);
  const first = await client.responses.create({
    model: "sonnet",
    store: true,
    tools: [weather],
    input: steered({
      toolCalls: [{ name: "get_weather", input: { city: "Oslo" } }],
      thenSay: ["Cold."],
    }),
  });
  const call = first.output.find((item) => item.type === "function_call");
  assert.ok(call && call.type === "function_call");
  const second = await client.responses.create({
    model: "sonnet",
    store: true,
    tools: [weather],
    previous_response_id: first.id,
    input: [{ type: "function_call_output", call_id: call.call_id, output: "-5C" }],
  });
  assert.equal(second.output_text, "Cold.");
  assert.equal(second.previous_response_id, first.id);
  assert.equal(server.app.engine.paths.tool_results, 1, "the suspended run was continued");
  const third = await client.responses.create({
    model: "sonnet",
    tools: [weather],
    previous_response_id: second.id,
    input: steered({ echo: "history" }, "and tomorrow?"),
  });
  const history = JSON.parse(third.output_text);
  assert.deepEqual(
    history.map((message: { role: string }) => message.role),
    ["user", "assistant", "user", "assistant", "user"],
  );
  assert.equal(server.app.engine.paths.live, 1, "the idle session took the next message");

  const error = await rejectsWith(
    client.responses.create({ model: "sonnet", previous_response_id: third.id, input: "more" }),
    400,
  );
  assert.equal(error.code, "previous_response_not_found", "third was created without store");
  assert.equal(error.param, "previous_response_id");
});

Deno.test("an unknown previous_response_id is a 400 in the Responses error shape, and nothing is spawned", async () => {
  await using server = await recordingServer();
  const response = await server.post("/v1/responses", {
    model: "sonnet",
    previous_response_id: "resp_unknown",
    input: "hi",
    stream: true,
  });
  assert.equal(response.status, 400);
  const body = await response.json();
  assert.deepEqual(Object.keys(body), ["error"]);
  assert.equal(body.error.type, "invalid_request_error");
  assert.equal(body.error.param, "previous_response_id");
  assert.equal(body.error.code, "previous_response_not_found");
  assert.match(body.error.message, /resp_unknown/);
  assert.deepEqual(await server.runs(), []);
});

Deno.test("RESPONSES_STORE_MAX=0: store: true keeps nothing and says store: false", async () => {
  await using server = await startServer({ RESPONSES_STORE_MAX: "0" });
  const client = clientOf(server);
  const first = await client.responses.create({ model: "sonnet", store: true, input: "hi" });
  assert.equal((first as unknown as { store: boolean }).store, false);
  const error = await rejectsWith(
    client.responses.create({ model: "sonnet", previous_response_id: first.id, input: "x" }),
    400,
  );
  assert.match(error.message, /RESPONSES_STORE_MAX=0/);
});

Deno.test("errors before anything is sent have a real status and the Responses shape: auth, model, body, CLI", async () => {
  await using server = await startServer({ MAX_BODY_BYTES: "2048" });
  const shape = async (response: Response, status: number, code: string, param: string | null) => {
    assert.equal(response.status, status);
    const body = await response.json();
    assert.deepEqual(Object.keys(body), ["error"]);
    assert.deepEqual(
      [body.error.code, body.error.param, typeof body.error.message, typeof body.error.type],
      [code, param, "string", "string"],
    );
    return body.error;
  };
  const missingKey = await shape(
    await server.post("/v1/responses", { input: "x" }, {}),
    401,
    "unauthorized",
    null,
  );
  assert.equal(missingKey.type, "authentication_error");
  const model = await shape(
    await server.post("/v1/responses", { model: "gpt-5", input: "x" }),
    400,
    "unsupported_model",
    null,
  );
  assert.deepEqual(model.supported, ["haiku", "sonnet", "opus"]);
  await shape(
    await server.post("/v1/responses", { input: 42 }),
    400,
    "invalid_request",
    "input",
  );
  await shape(
    await server.post("/v1/responses", { input: "x".repeat(4000) }),
    413,
    "request_too_large",
    null,
  );
  for (const stream of [false, true]) {
    const failed = await shape(
      await server.post("/v1/responses", {
        input: steered({ apiError: { status: 429, message: "slow down" } }),
        stream,
      }),
      429,
      "rate_limited",
      null,
    );
    assert.equal(failed.type, "rate_limit_error");
  }
});

Deno.test("a failure after the stream began: response.failed with the partial output, then an error event", async () => {
  await using server = await startServer();
  const response = await server.post("/v1/responses", {
    input: steered({ say: ["par", "tial", "never"], crashAfter: 2 }),
    stream: true,
  });
  assert.equal(response.status, 200);
  const events = sseEvents(await response.text());
  assertSequenced(events);
  assert.deepEqual(events.slice(-2).map((event) => event.type), ["response.failed", "error"]);
  const failed = events.at(-2)!.response;
  assert.equal(failed.status, "failed");
  assert.equal(failed.output[0].content[0].text, "partial");
  assert.equal(failed.error.code, "server_error");
  const error = events.at(-1)!;
  assert.deepEqual(Object.keys(error.error).slice(0, 4), ["message", "type", "param", "code"]);

  const client = clientOf(server);
  const stream = await client.responses.create({
    input: steered({ say: ["a", "b"], crashAfter: 1 }),
    stream: true,
  });
  await assert.rejects(async () => {
    for await (const _ of stream) { /* the SDK raises the error event */ }
  }, APIError);
});

Deno.test("a client that leaves mid-stream stops the CLI process", async () => {
  await using server = await recordingServer();
  const controller = new AbortController();
  const response = await fetch(`${server.url}/v1/responses`, {
    method: "POST",
    signal: controller.signal,
    headers: { ...AUTH, "content-type": "application/json" },
    body: JSON.stringify({ input: steered({ say: ["a"], hang: true }), stream: true }),
  });
  assert.equal(response.status, 200);
  const reader = response.body!.getReader();
  await reader.read();
  const pid = await firstRecordedPid(server.dir);
  assert.ok(isRunning(pid));
  controller.abort();
  await reader.closed.catch(() => {});
  await waitGone([pid], 5000);
});

Deno.test("a token limit gives status incomplete with reason max_output_tokens, streaming or not", async () => {
  await using server = await startServer();
  const client = clientOf(server);
  const input = steered({ say: ["cut"], stopReason: "max_tokens" });
  const whole = await client.responses.create({ input, max_output_tokens: 16 });
  assert.equal(whole.status, "incomplete");
  assert.deepEqual(whole.incomplete_details, { reason: "max_output_tokens" });
  const response = await server.post("/v1/responses", { input, stream: true });
  const last = sseEvents(await response.text()).at(-1)!;
  assert.equal(last.type, "response.incomplete");
});

Deno.test("reasoning.effort and max_output_tokens reach the CLI like chat's reasoning_effort", async () => {
  await using server = await startServer();
  const client = clientOf(server);
  const settings = async (body: Record<string, unknown>) =>
    JSON.parse(
      (await client.responses.create({
        model: "sonnet",
        input: steered({ echo: "settings" }),
        ...body,
      } as OpenAI.Responses.ResponseCreateParamsNonStreaming)).output_text,
    );
  const low = await settings({ reasoning: { effort: "low" }, max_output_tokens: 5000 });
  assert.equal(low.effort, "low");
  assert.equal(low.maxTokens, 5000);
  const none = await settings({ reasoning: { effort: "none" } });
  assert.equal(none.thinking.type, "disabled");
});

Deno.test("text.format json_schema: the answer is the structured output as output_text", async () => {
  await using server = await startServer();
  const response = await clientOf(server).responses.create({
    model: "sonnet",
    input: steered({ structured: { answer: 42 } }),
    text: {
      format: {
        type: "json_schema",
        name: "answer",
        schema: { type: "object", properties: { answer: { type: "number" } } },
      },
    },
  });
  assert.deepEqual(JSON.parse(response.output_text), { answer: 42 });
});

/** Codex CLI 0.171.0's first request (tools abridged), as captured in the client research. */
function codexRequest(prompt: string) {
  const fn = (name: string, properties: Record<string, unknown>) => ({
    type: "function",
    name,
    description: `${name} tool`,
    strict: false,
    parameters: { type: "object", properties, required: [], additionalProperties: false },
  });
  return {
    model: "sonnet",
    stream: true,
    tool_choice: "auto",
    parallel_tool_calls: true,
    reasoning: { summary: "auto" },
    store: false,
    include: ["reasoning.encrypted_content"],
    prompt_cache_key: "019a-thread",
    client_metadata: { "x-codex-turn-metadata": '{"sandbox":"seccomp"}' },
    tools: [
      fn("exec_command", { cmd: { type: "string" }, workdir: { type: "string" } }),
      fn("write_stdin", { session_id: { type: "number" }, chars: { type: "string" } }),
      fn("request_user_input", { question: { type: "string" } }),
      fn("view_image", { path: { type: "string" } }),
      {
        type: "namespace",
        name: "multi_agent_v1",
        description: "sub-agents",
        tools: [fn("spawn_agent", { task: { type: "string" } })],
      },
      fn("get_goal", {}),
      fn("create_goal", { goal: { type: "string" } }),
      fn("update_goal", { goal: { type: "string" } }),
      { type: "web_search", external_web_access: false },
    ],
    input: [
      {
        type: "message",
        role: "developer",
        id: "msg_dev1",
        content: [{ type: "input_text", text: "You are Codex, a coding agent." }],
      },
      {
        type: "message",
        role: "developer",
        content: [
          { type: "input_text", text: "<skills>none</skills>" },
          { type: "input_text", text: "<permissions>read-only</permissions>" },
        ],
      },
      {
        type: "message",
        role: "user",
        content: [{ type: "input_text", text: "<environment_context>cwd</environment_context>" }],
      },
      { type: "message", role: "user", content: [{ type: "input_text", text: prompt }] },
    ],
  };
}

Deno.test("a Codex-shaped request (namespace and web_search tools, developer items) streams an answer; left-out types are logged once", async () => {
  const lines: string[] = [];
  await using server = await startServer(
    {},
    undefined,
    new Logger("warn", (line) => lines.push(line)),
  );
  const exec = steered({
    toolCalls: [{ name: "exec_command", input: { cmd: "cat secret.txt" }, id: "call_x" }],
  }, "read it");
  for (let round = 0; round < 2; round++) {
    const response = await server.post("/v1/responses", codexRequest(exec), {
      ...AUTH,
      accept: "text/event-stream",
    });
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type")!, /text\/event-stream/);
    const events = sseEvents(await response.text());
    assertSequenced(events);
    const done = events.at(-1)!;
    assert.equal(done.type, "response.completed");
    const call = done.response.output.find((item: Event) => item.type === "function_call");
    assert.deepEqual([call.name, call.call_id, JSON.parse(call.arguments)], [
      "exec_command",
      "call_x",
      { cmd: "cat secret.txt" },
    ]);
    assert.deepEqual(
      done.response.tools.map((tool: Event) => tool.name),
      [
        "exec_command",
        "write_stdin",
        "request_user_input",
        "view_image",
        "get_goal",
        "create_goal",
        "update_goal",
      ],
    );
  }
  const leftOut = lines.map((line) => JSON.parse(line)).filter((line) => line.tool_type);
  assert.deepEqual(leftOut.map((line) => line.tool_type), ["namespace", "web_search"]);
  assert.ok(leftOut.every((line) => line.level === "warn" && line.reason));
});

Deno.test("Codex's follow-up replays the function_call with our id and status, and the output with its own id", async () => {
  await using server = await recordingServer();
  const first = codexRequest(steered({
    toolCalls: [{ name: "exec_command", input: { cmd: "cat secret.txt" } }],
    thenSay: ["The secret word is KIWI-5550."],
  }, "read secret.txt"));
  const response = await server.post("/v1/responses", first);
  const done = sseEvents(await response.text()).at(-1)!;
  const call = done.response.output.find((item: Event) => item.type === "function_call");
  const follow = await server.post("/v1/responses", {
    ...first,
    input: [
      ...first.input,
      {
        type: "function_call",
        status: "completed",
        id: call.id,
        name: call.name,
        arguments: call.arguments,
        call_id: call.call_id,
      },
      {
        type: "function_call_output",
        id: "fco_1",
        call_id: call.call_id,
        output: "Process exited with code 0\nOutput:\nThe secret word is KIWI-5550.\n",
      },
    ],
  });
  assert.equal(follow.status, 200);
  const events = sseEvents(await follow.text());
  assert.equal(events.at(-1)!.response.output[0].content[0].text, "The secret word is KIWI-5550.");
  assert.equal(server.app.engine.paths.tool_results, 1);
});
