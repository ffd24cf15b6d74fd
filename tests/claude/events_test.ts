import assert from "node:assert/strict";
import { CliEventStream, parseLine } from "../../src/claude/events.ts";

const delta = (text: string) =>
  JSON.stringify({
    type: "stream_event",
    event: { type: "content_block_delta", index: 0, delta: { type: "text_delta", text } },
  });

Deno.test("a text delta becomes a text event", () => {
  assert.deepEqual(parseLine(delta("Две")), { type: "text", text: "Две" });
});

Deno.test("a message_delta with a stop reason becomes a stop event", () => {
  const line = JSON.stringify({
    type: "stream_event",
    event: { type: "message_delta", delta: { stop_reason: "max_tokens" }, usage: {} },
  });
  assert.deepEqual(parseLine(line), { type: "stop", reason: "max_tokens" });
});

Deno.test("a result line keeps its fields and tolerates odd extra ones", () => {
  const event = parseLine(JSON.stringify({
    type: "result",
    subtype: "success",
    is_error: true,
    api_error_status: 429,
    result: "API Error: Request rejected (429)",
    usage: { input_tokens: 3, output_tokens: "many", cache_read_input_tokens: 2 },
    modelUsage: { x: 1 },
  }));
  assert.equal(event?.type, "result");
  if (event?.type !== "result") return;
  assert.equal(event.result.is_error, true);
  assert.equal(event.result.api_error_status, 429);
  assert.equal(event.result.usage?.input_tokens, 3);
  assert.equal(event.result.usage?.output_tokens, 0);
  assert.equal(event.result.usage?.cache_read_input_tokens, 2);
});

Deno.test("non-JSON lines, unknown events and non-text deltas are skipped", () => {
  for (
    const line of [
      "",
      "plain text",
      "{not json",
      '{"type":"system","subtype":"init"}',
      '{"type":"mystery"}',
      JSON.stringify({
        type: "stream_event",
        event: {
          type: "content_block_delta",
          delta: { type: "input_json_delta", partial_json: "{" },
        },
      }),
      "[1,2]",
      "null",
    ]
  ) {
    assert.equal(parseLine(line), undefined, line);
  }
});

Deno.test("the event stream yields only the events the bridge acts on, in order", async () => {
  const lines = [
    "noise",
    delta("a"),
    '{"type":"system"}',
    delta("b"),
    '{"type":"result","result":"ab"}',
  ];
  const events = await Array.fromAsync(
    ReadableStream.from(lines).pipeThrough(new CliEventStream()),
  );
  assert.deepEqual(events.map((event) => event.type), ["text", "text", "result"]);
});

Deno.test("whole assistant messages carry their id and text; the CLI's own error notices are skipped", () => {
  const message = {
    type: "assistant",
    message: {
      id: "msg_1",
      model: "claude-sonnet-5",
      content: [{ type: "text", text: "Hel" }, { type: "tool_use", id: "t" }, {
        type: "text",
        text: "lo",
      }],
    },
  };
  assert.deepEqual(parseLine(JSON.stringify(message)), {
    type: "message",
    id: "msg_1",
    text: "Hello",
  });
  const notice = { ...message, error: "rate_limit" };
  assert.equal(parseLine(JSON.stringify(notice)), undefined);
  const synthetic = { ...message, message: { ...message.message, model: "<synthetic>" } };
  assert.equal(parseLine(JSON.stringify(synthetic)), undefined);
});

Deno.test("message_start yields the message id and its starting usage", () => {
  const line = JSON.stringify({
    type: "stream_event",
    event: { type: "message_start", message: { id: "msg_9", usage: { input_tokens: 4 } } },
  });
  const event = parseLine(line);
  assert.equal(event?.type, "start");
  if (event?.type !== "start") return;
  assert.equal(event.id, "msg_9");
  assert.equal(event.usage.input_tokens, 4);
});

Deno.test("a text delta of the wrong shape is skipped, not passed on", () => {
  const wrapped = (event: unknown) => JSON.stringify({ type: "stream_event", event });
  for (
    const line of [
      wrapped({ type: "content_block_delta", delta: { type: "text_delta", text: 42 } }),
      wrapped({ type: "content_block_delta", delta: { type: "input_json_delta", text: "x" } }),
      wrapped({ type: "content_block_delta", delta: ["text_delta", "x"] }),
      wrapped({ type: "content_block_delta" }),
      wrapped("content_block_delta"),
      JSON.stringify({ type: "event", event: { type: "content_block_delta" } }),
    ]
  ) {
    assert.equal(parseLine(line), undefined, line);
  }
});
