/**
 * The neutral conversation model's helpers: building turns (same-role
 * messages merge), and reading tool calls, tool results and the kind of input
 * a conversation ends with.
 */
import assert from "node:assert/strict";
import {
  appendTurn,
  type Block,
  type Conversation,
  inputKind,
  lastTurnHasMessage,
  text,
  toolResults,
  toolUses,
  type Turn,
} from "../../src/conversation/model.ts";

const call = (id: string): Block => ({ type: "tool_use", id, name: "f", input: {} });
const result = (id: string): Block => ({ type: "tool_result", toolUseId: id, content: "r" });
const conversation = (turns: Turn[]): Conversation => ({ instructions: [], turns, tools: [] });

Deno.test("appendTurn merges blocks of the same role into the last turn", () => {
  const turns: Turn[] = [];
  appendTurn(turns, "user", [text("a")]);
  appendTurn(turns, "user", [text("b")]);
  appendTurn(turns, "assistant", [text("c")]);
  appendTurn(turns, "assistant", [call("1")]);
  appendTurn(turns, "user", [result("1")]);
  assert.deepEqual(turns, [
    { role: "user", content: [text("a"), text("b")] },
    { role: "assistant", content: [text("c"), call("1")] },
    { role: "user", content: [result("1")] },
  ]);
});

Deno.test("appendTurn adds nothing for no blocks and never shares the caller's array", () => {
  const turns: Turn[] = [];
  appendTurn(turns, "assistant", []);
  assert.deepEqual(turns, []);
  const blocks = [text("a")];
  appendTurn(turns, "user", blocks);
  appendTurn(turns, "user", [text("b")]);
  assert.deepEqual(blocks, [text("a")], "the first message's blocks are copied, not grown");
});

Deno.test("text makes a text block", () => {
  assert.deepEqual(text("hi"), { type: "text", text: "hi" });
});

Deno.test("toolUses and toolResults pick their blocks of a turn, and none of no turn", () => {
  const turn: Turn = { role: "assistant", content: [text("x"), call("1"), call("2")] };
  assert.deepEqual(toolUses(turn).map((block) => block.id), ["1", "2"]);
  assert.deepEqual(toolResults(turn), []);
  const answers: Turn = { role: "user", content: [result("1"), text("and"), result("2")] };
  assert.deepEqual(toolResults(answers).map((block) => block.toolUseId), ["1", "2"]);
  assert.deepEqual(toolUses(undefined), []);
  assert.deepEqual(toolResults(undefined), []);
});

Deno.test("inputKind says whether the last turn carries tool results", () => {
  assert.equal(inputKind(conversation([{ role: "user", content: [text("hi")] }])), "message");
  const answered = conversation([
    { role: "user", content: [text("hi")] },
    { role: "assistant", content: [call("1")] },
    { role: "user", content: [result("1")] },
  ]);
  assert.equal(inputKind(answered), "tool_results");
});

Deno.test("lastTurnHasMessage is true for words or images, false for tool results alone", () => {
  const image: Block = { type: "image", mediaType: "image/png", data: "AAAA" };
  assert.equal(lastTurnHasMessage(conversation([{ role: "user", content: [text("x")] }])), true);
  assert.equal(lastTurnHasMessage(conversation([{ role: "user", content: [image] }])), true);
  assert.equal(lastTurnHasMessage(conversation([{ role: "user", content: [result("1")] }])), false);
  assert.equal(
    lastTurnHasMessage(conversation([{ role: "user", content: [result("1"), text("more")] }])),
    true,
  );
});
