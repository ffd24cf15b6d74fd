/**
 * Request body limits and JSON strictness: 413 past MAX_BODY_BYTES without
 * reading the rest (declared or chunked), 400 for duplicate keys and for
 * nesting past MAX_DEPTH.
 */
import assert from "node:assert/strict";
import { checkStructure, MAX_DEPTH } from "../../src/http/json_body.ts";
import { HttpError } from "../../src/http/http_error.ts";
import { startServer, TEST_KEY } from "../support/harness.ts";

const encoder = new TextEncoder();

/**
 * Sends a raw HTTP/1.1 request head and `body` but never finishes the body,
 * then reads the response head: the server must answer without the rest.
 */
async function answerToUnfinishedBody(url: string, head: string, body: string): Promise<string> {
  const { port } = new URL(url);
  using conn = await Deno.connect({ hostname: "127.0.0.1", port: Number(port) });
  await conn.write(encoder.encode(head + body));
  const buffer = new Uint8Array(4096);
  let text = "";
  while (!text.includes("\r\n\r\n")) {
    const read = await conn.read(buffer);
    if (read === null) break;
    text += new TextDecoder().decode(buffer.subarray(0, read));
  }
  return text;
}

const head = (extra: string) =>
  "POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\n" +
  `authorization: Bearer ${TEST_KEY}\r\ncontent-type: application/json\r\n${extra}\r\n`;

Deno.test("a declared content-length over MAX_BODY_BYTES gets 413 before the body is sent", async () => {
  await using server = await startServer({ MAX_BODY_BYTES: "1024", LOG_LEVEL: "error" });
  const answer = await answerToUnfinishedBody(
    server.url,
    head("content-length: 10000000\r\n"),
    '{"messages": [',
  );
  assert.match(answer, /^HTTP\/1\.1 413 /);
});

Deno.test("a chunked body without content-length gets 413 as soon as it passes MAX_BODY_BYTES", async () => {
  await using server = await startServer({ MAX_BODY_BYTES: "1024", LOG_LEVEL: "error" });
  const chunk = "x".repeat(600);
  const chunks = `${chunk.length.toString(16)}\r\n${chunk}\r\n`.repeat(2);
  const answer = await answerToUnfinishedBody(
    server.url,
    head("transfer-encoding: chunked\r\n"),
    chunks,
  );
  assert.match(answer, /^HTTP\/1\.1 413 /);
});

Deno.test("a streamed body over the limit is refused with a JSON 413 naming MAX_BODY_BYTES", async () => {
  await using server = await startServer({ MAX_BODY_BYTES: "1024", LOG_LEVEL: "error" });
  const body = ReadableStream.from([
    encoder.encode('{"messages":"'),
    encoder.encode("y".repeat(4096)),
  ]);
  const response = await fetch(server.url + "/v1/chat/completions", {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${TEST_KEY}` },
    body,
  });
  assert.equal(response.status, 413);
  const error = await response.json();
  assert.equal(error.error, "request too large");
  assert.match(error.message, /MAX_BODY_BYTES/);
});

Deno.test("a body of exactly MAX_BODY_BYTES is read", async () => {
  await using server = await startServer({ MAX_BODY_BYTES: "1024", LOG_LEVEL: "error" });
  const base = JSON.stringify({ model: "nope", messages: [{ role: "user", content: "" }] });
  const body = base.replace('"content":""', `"content":"${"z".repeat(1024 - base.length)}"`);
  assert.equal(body.length, 1024);
  const response = await server.post("/v1/chat/completions", body);
  assert.equal(response.status, 400, "read and validated (the model is unknown), not 413");
  assert.equal((await response.json()).error, "unsupported model");
});

function structureError(text: string): string | undefined {
  try {
    checkStructure(text);
    return undefined;
  } catch (error) {
    assert.ok(error instanceof HttpError);
    assert.equal(error.status, 400);
    return error.message;
  }
}

Deno.test("a key repeated in one object is refused, also when spelled with escapes", () => {
  assert.match(structureError('{"a":1,"a":2}')!, /repeats the key "a"/);
  assert.match(structureError('{"a":1,"\\u0061":2}')!, /repeats the key "a"/);
  assert.match(structureError('{"m":[{"role":"user","role":"system"}]}')!, /"role"/);
});

Deno.test("the same key in different objects, and repeated string values, are fine", () => {
  assert.equal(structureError('{"a":{"a":{"a":1}},"b":["a","a"],"c":"a"}'), undefined);
  assert.equal(structureError('{"x\\"":1,"x":2,"y\\\\":"\\\\","y":3}'), undefined);
  assert.equal(structureError('{"a":[{"k":1},{"k":2}],"b":{}}'), undefined);
});

Deno.test(`nesting up to ${MAX_DEPTH} levels is fine, deeper is refused`, () => {
  const nested = (depth: number) => "[".repeat(depth) + "]".repeat(depth);
  assert.equal(structureError(`{"a":${nested(MAX_DEPTH - 1)}}`), undefined);
  assert.match(structureError(`{"a":${nested(MAX_DEPTH)}}`)!, /deeper than 64/);
  assert.match(structureError(`{"a":${nested(100_000)}}`)!, /deeper than 64/);
});
