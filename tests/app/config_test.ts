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

Deno.test("HEADER_TIMEOUT_MS defaults to 30 s and must be at least 100 ms", () => {
  assert.equal(loadConfig({ API_KEYS: "k" }).headerTimeoutMs, 30_000);
  assert.equal(loadConfig({ API_KEYS: "k", HEADER_TIMEOUT_MS: "500" }).headerTimeoutMs, 500);
  assert.throws(() => loadConfig({ API_KEYS: "k", HEADER_TIMEOUT_MS: "5" }), /HEADER_TIMEOUT_MS/);
});

Deno.test("API_KEYS_FILE: keys one per line or comma-separated; blank lines and # comments ignored", async () => {
  const file = await Deno.makeTempFile();
  try {
    await Deno.writeTextFile(
      file,
      "# bridge keys\n\nkey-one\r\n  key-two , key-three\n  # old-key\n",
    );
    const config = loadConfig({ API_KEYS_FILE: file });
    assert.deepEqual(config.apiKeys, ["key-one", "key-two", "key-three"]);
    assert.equal(config.generatedKey, false);
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("API_KEYS_FILE: with API_KEYS, missing, empty or malformed it stops the start naming the variable, never a key", async () => {
  const file = await Deno.makeTempFile();
  try {
    assert.throws(
      () => loadConfig({ API_KEYS_FILE: file, API_KEYS: "k" }),
      /^\s+API_KEYS_FILE: API_KEYS is set too; set one of them, not both$/m,
    );
    assert.throws(() => loadConfig({ API_KEYS_FILE: file }), /API_KEYS_FILE: .*holds no keys/);
    await Deno.writeTextFile(file, "good-key\nsecret-half other-half\n");
    assert.throws(() => loadConfig({ API_KEYS_FILE: file }), (error: Error) => {
      assert.match(error.message, /API_KEYS_FILE: line 2 of .* holds a key with whitespace/);
      assert.ok(!error.message.includes("secret-half"), "the key is not echoed");
      return true;
    });
    assert.throws(
      () => loadConfig({ API_KEYS_FILE: `${file}.missing` }),
      /API_KEYS_FILE: .*does not exist/,
    );
  } finally {
    await Deno.remove(file);
  }
});
