/**
 * The Responses stream encoder and the collector, fed reply events directly:
 * the SSE wire format, OpenAI's event order, sequence numbers, the output
 * items, incomplete and failed responses.
 */
import assert from "node:assert/strict";
import type { ReplyEvent, Usage } from "../../src/engine/reply.ts";
import { HttpError } from "../../src/http/http_error.ts";
import { type ResponseFrame } from "../../src/openai/responses_object.ts";
import { collectResponse, type ResponseAssembler } from "../../src/openai/responses_output.ts";
import { ResponsesEventStream } from "../../src/openai/responses_stream.ts";

const usage: Usage = {
  inputTokens: 3,
  outputTokens: 5,
  cacheReadTokens: 100,
  cacheWriteTokens: 20,
};

const frame: ResponseFrame = {
  id: "resp_test",
  created_at: 1,
  model: "sonnet",
  instructions: null,
  max_output_tokens: null,
  parallel_tool_calls: true,
  previous_response_id: null,
  reasoning: { effort: null, summary: null },
  store: false,
  temperature: null,
  top_p: null,
  text: { format: { type: "text" } },
  tool_choice: "auto",
  tools: [],
  truncation: "disabled",
  metadata: {},
};

function events(list: ReplyEvent[]): ReadableStream<ReplyEvent> {
  return ReadableStream.from(list);
}

// deno-lint-ignore no-explicit-any
type Event = Record<string, any>;

/** Encodes `list` and parses the SSE back: each event's name and data. */
async function encode(
  list: ReplyEvent[],
  onEnd?: (assembler: ResponseAssembler) => void,
): Promise<{ wire: string; parsed: Event[] }> {
  const wire = await new Response(
    events(list).pipeThrough(new ResponsesEventStream({ frame, onEnd })),
  ).text();
  const parsed = wire.split("\n\n").filter((block) => block !== "").map((block) => {
    const [event, data, ...rest] = block.split("\n");
    assert.deepEqual(rest, [], `one event line and one data line: ${block}`);
    assert.match(event!, /^event: /);
    assert.match(data!, /^data: /);
    const json = JSON.parse(data!.slice(6));
    assert.equal(json.type, event!.slice(7), "the event name is the data's type");
    return json;
  });
  return { wire, parsed };
}

const textAndCall: ReplyEvent[] = [
  { type: "text", text: "Let me " },
  { type: "text", text: "check." },
  { type: "tool_call", index: 0, id: "toolu_1", name: "get_weather" },
  { type: "tool_arguments", index: 0, delta: '{"city":' },
  { type: "tool_arguments", index: 0, delta: '"Paris"}' },
  { type: "tool_call_done", index: 0, arguments: '{"city":"Paris"}' },
  { type: "tool_call", index: 1, id: "toolu_2", name: "get_time" },
  { type: "tool_call_done", index: 1, arguments: "{}" },
  { type: "end", finish: "tool_calls", usage },
];

Deno.test("events come in OpenAI's order, each with the next sequence_number, and no [DONE]", async () => {
  const { wire, parsed } = await encode(textAndCall);
  assert.deepEqual(parsed.map((event) => event.type), [
    "response.created",
    "response.in_progress",
    "response.output_item.added",
    "response.content_part.added",
    "response.output_text.delta",
    "response.output_text.delta",
    "response.output_text.done",
    "response.content_part.done",
    "response.output_item.done",
    "response.output_item.added",
    "response.function_call_arguments.delta",
    "response.function_call_arguments.delta",
    "response.function_call_arguments.done",
    "response.output_item.done",
    "response.output_item.added",
    "response.function_call_arguments.done",
    "response.output_item.done",
    "response.completed",
  ]);
  assert.deepEqual(parsed.map((event) => event.sequence_number), parsed.map((_, index) => index));
  assert.ok(!wire.includes("[DONE]"));
});

Deno.test("the message item: msg_ id, one output_text part announced before its deltas, full text at the end", async () => {
  const { parsed } = await encode(textAndCall);
  const added = parsed[2]!;
  assert.equal(added.output_index, 0);
  assert.match(added.item.id, /^msg_[0-9a-f]{32}$/);
  assert.deepEqual(added.item, {
    id: added.item.id,
    type: "message",
    status: "in_progress",
    content: [],
    role: "assistant",
  });
  const at = { item_id: added.item.id, output_index: 0, content_index: 0 };
  const part = (text: string) => ({ type: "output_text", annotations: [], logprobs: [], text });
  assert.deepEqual(parsed[3], {
    type: "response.content_part.added",
    ...at,
    part: part(""),
    sequence_number: 3,
  });
  assert.deepEqual(parsed[4], {
    type: "response.output_text.delta",
    ...at,
    delta: "Let me ",
    logprobs: [],
    sequence_number: 4,
  });
  assert.deepEqual(parsed[6], {
    type: "response.output_text.done",
    ...at,
    text: "Let me check.",
    logprobs: [],
    sequence_number: 6,
  });
  assert.deepEqual(parsed[7]!.part, part("Let me check."));
  assert.deepEqual(parsed[8]!.item, {
    ...added.item,
    status: "completed",
    content: [part("Let me check.")],
  });
});

