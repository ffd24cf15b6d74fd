/**
 * The CLI's stream-json stdout as typed events: every CliEvent kind from
 * lines shaped like the real CLI's (2.1.197), the lines that are skipped, and
 * non-JSON lines kept as raw text.
 */
import assert from "node:assert/strict";
import {
  type CliEvent,
  CliEventStream,
  parseLine,
  textDelta,
  toCliEvent,
} from "../../src/claude/events.ts";

const SESSION = "0f6a2c9e-5d1b-4c1e-9a57-3c2f8e1d7b40";
const tail = {
  session_id: SESSION,
  parent_tool_use_id: null,
  uuid: "4b7d1e2a-aaaa-4bbb-8ccc-123456789abc",
};
const stream = (event: unknown) => JSON.stringify({ type: "stream_event", event, ...tail });
const zero = {
  input_tokens: 0,
  output_tokens: 0,
  cache_creation_input_tokens: 0,
  cache_read_input_tokens: 0,
};

Deno.test("a text delta becomes a text event", () => {
  const line = stream({
    type: "content_block_delta",
    index: 0,
    delta: { type: "text_delta", text: "Две" },
  });
  assert.deepEqual(parseLine(line), { type: "text", text: "Две" });
});

Deno.test("the text-delta fast path reads what a full parse reads, escapes included", () => {
  const texts = [
    "",
    "plain",
    'say "hi"',
    "line\nbreak\ttab",
    "back\\slash\\",
    "\\",
    "é😀 Две",
    "\u0000\u001f\u2028",
    '}},"x":"',
    "\ud83d", // a lone surrogate, escaped by JSON.stringify
  ];
  for (const text of texts) {
    for (const index of [0, 7, 12]) {
      const line = stream({
        type: "content_block_delta",
        index,
        delta: { type: "text_delta", text },
      });
      assert.equal(textDelta(line), text, line);
      assert.equal(
        textDelta(line),
        (JSON.parse(line) as { event: { delta: { text: string } } }).event.delta.text,
      );
      assert.deepEqual(parseLine(line), { type: "text", text });
    }
  }
});

Deno.test("the text-delta fast path declines lines it cannot read, which the full parse then takes", () => {
  const delta = { type: "text_delta", text: "hi" };
  const declined = [
    // Other key orders or events.
    JSON.stringify({
      event: { type: "content_block_delta", index: 0, delta },
      type: "stream_event",
    }),
    stream({ type: "content_block_delta", delta, index: 0 }),
    stream({ type: "content_block_delta", index: 0, delta: { text: "hi", type: "text_delta" } }),
    stream({
      type: "content_block_delta",
      index: 0,
      delta: { type: "input_json_delta", partial_json: "{}" },
    }),
    stream({ type: "content_block_delta", index: "0", delta }),
    // Broken lines: cut off inside or after the text.
    '{"type":"stream_event","event":{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hi',
    '{"type":"stream_event","event":{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hi"}},"session_id":"x"',
    '{"type":"stream_event","event":{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hi"}',
    // An escape the JSON grammar does not have.
    '{"type":"stream_event","event":{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"\\q"}},"uuid":"u"}',
  ];
  for (const line of declined) assert.equal(textDelta(line), undefined, line);
  // Declined but well-formed text deltas still become text events.
  assert.deepEqual(parseLine(declined[0]!), { type: "text", text: "hi" });
  assert.deepEqual(parseLine(declined[2]!), { type: "text", text: "hi" });
  // Broken lines stay raw, as before.
  assert.equal(parseLine(declined[6]!)?.type, "raw");
});

Deno.test("message_start carries the message id and its starting usage", () => {
  const line = stream({
    type: "message_start",
    message: {
      id: "msg_01XFDUDYJgAACzvnptvVoYEL",
      type: "message",
      role: "assistant",
      model: "claude-sonnet-4-5-20250929",
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: {
        input_tokens: 12,
        cache_creation_input_tokens: 300,
        cache_read_input_tokens: 4000,
        output_tokens: 1,
        service_tier: "standard",
      },
    },
  });
  const event = parseLine(line);
  assert.equal(event?.type, "message_start");
  if (event?.type !== "message_start") return;
  assert.equal(event.id, "msg_01XFDUDYJgAACzvnptvVoYEL");
  assert.deepEqual(
    [event.usage.input_tokens, event.usage.output_tokens],
    [12, 1],
  );
  assert.equal(event.usage.cache_creation_input_tokens, 300);
  assert.equal(event.usage.cache_read_input_tokens, 4000);
});

