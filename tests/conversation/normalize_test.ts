/**
 * normalizeConversation: same-role messages merge, a conversation that does
 * not start with the user gets the opening line, and every malformed
 * tool-call pairing (or a conversation ending with the assistant) is a 400
 * that says what is wrong.
 */
import assert from "node:assert/strict";
import { HttpError } from "../../src/http/http_error.ts";
import {
  type Block,
  type Conversation,
  OPENING_LINE,
  text,
  type Turn,
} from "../../src/conversation/model.ts";
import { normalizeConversation } from "../../src/conversation/normalize.ts";

const call = (id: string, name = "lookup"): Block => ({ type: "tool_use", id, name, input: {} });
const result = (id: string): Block => ({ type: "tool_result", toolUseId: id, content: "ok" });
const user = (...content: Block[]): Turn => ({ role: "user", content });
const assistant = (...content: Block[]): Turn => ({ role: "assistant", content });
const of = (turns: Turn[]): Conversation => ({ instructions: ["be brief"], turns, tools: [] });

function rejects(turns: Turn[], message: RegExp): void {
  assert.throws(() => normalizeConversation(of(turns)), (error: unknown) => {
    assert.ok(error instanceof HttpError);
    assert.equal(error.status, 400);
    assert.equal(error.code, "invalid request");
    assert.match(error.message, message);
    return true;
  });
}

Deno.test("consecutive turns of one role merge into one, in order", () => {
  const normalized = normalizeConversation(of([
    user(text("a")),
    user(text("b")),
    assistant(text("c")),
    assistant(text("d")),
    user(text("e")),
  ]));
  assert.deepEqual(normalized.turns, [
    user(text("a"), text("b")),
    assistant(text("c"), text("d")),
    user(text("e")),
  ]);
  assert.deepEqual(normalized.instructions, ["be brief"]);
});

Deno.test("the caller's turns are left as they were", () => {
  const turns = [user(text("a")), user(text("b"))];
  normalizeConversation(of(turns));
  assert.deepEqual(turns, [user(text("a")), user(text("b"))]);
});

Deno.test("a conversation starting with the assistant gets the opening line in front", () => {
  const normalized = normalizeConversation(of([assistant(text("Hello!")), user(text("hi"))]));
  assert.deepEqual(normalized.turns, [
    user(text(OPENING_LINE)),
    assistant(text("Hello!")),
    user(text("hi")),
  ]);
});

Deno.test("a conversation of instructions only becomes the opening line", () => {
  assert.deepEqual(normalizeConversation(of([])).turns, [user(text(OPENING_LINE))]);
  assert.deepEqual(normalizeConversation(of([user()])).turns, [user(text(OPENING_LINE))]);
});

Deno.test("a conversation that already starts with the user gets no opening line", () => {
  assert.deepEqual(normalizeConversation(of([user(text("hi"))])).turns, [user(text("hi"))]);
});

Deno.test("400: a conversation ending with the assistant", () => {
  rejects([user(text("hi")), assistant(text("hello"))], /ends with an assistant message/);
});

Deno.test("400: a tool call with no result in the next turn", () => {
  rejects(
    [user(text("hi")), assistant(call("call_1", "weather")), user(text("well?"))],
    /tool call "call_1" \(weather\) has no tool result/,
  );
});

Deno.test("400: one of two parallel calls left unanswered names that call", () => {
  rejects(
    [user(text("hi")), assistant(call("a"), call("b")), user(result("a"))],
    /tool call "b" \(lookup\) has no tool result/,
  );
});

Deno.test("400: a tool result that answers no call of the assistant turn before it", () => {
  rejects([user(text("hi")), assistant(text("x")), user(result("ghost"))], /answers "ghost"/);
  rejects([user(result("first"))], /answers "first"/);
});

Deno.test("400: a tool result answering a call of an earlier turn, not the one before", () => {
  rejects(
    [
      user(text("hi")),
      assistant(call("a")),
      user(result("a")),
      assistant(text("done")),
      user(result("a")),
    ],
    /answers "a", which is not a tool call of the assistant message just before it/,
  );
});

Deno.test("400: the same tool call id twice", () => {
  rejects(
    [
      user(text("hi")),
      assistant(call("dup")),
      user(result("dup")),
      assistant(call("dup")),
      user(result("dup")),
    ],
    /"dup" appears twice/,
  );
});

Deno.test("long ids are clipped in error messages", () => {
  const id = "x".repeat(500);
  rejects([user(result(id))], new RegExp(`"${"x".repeat(80)}…"`));
});

Deno.test("calls answered in the next turn, with extra user text, are accepted", () => {
  const turns = [user(text("hi")), assistant(call("a"), call("b")), user(result("b"), result("a"))];
  const normalized = normalizeConversation(of([...turns, user(text("thanks"))]));
  assert.deepEqual(normalized.turns.at(-1), user(result("b"), result("a"), text("thanks")));
});
