/**
 * TextLineStream: line ends (LF, CRLF, lone CR), lines split across chunks,
 * the maximum line length that drops a line instead of buffering it, and the
 * onLine/onCancel hooks.
 */
import assert from "node:assert/strict";
import { TextLineStream, type TextLineStreamOptions } from "../../src/streams/text_line_stream.ts";

async function lines(chunks: string[], options?: TextLineStreamOptions): Promise<string[]> {
  return await Array.fromAsync(
    ReadableStream.from(chunks).pipeThrough(new TextLineStream(options)),
  );
}

Deno.test("LF and CRLF end lines, and the line ends are removed", async () => {
  assert.deepEqual(await lines(["a\nb\r\nc\n"]), ["a", "b", "c"]);
});

Deno.test("a last line without a line end is still emitted; a final line end adds no empty line", async () => {
  assert.deepEqual(await lines(["a\nb"]), ["a", "b"]);
  assert.deepEqual(await lines(["a\n"]), ["a"]);
  assert.deepEqual(await lines([]), []);
  assert.deepEqual(await lines(["\n\n"]), ["", ""]);
});

Deno.test("lines split across chunks are joined, including a CRLF split between chunks", async () => {
  assert.deepEqual(await lines(["he", "llo\nwor", "ld\r", "\nend"]), ["hello", "world", "end"]);
  assert.deepEqual(await lines(["a\r", "", "\nb\n"]), ["a", "b"]);
});

Deno.test("a lone CR is part of the line unless allowCR is set", async () => {
  assert.deepEqual(await lines(["a\rb\nc\r", "d\n"]), ["a\rb", "c\rd"]);
  assert.deepEqual(await lines(["x\r"]), ["x\r"]);
});

Deno.test("with allowCR a lone CR ends a line, also at a chunk end and at the stream end", async () => {
  assert.deepEqual(await lines(["a\rb\r\nc\r", "d\r"], { allowCR: true }), ["a", "b", "c", "d"]);
  assert.deepEqual(await lines(["a\r", "\r", "b"], { allowCR: true }), ["a", "", "b"]);
});

Deno.test("any chunking gives the same lines as one chunk", async () => {
  const text = "first\r\nsecond\rstill second\n\nlast\r\n\r\nx\ry";
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (const allowCR of [false, true]) {
    const whole = await lines([text], { allowCR });
    for (let round = 0; round < 200; round++) {
      const chunks: string[] = [];
      for (let at = 0; at < text.length;) {
        const size = Math.floor(random() * 5);
        chunks.push(text.slice(at, at + size));
        at += size;
      }
      assert.deepEqual(await lines(chunks, { allowCR }), whole, JSON.stringify(chunks));
    }
  }
});

Deno.test("a line over maxLength is dropped and reported with its length; its neighbours survive", async () => {
  const dropped: number[] = [];
  const out = await lines(["ok\n", "x".repeat(6), "x".repeat(6), "\r\n", "12345\r\n", "abcdef"], {
    maxLength: 5,
    onDrop: (length) => dropped.push(length),
  });
  assert.deepEqual(out, ["ok", "12345"]);
  assert.deepEqual(dropped, [12, 6]);
});

Deno.test("a line of exactly maxLength is kept, whatever its line end", async () => {
  const out = await lines(["abc\r", "\nabc\nabc"], { maxLength: 3 });
  assert.deepEqual(out, ["abc", "abc", "abc"]);
});

Deno.test("a 64 MiB line fed in many chunks is dropped and the next line still comes through", async () => {
  const huge = "y".repeat(1 << 20);
  let dropped = 0;
  const stream = new TextLineStream({ maxLength: 1024, onDrop: (length) => dropped = length });
  const writer = stream.writable.getWriter();
  const reader = stream.readable.getReader();
  for (let i = 0; i < 64; i++) void writer.write(huge);
  void writer.write("\nafter\n");
  void writer.close();
  assert.deepEqual(await reader.read(), { done: false, value: "after" });
  assert.equal(dropped, 64 << 20);
});

Deno.test("onLine sees each emitted line before its reader, and never a dropped one", async () => {
  const seen: string[] = [];
  const stream = new TextLineStream({ maxLength: 3, onLine: (line) => seen.push(line) });
  const reader = stream.readable.getReader();
  const writer = stream.writable.getWriter();
  void writer.write("a\nlong\nb");
  void writer.close();
  assert.deepEqual(await reader.read(), { done: false, value: "a" });
  assert.deepEqual(seen, ["a"]);
  assert.deepEqual(await reader.read(), { done: false, value: "b" });
  assert.deepEqual(seen, ["a", "b"]);
  assert.equal((await reader.read()).done, true);
});

Deno.test("onCancel hears a reader's cancel, with its reason, and the source is cancelled", async () => {
  let heard: unknown;
  let sourceCancelled: unknown;
  const source = new ReadableStream<string>({
    pull: (controller) => controller.enqueue("line\n"),
    cancel: (reason) => void (sourceCancelled = reason),
  });
  const reader = source.pipeThrough(new TextLineStream({ onCancel: (reason) => heard = reason }))
    .getReader();
  assert.deepEqual(await reader.read(), { done: false, value: "line" });
  await reader.cancel("client gone");
  assert.equal(heard, "client gone");
  for (let i = 0; i < 10 && sourceCancelled === undefined; i++) {
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  assert.equal(sourceCancelled, "client gone");
});