Deno.test("message_start without an id or usage still starts a message, with zero usage", () => {
  assert.deepEqual(parseLine(stream({ type: "message_start", message: {} })), {
    type: "message_start",
    usage: zero,
  });
});

Deno.test("a tool_use block start, its JSON fragments and its stop become tool events", () => {
  const start = stream({
    type: "content_block_start",
    index: 1,
    content_block: {
      type: "tool_use",
      id: "toolu_01A09q90qw90lq917835lq9",
      name: "mcp__bridge__get_weather",
      input: {},
    },
  });
  assert.deepEqual(parseLine(start), {
    type: "tool_start",
    index: 1,
    id: "toolu_01A09q90qw90lq917835lq9",
    name: "mcp__bridge__get_weather",
  });
  const input = stream({
    type: "content_block_delta",
    index: 1,
    delta: { type: "input_json_delta", partial_json: '{"city": "Par' },
  });
  assert.deepEqual(parseLine(input), { type: "tool_input", index: 1, json: '{"city": "Par' });
  assert.deepEqual(parseLine(stream({ type: "content_block_stop", index: 1 })), {
    type: "block_stop",
    index: 1,
  });
});

Deno.test("message_delta carries the stop reason and only the usage counts it has", () => {
  const line = stream({
    type: "message_delta",
    delta: { stop_reason: "tool_use", stop_sequence: null },
    usage: { output_tokens: 57 },
    context_management: { applied_edits: [] },
  });
  assert.deepEqual(parseLine(line), {
    type: "message_delta",
    stopReason: "tool_use",
    usage: { output_tokens: 57 },
  });
  const bare = stream({ type: "message_delta", delta: { stop_reason: null }, usage: {} });
  assert.deepEqual(parseLine(bare), { type: "message_delta" });
});

Deno.test("a whole assistant message carries its id and blocks; other blocks are marked other", () => {
  const line = JSON.stringify({
    type: "assistant",
    message: {
      id: "msg_01",
      type: "message",
      role: "assistant",
      model: "claude-sonnet-4-5-20250929",
      content: [
        { type: "thinking", thinking: "hmm", signature: "sig" },
        { type: "text", text: "Hello" },
        { type: "tool_use", id: "toolu_1", name: "mcp__bridge__f", input: { a: 1 } },
        { type: "tool_use", id: "toolu_2", name: "Read" },
      ],
      stop_reason: null,
      usage: { input_tokens: 3, output_tokens: 4 },
    },
    ...tail,
    request_id: "req_011",
  });
  assert.deepEqual(parseLine(line), {
    type: "assistant",
    id: "msg_01",
    blocks: [
      { type: "other" },
      { type: "text", text: "Hello" },
      { type: "tool_use", id: "toolu_1", name: "mcp__bridge__f", input: { a: 1 } },
      { type: "tool_use", id: "toolu_2", name: "Read", input: {} },
    ],
  });
});

Deno.test("the CLI's own assistant notices are skipped: with `error`, or a <synthetic> model", () => {
  const message = {
    id: "9c1d3e54-0000-4000-8000-000000000000",
    model: "<synthetic>",
    role: "assistant",
    type: "message",
    content: [{ type: "text", text: "API Error: 529 Overloaded" }],
  };
  const synthetic = { type: "assistant", message, ...tail };
  assert.equal(parseLine(JSON.stringify(synthetic)), undefined);
  const withError = {
    type: "assistant",
    message: { ...message, id: "msg_2", model: "claude-sonnet-4-5" },
    error: "rate_limit",
    ...tail,
  };
  assert.equal(parseLine(JSON.stringify(withError)), undefined);
  const noId = { type: "assistant", message: { model: "claude-sonnet-4-5", content: [] } };
  assert.equal(parseLine(JSON.stringify(noId)), undefined);
});

