import assert from "node:assert/strict";
import {
  formatServerSentEvent,
  ServerSentEventStream,
} from "../../src/streams/server_sent_event_stream.ts";

Deno.test("formats every field in order and ends with a blank line", () => {
  assert.equal(
    formatServerSentEvent({ comment: "hi", event: "update", data: "x", id: 7, retry: 1000 }),
    ": hi\nevent: update\ndata: x\nid: 7\nretry: 1000\n\n",
  );
});

Deno.test("splits multi-line data into one data: line per line, whatever the line ends", () => {
  assert.equal(
    formatServerSentEvent({ data: "a\nb\r\nc\rd" }),
    "data: a\ndata: b\ndata: c\ndata: d\n\n",
  );
});

Deno.test("one-line and empty data are one data: line; a trailing line end adds an empty one", () => {
  assert.equal(formatServerSentEvent({ data: '{"a":"b c"}' }), 'data: {"a":"b c"}\n\n');
  assert.equal(formatServerSentEvent({ data: "" }), "data: \n\n");
  assert.equal(formatServerSentEvent({ data: "a\n" }), "data: a\ndata: \n\n");
  assert.equal(formatServerSentEvent({ data: "\r" }), "data: \ndata: \n\n");
});

Deno.test("an empty comment is a bare colon line (a keep-alive)", () => {
  assert.equal(formatServerSentEvent({ comment: "" }), ":\n\n");
});

Deno.test("rejects line breaks in event and id", () => {
  assert.throws(() => formatServerSentEvent({ event: "a\nb" }), SyntaxError);
  assert.throws(() => formatServerSentEvent({ id: "1\r2" }), SyntaxError);
});

Deno.test("the stream encodes messages as UTF-8 bytes in order", async () => {
  const body = ReadableStream.from([{ data: "Две" }, { data: "[DONE]" }])
    .pipeThrough(new ServerSentEventStream());
  assert.equal(await new Response(body).text(), "data: Две\n\ndata: [DONE]\n\n");
});
