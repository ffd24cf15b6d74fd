/** The responses store: count and age bounds, the off switch, item lookup. */
import assert from "node:assert/strict";
import { ResponsesStore } from "../../src/openai/responses_store.ts";

function clocked(maxEntries: number, ttlMs: number) {
  const clock = { now: 1000 };
  const store = new ResponsesStore({ maxEntries, ttlMs, now: () => clock.now });
  return { store, clock };
}

Deno.test("a stored response's items come back by id; unknown ids are undefined", () => {
  const { store } = clocked(10, 1000);
  const items = [{ type: "message", role: "user", content: "hi" }];
  store.put("resp_1", items);
  assert.equal(store.get("resp_1"), items);
  assert.equal(store.get("resp_2"), undefined);
  assert.equal(store.enabled, true);
});

Deno.test("past maxEntries the oldest response goes first", () => {
  const { store } = clocked(2, 1000);
  store.put("a", []);
  store.put("b", []);
  store.put("c", []);
  assert.equal(store.size, 2);
  assert.equal(store.get("a"), undefined);
  assert.ok(store.get("b") && store.get("c"));
});

Deno.test("a response older than ttlMs is gone, and expired ones are swept on the next write", () => {
  const { store, clock } = clocked(10, 1000);
  store.put("a", [{ id: "msg_a" }]);
  clock.now += 500;
  store.put("b", []);
  clock.now += 600;
  assert.equal(store.get("a"), undefined, "1100 ms old");
  assert.equal(store.findItem("msg_a"), undefined);
  assert.ok(store.get("b"), "600 ms old");
  clock.now += 500;
  store.put("c", []);
  assert.equal(store.size, 1, "b expired and was swept");
});

Deno.test("maxEntries 0 turns the store off: nothing is kept", () => {
  const { store } = clocked(0, 1000);
  store.put("a", []);
  assert.equal(store.enabled, false);
  assert.equal(store.size, 0);
  assert.equal(store.get("a"), undefined);
});

Deno.test("findItem finds an item of a stored response by its id, newest response first", () => {
  const { store } = clocked(10, 1000);
  const older = { id: "msg_1", type: "message", text: "old" };
  const newer = { id: "msg_1", type: "message", text: "new" };
  store.put("a", [older, { type: "message" }]);
  store.put("b", [newer, { id: "fc_1", type: "function_call" }]);
  assert.equal(store.findItem("msg_1"), newer);
  assert.equal(store.findItem("fc_1")?.type, "function_call");
  assert.equal(store.findItem("nope"), undefined);
});