Deno.test("a result line keeps its fields and tolerates odd ones", () => {
  const event = parseLine(JSON.stringify({
    type: "result",
    subtype: "success",
    is_error: true,
    duration_ms: 2210,
    duration_api_ms: 2150,
    num_turns: 1,
    result: "API Error: Request rejected (429)",
    stop_reason: null,
    session_id: SESSION,
    total_cost_usd: "free",
    api_error_status: 429,
    usage: { input_tokens: 3, output_tokens: "many", cache_read_input_tokens: 2 },
    modelUsage: { "claude-sonnet-4-5": { inputTokens: 3 } },
    permission_denials: [],
    uuid: "x",
  }));
  assert.equal(event?.type, "result");
  if (event?.type !== "result") return;
  const { result } = event;
  assert.equal(result.is_error, true);
  assert.equal(result.subtype, "success");
  assert.equal(result.api_error_status, 429);
  assert.equal(result.total_cost_usd, undefined, "a wrong-typed optional field is dropped");
  assert.equal(result.num_turns, 1);
  assert.deepEqual(result.usage, {
    input_tokens: 3,
    output_tokens: 0,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 2,
  });
});

Deno.test("a structured-output result keeps structured_output and errors", () => {
  const event = toCliEvent({
    type: "result",
    subtype: "error_max_turns",
    is_error: true,
    errors: ["Reached maximum number of turns (8)", 3],
    structured_output: { answer: 42 },
  });
  assert.equal(event?.type, "result");
  if (event?.type !== "result") return;
  assert.deepEqual(event.result.structured_output, { answer: 42 });
  assert.deepEqual(event.result.errors, ["Reached maximum number of turns (8)", 3]);
});

Deno.test("the CLI's control requests become control_request events", () => {
  const mcp = {
    type: "control_request",
    request_id: "3f2a",
    request: {
      subtype: "mcp_message",
      server_name: "bridge",
      message: {
        jsonrpc: "2.0",
        id: 4,
        method: "tools/call",
        params: {
          name: "get_weather",
          arguments: { city: "Paris" },
          _meta: { "claudecode/toolUseId": "toolu_1" },
        },
      },
    },
  };
  assert.deepEqual(parseLine(JSON.stringify(mcp)), {
    type: "control_request",
    requestId: "3f2a",
    request: mcp.request,
  });
  const hook = {
    type: "control_request",
    request_id: "9",
    request: {
      subtype: "hook_callback",
      callback_id: "guard",
      input: { hook_event_name: "PreToolUse", tool_name: "Read", tool_input: { file_path: "/x" } },
      tool_use_id: "toolu_2",
    },
  };
  assert.deepEqual(parseLine(JSON.stringify(hook)), {
    type: "control_request",
    requestId: "9",
    request: hook.request,
  });
});

Deno.test("the CLI's answers to the bridge's requests become control_response events", () => {
  const ok = {
    type: "control_response",
    response: {
      subtype: "success",
      request_id: "bridge-1",
      response: { version: "2.1.197", buildTime: "2025-01-01T00:00:00Z" },
    },
  };
  assert.deepEqual(parseLine(JSON.stringify(ok)), {
    type: "control_response",
    requestId: "bridge-1",
    ok: true,
    response: { version: "2.1.197", buildTime: "2025-01-01T00:00:00Z" },
  });
  const refused = {
    type: "control_response",
    response: { subtype: "error", request_id: "bridge-2", error: "Already initialized" },
  };
  assert.deepEqual(parseLine(JSON.stringify(refused)), {
    type: "control_response",
    requestId: "bridge-2",
    ok: false,
    response: {},
    error: "Already initialized",
  });
  const silent = { type: "control_response", response: { subtype: "error", request_id: "3" } };
  const event = parseLine(JSON.stringify(silent));
  assert.equal(event?.type === "control_response" && event.error, "the CLI refused the request");
});

