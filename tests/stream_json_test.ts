import assert from "node:assert/strict";
import { CliEventStream, parseLine } from "../src/stream_json.ts";

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
