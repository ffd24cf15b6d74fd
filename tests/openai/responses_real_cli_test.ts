/**
 * `POST /v1/responses` end to end: the official `openai` client → the bridge
 * → the **real** Claude Code CLI → the fake Anthropic API on loopback, which
 * scripts multi-block replies and tool calls. Needs the pinned CLI (see
 * tests/support/real_cli.ts); without it these fail with the install command.
 */
import assert from "node:assert/strict";
import { APIError, type OpenAI } from "../support/client_libraries.ts";
import { toolResults, toolUses } from "../support/fake_anthropic.ts";
import { AUTH } from "../support/harness.ts";
import { contentText, startE2E } from "../support/real_cli.ts";

const MODEL = "sonnet";

const fn = (name: string, properties: Record<string, unknown> = {}) => ({
  type: "function" as const,
  name,
  description: `${name} tool`,
  parameters: { type: "object", properties },
  strict: false,
});
const tools = [fn("get_weather", { city: { type: "string" } }), fn("get_time")];

// deno-lint-ignore no-explicit-any
type Event = Record<string, any>;

/** The text of a request's system blocks. */
// deno-lint-ignore no-explicit-any
const systemText = (body: any) => contentText(body.system);

Deno.test("real CLI: responses.create answers with the fake's text; instructions reach the system prompt; usage", async () => {
  await using e2e = await startE2E();
  e2e.script([{ text: ["Hello", " there"] }]);
  const response = await e2e.client.responses.create({
    model: MODEL,
    instructions: "Answer like a pirate.",
    input: "Say hello",
  });
  assert.equal(response.status, "completed");
  assert.equal(response.output_text, "Hello there");
  assert.ok(response.usage!.input_tokens > 0);
  assert.equal(response.usage!.output_tokens, 2);
  const post = e2e.posts().at(-1)!;
  assert.match(systemText(post.body), /Answer like a pirate\./);
});

Deno.test("real CLI: responses.stream accumulates text and two parallel calls; the results continue the same run", async () => {
  await using e2e = await startE2E();
  e2e.script([
    toolUses([
      { name: "mcp__bridge__get_weather", input: { city: "Paris" }, fragments: 3 },
      { name: "mcp__bridge__get_time", input: {} },
    ], ["Checking", " both."]),
    { text: ["Sunny at noon."] },
  ]);
  const input: OpenAI.Responses.ResponseInputItem[] = [{
    role: "user",
    content: "Weather and time?",
  }];
  const stream = e2e.client.responses.stream({ model: MODEL, tools, input });
  const types: string[] = [];
  stream.on("event", (event) => types.push(event.type));
  const first = await stream.finalResponse();
  assert.deepEqual(first.output.map((item) => item.type), [
    "message",
    "function_call",
    "function_call",
  ]);
  assert.equal(first.output_text, "Checking both.");
  assert.equal(types[0], "response.created");
  assert.equal(types.at(-1), "response.completed");
  const calls = first.output.flatMap((item) => item.type === "function_call" ? [item] : []);
  assert.deepEqual(calls.map((call) => [call.name, JSON.parse(call.arguments)]), [
    ["get_weather", { city: "Paris" }],
    ["get_time", {}],
  ]);
  const offered = e2e.posts().at(-1)!.body.tools.map((tool: { name: string }) => tool.name);
  assert.deepEqual(offered.sort(), ["mcp__bridge__get_time", "mcp__bridge__get_weather"]);

  // Streamed like the first (the streaming agent holds the suspended run).
  const second = await e2e.client.responses.stream({
    model: MODEL,
    tools,
    input: [
      ...input,
      ...first.output as OpenAI.Responses.ResponseInputItem[],
      { type: "function_call_output", call_id: calls[0]!.call_id, output: "sunny" },
      { type: "function_call_output", call_id: calls[1]!.call_id, output: "12:00" },
    ],
  }).finalResponse();
  assert.equal(second.output_text, "Sunny at noon.");
  const results = toolResults(e2e.posts().at(-1)!);
  assert.deepEqual(
    results.map((result) => [result.tool_use_id, result.text]).sort(),
    [[calls[0]!.call_id, "sunny"], [calls[1]!.call_id, "12:00"]],
  );
  assert.equal(e2e.bridge.app.engine.paths.tool_results, 1);
});