Deno.test("the system/init line lists the tools and the MCP servers with their status", () => {
  const line = JSON.stringify({
    type: "system",
    subtype: "init",
    cwd: "/tmp/bridge/run/work",
    session_id: SESSION,
    tools: ["mcp__bridge__get_weather", 7, "Read"],
    mcp_servers: [{ name: "bridge", status: "connected" }, { name: "other" }],
    model: "claude-sonnet-4-5",
    permissionMode: "default",
    apiKeySource: "none",
    uuid: "u",
  });
  assert.deepEqual(parseLine(line), {
    type: "init",
    tools: ["mcp__bridge__get_weather", "Read"],
    mcpServers: [{ name: "bridge", status: "connected" }, { name: "other", status: "" }],
  });
  assert.deepEqual(parseLine('{"type":"system","subtype":"init"}'), {
    type: "init",
    tools: [],
    mcpServers: [],
  });
});

Deno.test("a line that is not JSON is kept as raw text, whole", () => {
  assert.deepEqual(parseLine("Hello from a plain CLI"), {
    type: "raw",
    line: "Hello from a plain CLI",
  });
  assert.deepEqual(parseLine("{not json"), { type: "raw", line: "{not json" });
  assert.deepEqual(parseLine("  [1,2]"), { type: "raw", line: "  [1,2]" });
});

Deno.test("blank lines and JSON lines the bridge does not act on are skipped", () => {
  const skipped = [
    "",
    "   ",
    JSON.stringify({ type: "system", subtype: "status", status: "requesting", ...tail }),
    JSON.stringify({ type: "system", subtype: "compact_boundary" }),
    JSON.stringify({ type: "user", message: { role: "user", content: [] } }),
    JSON.stringify({ type: "mystery" }),
    "{}",
    stream({ type: "message_stop" }),
    stream({ type: "ping" }),
    stream({ type: "content_block_start", index: 0, content_block: { type: "text", text: "" } }),
    stream({
      type: "content_block_start",
      index: 0,
      content_block: { type: "thinking", thinking: "" },
    }),
    stream({
      type: "content_block_delta",
      index: 0,
      delta: { type: "thinking_delta", thinking: "x" },
    }),
    stream({
      type: "content_block_delta",
      index: 0,
      delta: { type: "signature_delta", signature: "s" },
    }),
    stream({ type: "content_block_delta", index: 0, delta: { type: "text_delta", text: 42 } }),
    stream({ type: "content_block_delta", delta: { type: "input_json_delta", partial_json: "{" } }),
    stream({ type: "content_block_delta", index: 0, delta: ["text_delta", "x"] }),
    stream({ type: "content_block_delta" }),
    stream({ type: "content_block_stop" }),
    stream({ type: "content_block_start", index: 0, content_block: { type: "tool_use", id: 1 } }),
    stream("content_block_delta"),
    JSON.stringify({ type: "control_request", request: { subtype: "x" } }),
    JSON.stringify({ type: "control_request", request_id: "1", request: "x" }),
    JSON.stringify({ type: "control_response", response: { subtype: "success" } }),
  ];
  for (const line of skipped) assert.equal(parseLine(line), undefined, line);
});

Deno.test("the event stream yields the events the bridge acts on, in order", async () => {
  const lines = [
    JSON.stringify({ type: "system", subtype: "init", tools: [], mcp_servers: [] }),
    JSON.stringify({ type: "system", subtype: "status", status: "requesting" }),
    stream({ type: "message_start", message: { id: "m", usage: {} } }),
    stream({ type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "a" } }),
    "",
    stream({ type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "b" } }),
    "plain",
    stream({ type: "content_block_stop", index: 0 }),
    stream({ type: "message_delta", delta: { stop_reason: "end_turn" }, usage: {} }),
    stream({ type: "message_stop" }),
    '{"type":"result","subtype":"success","result":"ab"}',
  ];
  // Lines split across pieces of output, as stdout delivers them.
  const text = lines.join("\n") + "\n";
  const pieces = [text.slice(0, 100), text.slice(100, 333), text.slice(333)];
  const batches = await Array.fromAsync(
    ReadableStream.from(pieces).pipeThrough(new CliEventStream()),
  );
  assert.ok(batches.length <= pieces.length, "one batch per piece of output at most");
  const events: CliEvent[] = batches.flat();
  assert.deepEqual(events.map((event) => event.type), [
    "init",
    "message_start",
    "text",
    "text",
    "raw",
    "block_stop",
    "message_delta",
    "result",
  ]);
});
