import assert from "node:assert/strict";
import { loadConfig } from "../../src/config.ts";

Deno.test("defaults: 127.0.0.1:8000, the three models, sonnet, the seed's agent split", () => {
  const config = loadConfig({ API_KEYS: "k" });
  assert.equal(config.host, "127.0.0.1");
  assert.equal(config.port, 8000);
  assert.deepEqual(config.models, ["haiku", "sonnet", "opus"]);
  assert.equal(config.defaultModel, "sonnet");
  assert.equal(config.claudeBin, "claude");
  assert.equal(config.streamAgent, "conversational");
  assert.equal(config.completionAgent, "workspace");
  assert.equal(config.generatedKey, false);
});

Deno.test("API_KEYS is a trimmed comma-separated list", () => {
  assert.deepEqual(loadConfig({ API_KEYS: " a, b ,,c " }).apiKeys, ["a", "b", "c"]);
});

Deno.test("without API_KEYS one random key is generated, never an open server", () => {
  const first = loadConfig({});
  const second = loadConfig({ API_KEYS: "  " });
  assert.equal(first.generatedKey, true);
  assert.equal(first.apiKeys.length, 1);
  assert.match(first.apiKeys[0]!, /^sk-bridge-[0-9a-f]{48}$/);
  assert.notEqual(first.apiKeys[0], second.apiKeys[0]);
});

Deno.test("a bad value stops the start with a message naming the variable", () => {
  assert.throws(() => loadConfig({ PORT: "eighty" }), /PORT/);
  assert.throws(() => loadConfig({ PORT: "70000" }), /PORT/);
  assert.throws(
    () => loadConfig({ MODELS: "haiku", DEFAULT_MODEL: "opus" }),
    /DEFAULT_MODEL.*not in MODELS/,
  );
  assert.throws(() => loadConfig({ MODELS: "bad model" }), /MODELS/);
});