Deno.test("real CLI: previous_response_id with store: true carries a function_call_output round trip", async () => {
  await using e2e = await startE2E();
  e2e.script([
    toolUses([{ name: "mcp__bridge__get_weather", input: { city: "Oslo" } }]),
    { text: ["Cold in Oslo."] },
  ]);
  const first = await e2e.client.responses.create({
    model: MODEL,
    store: true,
    tools,
    input: "Weather in Oslo?",
  });
  const call = first.output.find((item) => item.type === "function_call");
  assert.ok(call?.type === "function_call");
  const second = await e2e.client.responses.create({
    model: MODEL,
    tools,
    previous_response_id: first.id,
    input: [{ type: "function_call_output", call_id: call.call_id, output: "-5C" }],
  });
  assert.equal(second.output_text, "Cold in Oslo.");
  assert.deepEqual(toolResults(e2e.posts().at(-1)!).map((result) => result.text), ["-5C"]);
  const error = await e2e.client.responses
    .create({ model: MODEL, previous_response_id: second.id, input: "x" })
    .then(() => undefined, (error: unknown) => error);
  assert.ok(error instanceof APIError);
  assert.equal(error.status, 400);
  assert.equal(error.code, "previous_response_not_found", "the second was not stored");
});

Deno.test("real CLI: a Codex-shaped request offers only the function tools, streams the answer", async () => {
  await using e2e = await startE2E();
  e2e.script([{ text: ["pong"] }]);
  const response = await e2e.bridge.post("/v1/responses", {
    model: MODEL,
    stream: true,
    tool_choice: "auto",
    parallel_tool_calls: true,
    reasoning: { summary: "auto" },
    store: false,
    include: ["reasoning.encrypted_content"],
    prompt_cache_key: "thread-1",
    client_metadata: { "x-codex-turn-metadata": "{}" },
    tools: [
      fn("exec_command", { cmd: { type: "string" } }),
      {
        type: "namespace",
        name: "multi_agent_v1",
        description: "agents",
        tools: [fn("spawn_agent")],
      },
      { type: "web_search", external_web_access: false },
    ],
    input: [
      {
        type: "message",
        role: "developer",
        id: "msg_1",
        content: [{ type: "input_text", text: "You are Codex." }],
      },
      { type: "message", role: "user", content: [{ type: "input_text", text: "say hi" }] },
    ],
  }, { ...AUTH, accept: "text/event-stream" });
  assert.equal(response.status, 200);
  const events: Event[] = (await response.text()).split("\n\n").filter(Boolean)
    .map((block) =>
      JSON.parse(block.split("\n").find((line) => line.startsWith("data: "))!.slice(6))
    );
  assert.equal(events.at(-1)!.type, "response.completed");
  assert.equal(events.at(-1)!.response.output[0].content[0].text, "pong");
  const post = e2e.posts().at(-1)!;
  assert.deepEqual(post.body.tools.map((tool: { name: string }) => tool.name), [
    "mcp__bridge__exec_command",
  ]);
  assert.match(systemText(post.body), /You are Codex\./);
});

Deno.test("real CLI: upstream 429 is our 429 in the Responses error shape, streaming or not", async () => {
  await using e2e = await startE2E();
  e2e.script([{
    status: 429,
    errorType: "rate_limit_error",
    message: "Number of requests has exceeded your rate limit",
    headers: { "retry-after": "7" },
  }]);
  for (const stream of [false, true]) {
    const error = await e2e.client.responses.create({ model: MODEL, input: "hi", stream })
      .then(() => undefined, (error: unknown) => error);
    assert.ok(error instanceof APIError, String(error));
    assert.equal(error.status, 429);
    const body = JSON.parse(await e2e.lastBody());
    assert.deepEqual(Object.keys(body), ["error"]);
    assert.equal(body.error.type, "rate_limit_error");
    assert.equal(body.error.code, "rate_limited");
    assert.match(body.error.message, /rate limit/i);
  }
});
