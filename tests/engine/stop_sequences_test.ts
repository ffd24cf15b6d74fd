import assert from "node:assert/strict";
import { cutAtStop, StopSequenceScanner } from "../../src/engine/stop_sequences.ts";

function scan(pieces: string[], stops: string[]): { sent: string[]; stopped: boolean } {
  const scanner = new StopSequenceScanner(stops);
  const sent: string[] = [];
  for (const piece of pieces) {
    const result = scanner.push(piece);
    sent.push(result.text);
    if (result.stopped) return { sent, stopped: true };
  }
  sent.push(scanner.flush());
  return { sent, stopped: false };
}

Deno.test("text is cut before a stop sequence inside one piece", () => {
  assert.deepEqual(scan(["Hello END world"], ["END"]), { sent: ["Hello "], stopped: true });
});

Deno.test("a stop sequence split across pieces is found and never leaks", () => {
  const { sent, stopped } = scan(["one two E", "N", "D three"], ["END"]);
  assert.equal(stopped, true);
  assert.equal(sent.join(""), "one two ");
  assert.ok(!sent.join("").includes("E"));
});

Deno.test("a held-back prefix is released once it cannot start a stop sequence", () => {
  const { sent, stopped } = scan(["abc E", "Nx", "y"], ["END"]);
  assert.equal(stopped, false);
  assert.deepEqual(sent, ["abc ", "ENx", "y", ""]);
});

Deno.test("the earliest of several stop sequences wins", () => {
  assert.deepEqual(cutAtStop("a\n\nb###c", ["###", "\n\n"]), { text: "a", stopped: true });
});

Deno.test("without stop sequences everything passes through at once", () => {
  assert.deepEqual(scan(["a", "b"], []), { sent: ["a", "b", ""], stopped: false });
  assert.deepEqual(cutAtStop("text", [""]), { text: "text", stopped: false });
});

Deno.test("the tail at the end of the text is flushed when no stop follows", () => {
  assert.deepEqual(cutAtStop("ends with EN", ["END"]), { text: "ends with EN", stopped: false });
});
