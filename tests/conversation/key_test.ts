/**
 * conversationKey: the same conversation sent again in a slightly different
 * form (trimmed text, text split into parts, argument keys reordered) keys
 * the same; any real change keys differently.
 */
import assert from "node:assert/strict";
import { canonicalJson, conversationKey } from "../../src/conversation/key.ts";
import { type Block, text, type Turn } from "../../src/conversation/model.ts";

const setup = { agent: "conversational", model: "sonnet", system: "Be brief.", tools: [] };
const call = (input: unknown, id = "call_1", name = "weather"): Block => ({
  type: "tool_use",
  id,
  name,
  input,
});
const result = (content: string, isError?: boolean): Block => ({
  type: "tool_result",
  toolUseId: "call_1",
  content,
  ...(isError === undefined ? {} : { isError }),
});
const image = (data: string, mediaType = "image/png"): Block => ({
  type: "image",
  mediaType,
  data,
});

const base: Turn[] = [
  { role: "user", content: [text("What is the weather?"), image("AAAA")] },
  { role: "assistant", content: [text("Let me look."), call({ city: "Paris", unit: "C" })] },
  { role: "user", content: [result("18 degrees")] },
  { role: "assistant", content: [text("It is 18 degrees.")] },
];

/** `base` with turn `index` replaced. */
function edit(index: number, content: Block[], role = base[index]!.role): Turn[] {
  return base.map((turn, at) => at === index ? { role, content } : turn);
}

const key = (turns: Turn[], withSetup: unknown = setup) => conversationKey(withSetup, turns);

Deno.test("canonicalJson sorts object keys at every depth and keeps array order", () => {
  assert.equal(
    canonicalJson({ b: 1, a: { d: [2, 1], c: null } }),
    '{"a":{"c":null,"d":[2,1]},"b":1}',
  );
  assert.equal(canonicalJson([{ y: 1, x: 2 }]), '[{"x":2,"y":1}]');
});

Deno.test("the key is computed at once (no promise), exact, and stable across calls", async () => {
  const first = await key(base);
  assert.equal(typeof first, "string");
  assert.ok(
    first.includes("It is 18 degrees."),
    "the key is the canonical form itself: no collisions",
  );
  assert.equal(await key(structuredClone(base)), first);
});

Deno.test("keys are equal when text differs only in surrounding whitespace", async () => {
  const trimmed = edit(3, [text("  It is 18 degrees.\n")]);
  assert.equal(await key(trimmed), await key(base));
  const result = edit(2, [{ type: "tool_result", toolUseId: "call_1", content: "18 degrees\n" }]);
  assert.equal(await key(result), await key(base));
});

Deno.test("keys are equal when a text is split into parts joined by a line break", async () => {
  const whole = edit(3, [text("It is\n18 degrees.")]);
  const split = edit(3, [text("It is"), text("18 degrees.")]);
  assert.equal(await key(split), await key(whole));
});

Deno.test("keys are equal whatever empty text blocks ride along", async () => {
  assert.equal(
    await key(edit(3, [text(""), text("It is 18 degrees."), text(" ")])),
    await key(base),
  );
});

Deno.test("keys are equal when tool arguments or the setup list keys in another order", async () => {
  const reordered = edit(1, [text("Let me look."), call({ unit: "C", city: "Paris" })]);
  assert.equal(await key(reordered), await key(base));
  const setupReordered = {
    tools: [],
    system: "Be brief.",
    model: "sonnet",
    agent: "conversational",
  };
  assert.equal(await key(base, setupReordered), await key(base));
});

Deno.test("isError false and absent key the same", async () => {
  assert.equal(await key(edit(2, [result("18 degrees", false)])), await key(base));
});

Deno.test("any real change gives another key", async () => {
  const original = await key(base);
  const variants: [string, Turn[], unknown?][] = [
    ["text", edit(3, [text("It is 19 degrees.")])],
    ["text inside", edit(3, [text("It is  18 degrees.")])],
    ["role", edit(3, [text("It is 18 degrees.")], "user")],
    ["a turn more", [...base, { role: "user", content: [text("thanks")] }]],
    ["a turn less", base.slice(0, 3)],
    ["argument value", edit(1, [text("Let me look."), call({ city: "Lyon", unit: "C" })])],
    ["call id", edit(1, [text("Let me look."), call({ city: "Paris", unit: "C" }, "call_2")])],
    [
      "tool name",
      edit(1, [text("Let me look."), call({ city: "Paris", unit: "C" }, "call_1", "w")]),
    ],
    ["result", edit(2, [result("19 degrees")])],
    ["result error", edit(2, [result("18 degrees", true)])],
    ["image data", edit(0, [text("What is the weather?"), image("BBBB")])],
    ["image type", edit(0, [text("What is the weather?"), image("AAAA", "image/jpeg")])],
    ["block order", edit(0, [image("AAAA"), text("What is the weather?")])],
    ["setup", base, { ...setup, system: "Be long." }],
  ];
  const keys = new Set([original]);
  for (const [what, turns, otherSetup] of variants) {
    const changed = await key(turns, otherSetup ?? setup);
    assert.notEqual(changed, original, what);
    keys.add(changed);
  }
  assert.equal(keys.size, variants.length + 1, "every variant keys differently from the others");
});

Deno.test("text split around a tool call does not join across it", async () => {
  const around = edit(1, [text("Let"), call({ city: "Paris", unit: "C" }), text("me look.")]);
  const joined = edit(1, [text("Let\nme look."), call({ city: "Paris", unit: "C" })]);
  assert.notEqual(await key(around), await key(joined));
});
