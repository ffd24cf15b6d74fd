/**
 * Session files in the CLI's transcript format: a parentUuid chain with
 * timestamps, a unique message id and a model on every assistant line,
 * client tool names as the model sees them, and an end the CLI resumes
 * cleanly (an assistant line, or the deferred-tool attachment).
 */
import assert from "node:assert/strict";
import { sessionFileText, writeSessionFile } from "../../src/claude/session_file.ts";
import { ToolNames } from "../../src/claude/tool_names.ts";
import { type Block, text, type Turn } from "../../src/conversation/model.ts";

const names = new ToolNames(["get.weather"]);
const call = (id: string): Block => ({
  type: "tool_use",
  id,
  name: "get.weather",
  input: { city: "Paris" },
});
const result = (id: string, content = "18C"): Block => ({
  type: "tool_result",
  toolUseId: id,
  content,
});

const turns: Turn[] = [
  { role: "user", content: [text("Hi"), { type: "image", mediaType: "image/png", data: "AAAA" }] },
  { role: "assistant", content: [text("Hello!")] },
  { role: "user", content: [text("Weather in Paris?")] },
  { role: "assistant", content: [call("call_1")] },
  { role: "user", content: [result("call_1")] },
  { role: "assistant", content: [text("It is 18C.")] },
];

type Line = Record<string, unknown> & {
  parentUuid: string | null;
  uuid: string;
  timestamp: string;
  type: string;
  message?: {
    id?: string;
    type?: string;
    role: string;
    model?: string;
    content: Record<string, unknown>[];
  };
  attachment?: Record<string, unknown>;
};

function parse(textValue: string): Line[] {
  assert.ok(textValue.endsWith("\n"));
  return textValue.trimEnd().split("\n").map((line) => JSON.parse(line));
}

Deno.test("each line links to the one before through parentUuid, starting from null", () => {
  const lines = parse(sessionFileText(turns, names));
  assert.equal(lines.length, turns.length);
  assert.equal(lines[0]!.parentUuid, null);
  for (const [index, line] of lines.entries()) {
    assert.match(line.uuid, /^[0-9a-f-]{36}$/);
    if (index > 0) assert.equal(line.parentUuid, lines[index - 1]!.uuid);
  }
  assert.equal(new Set(lines.map((line) => line.uuid)).size, lines.length, "uuids are unique");
});

Deno.test("every line has an ISO timestamp", () => {
  for (const line of parse(sessionFileText(turns, names))) {
    assert.equal(new Date(line.timestamp).toISOString(), line.timestamp);
  }
});

Deno.test("user and assistant lines carry the turns as API blocks, in order", () => {
  const lines = parse(sessionFileText(turns, names));
  assert.deepEqual(lines.map((line) => line.type), [
    "user",
    "assistant",
    "user",
    "assistant",
    "user",
    "assistant",
  ]);
  assert.deepEqual(lines[0]!.message, {
    role: "user",
    content: [
      { type: "text", text: "Hi" },
      { type: "image", source: { type: "base64", media_type: "image/png", data: "AAAA" } },
    ],
  });
  assert.deepEqual(lines[4]!.message!.content, [
    { tool_use_id: "call_1", type: "tool_result", content: [{ type: "text", text: "18C" }] },
  ]);
});

Deno.test("assistant lines have unique message ids, a model and the message shape", () => {
  const lines = parse(sessionFileText(turns, names)).filter((line) => line.type === "assistant");
  const ids = lines.map((line) => line.message!.id);
  assert.equal(new Set(ids).size, lines.length);
  for (const line of lines) {
    assert.equal(typeof line.message!.id, "string");
    assert.equal(typeof line.message!.model, "string");
    assert.ok(line.message!.model!.length > 0);
    assert.equal(line.message!.role, "assistant");
    assert.equal(line.message!.type, "message");
  }
  const again = parse(sessionFileText(turns, names)).filter((line) => line.type === "assistant");
  assert.notEqual(again[0]!.message!.id, lines[0]!.message!.id, "unique across files too");
});

Deno.test("client tool calls are written under their mcp__bridge__ alias", () => {
  const lines = parse(sessionFileText(turns, names));
  assert.deepEqual(lines[3]!.message!.content, [
    { type: "tool_use", id: "call_1", name: "mcp__bridge__get_weather", input: { city: "Paris" } },
  ]);
});

Deno.test("the file ends with the last assistant line", () => {
  const lines = parse(sessionFileText(turns, names));
  assert.equal(lines.at(-1)!.type, "assistant");
  assert.deepEqual(lines.at(-1)!.message!.content, [{ type: "text", text: "It is 18C." }]);
});

Deno.test("a deferred call ends the file with the hook_deferred_tool attachment", () => {
  const history = turns.slice(0, 4);
  const lines = parse(
    sessionFileText(history, names, {
      id: "call_1",
      name: "get.weather",
      input: { city: "Paris" },
    }),
  );
  assert.equal(lines.length, 5);
  const last = lines.at(-1)!;
  assert.equal(last.type, "attachment");
  assert.equal(last.parentUuid, lines[3]!.uuid);
  assert.deepEqual(last.attachment, {
    type: "hook_deferred_tool",
    toolUseID: "call_1",
    toolName: "mcp__bridge__get_weather",
    toolInput: { city: "Paris" },
    hookName: "PreToolUse",
    hookEvent: "PreToolUse",
    permissionMode: "default",
  });
});

Deno.test("parallel calls: the other results in one user line, then the deferred attachment", () => {
  const history: Turn[] = [
    { role: "user", content: [text("Two cities")] },
    { role: "assistant", content: [call("a"), call("b")] },
    { role: "user", content: [result("a", "18C")] },
  ];
  const lines = parse(
    sessionFileText(history, names, { id: "b", name: "get.weather", input: { city: "Paris" } }),
  );
  assert.deepEqual(lines.map((line) => line.type), ["user", "assistant", "user", "attachment"]);
  assert.equal(lines[3]!.attachment!.toolUseID, "b");
});

Deno.test("empty turns are left out without breaking the chain", () => {
  const lines = parse(sessionFileText([
    { role: "user", content: [text("a")] },
    { role: "assistant", content: [] },
    { role: "assistant", content: [text("b")] },
  ], names));
  assert.equal(lines.length, 2);
  assert.equal(lines[1]!.parentUuid, lines[0]!.uuid);
});

Deno.test({
  name: "a session whose last assistant turn is empty is refused, like one ending with the user",
  fn: () => {
    assert.throws(
      () =>
        sessionFileText([
          { role: "user", content: [text("hi")] },
          { role: "assistant", content: [] },
        ], names),
      /must end with an assistant turn/,
    );
  },
});

Deno.test("errors: no turns, a first turn that is not the user's, an end that is not the assistant's", () => {
  assert.throws(() => sessionFileText([], names), /must start with a user turn/);
  assert.throws(
    () => sessionFileText([{ role: "assistant", content: [text("hi")] }], names),
    /must start with a user turn/,
  );
  assert.throws(
    () => sessionFileText([{ role: "user", content: [text("hi")] }], names),
    (error: unknown) =>
      error instanceof TypeError && /must end with an assistant turn/.test(error.message),
  );
});

Deno.test("writeSessionFile writes session.jsonl, readable by its owner only", async () => {
  const dir = await Deno.makeTempDir({ prefix: "session-file-test-" });
  try {
    const path = await writeSessionFile(dir, turns, names);
    assert.equal(path, `${dir}/session.jsonl`);
    const lines = parse(await Deno.readTextFile(path));
    assert.equal(lines.length, turns.length);
    if (Deno.build.os !== "windows") {
      assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
