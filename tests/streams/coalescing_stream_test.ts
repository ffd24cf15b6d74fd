import assert from "node:assert/strict";
import { CoalescingStream } from "../../src/streams/coalescing_stream.ts";

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (chunk: Uint8Array) => new TextDecoder().decode(chunk);

Deno.test("chunks written while nobody reads come out joined, in order", async () => {
  const stream = new CoalescingStream();
  const writer = stream.writable.getWriter();
  for (const part of ["a", "bc", "", "def"]) await writer.write(bytes(part));
  const reader = stream.readable.getReader();
  const { value } = await reader.read();
  assert.equal(text(value!), "abcdef");
  await writer.close();
  assert.equal((await reader.read()).done, true);
});

Deno.test("a chunk written while the reader waits is delivered without more writes", async () => {
  const stream = new CoalescingStream();
  const reader = stream.readable.getReader();
  const pending = reader.read();
  const writer = stream.writable.getWriter();
  await writer.write(bytes("first"));
  assert.equal(text((await pending).value!), "first");
  const next = reader.read();
  await writer.write(bytes("second"));
  assert.equal(text((await next).value!), "second");
  await writer.close();
  assert.equal((await reader.read()).done, true);
});

Deno.test("a piped stream arrives whole, however it was split", async () => {
  const parts = Array.from({ length: 500 }, (_, i) => `data: ${i}\n\n`);
  const source = ReadableStream.from(parts.map(bytes));
  const body = await new Response(source.pipeThrough(new CoalescingStream(256))).text();
  assert.equal(body, parts.join(""));
});

Deno.test("cancelling the reader cancels the source", async () => {
  let cancelled: unknown;
  const source = new ReadableStream<Uint8Array>({
    pull: (controller) => controller.enqueue(bytes("x")),
    cancel: (reason) => void (cancelled = reason),
  }, { highWaterMark: 0 });
  const reader = source.pipeThrough(new CoalescingStream(16)).getReader();
  await reader.read();
  await reader.cancel("client gone");
  await Promise.resolve();
  for (let i = 0; i < 10 && cancelled === undefined; i++) {
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  assert.equal(cancelled, "client gone");
});

Deno.test("an aborted writer errors the reader", async () => {
  const stream = new CoalescingStream();
  const reader = stream.readable.getReader();
  await stream.writable.abort(new Error("upstream failed"));
  await assert.rejects(reader.read(), /upstream failed/);
});