Deno.test("function_call items: fc_ id, call_id the engine's id, arguments streamed then whole", async () => {
  const { parsed } = await encode(textAndCall);
  const added = parsed[9]!;
  assert.equal(added.output_index, 1);
  assert.match(added.item.id, /^fc_[0-9a-f]{32}$/);
  assert.deepEqual(added.item, {
    id: added.item.id,
    type: "function_call",
    status: "in_progress",
    arguments: "",
    call_id: "toolu_1",
    name: "get_weather",
  });
  assert.deepEqual(
    parsed.slice(10, 12).map((event) => [event.item_id, event.output_index, event.delta]),
    [[added.item.id, 1, '{"city":'], [added.item.id, 1, '"Paris"}']],
  );
  assert.equal(parsed[12]!.arguments, '{"city":"Paris"}');
  assert.deepEqual(parsed[13]!.item, {
    ...added.item,
    status: "completed",
    arguments: '{"city":"Paris"}',
  });
  assert.equal(parsed[14]!.output_index, 2);
});

Deno.test("response.completed carries the whole output and usage with cache reads and writes as input", async () => {
  const { parsed } = await encode(textAndCall);
  const created = parsed[0]!.response;
  assert.equal(created.status, "in_progress");
  assert.deepEqual(created.output, []);
  assert.equal(created.usage, undefined);
  const done = parsed.at(-1)!.response;
  assert.equal(done.id, "resp_test");
  assert.equal(done.object, "response");
  assert.equal(done.status, "completed");
  assert.equal(done.error, null);
  assert.deepEqual(done.output.map((item: Event) => item.type), [
    "message",
    "function_call",
    "function_call",
  ]);
  assert.deepEqual(done.usage, {
    input_tokens: 123,
    input_tokens_details: { cached_tokens: 100, cache_write_tokens: 20 },
    output_tokens: 5,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: 128,
  });
});

Deno.test("text after a tool call opens a new message item", async () => {
  const { parsed } = await encode([
    { type: "tool_call", index: 0, id: "t", name: "f" },
    { type: "tool_call_done", index: 0, arguments: "{}" },
    { type: "text", text: "after" },
    { type: "end", finish: "stop", usage },
  ]);
  const items = parsed.at(-1)!.response.output;
  assert.deepEqual(items.map((item: Event) => item.type), ["function_call", "message"]);
  assert.equal(items[1].content[0].text, "after");
});

Deno.test("a token limit ends with response.incomplete, max_output_tokens, the message incomplete", async () => {
  const { parsed } = await encode([
    { type: "text", text: "cut" },
    { type: "end", finish: "length", usage },
  ]);
  const last = parsed.at(-1)!;
  assert.equal(last.type, "response.incomplete");
  assert.equal(last.response.status, "incomplete");
  assert.deepEqual(last.response.incomplete_details, { reason: "max_output_tokens" });
  assert.equal(last.response.output[0].status, "incomplete");
  assert.equal(parsed.at(-2)!.type, "response.output_item.done");
});

Deno.test("a failure after content: response.failed with the output so far, then an error event", async () => {
  const error = new HttpError(502, "upstream error", "Claude failed mid-answer; retry.");
  const ended: string[] = [];
  const { parsed } = await encode([
    { type: "text", text: "partial" },
    { type: "error", error },
  ], (assembler) => ended.push(assembler.end!.status));
  assert.deepEqual(parsed.slice(-2).map((event) => event.type), ["response.failed", "error"]);
  const failed = parsed.at(-2)!.response;
  assert.equal(failed.status, "failed");
  assert.deepEqual(failed.error, { code: "server_error", message: error.message });
  assert.equal(failed.output[0].status, "incomplete");
  assert.equal(failed.output[0].content[0].text, "partial");
  assert.deepEqual(parsed.at(-1), {
    type: "error",
    code: "upstream_error",
    message: error.message,
    param: null,
    error: {
      message: error.message,
      type: "server_error",
      param: null,
      code: "upstream_error",
    },
    sequence_number: parsed.length - 1,
  });
  assert.deepEqual(ended, ["failed"]);
});

Deno.test("a 429 failure reads as rate_limit_exceeded in the failed response", async () => {
  const { parsed } = await encode([
    { type: "text", text: "x" },
    { type: "error", error: new HttpError(429, "rate limited", "slow down") },
  ]);
  assert.equal(parsed.at(-2)!.response.error.code, "rate_limit_exceeded");
});

Deno.test("onEnd sees the finished output once", async () => {
  const seen: string[][] = [];
  await encode(textAndCall, (assembler) => seen.push(assembler.output.map((item) => item.type)));
  assert.deepEqual(seen, [["message", "function_call", "function_call"]]);
});

Deno.test("collectResponse folds the same events into the same response object", async () => {
  const { response, output } = await collectResponse(events(textAndCall), frame);
  const { parsed } = await encode(textAndCall);
  const streamed = parsed.at(-1)!.response;
  const ids = (value: unknown) =>
    JSON.parse(JSON.stringify(value).replace(/"(msg|fc)_[0-9a-f]{32}"/g, '"$1_x"'));
  const { completed_at: _a, ...collected } = ids(response);
  const { completed_at: _b, ...final } = ids(streamed);
  assert.deepEqual(collected, final);
  assert.equal(output.length, 3);
});

Deno.test("collectResponse throws the reply's error, even after text; an empty answer has no output", async () => {
  const error = new HttpError(503, "execution failed", "the CLI failed");
  await assert.rejects(
    collectResponse(events([{ type: "text", text: "x" }, { type: "error", error }]), frame),
    (thrown) => thrown === error,
  );
  const { response } = await collectResponse(
    events([{ type: "end", finish: "stop", usage }]),
    frame,
  );
  assert.deepEqual(response.output, []);
  assert.equal(response.status, "completed");
});
