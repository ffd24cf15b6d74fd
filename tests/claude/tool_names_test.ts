/**
 * ToolNames: each client tool name gets an alias the model can see as
 * `mcp__bridge__<alias>` (allowed characters only, at most 64 characters with
 * the prefix, unique), and every alias maps back to exactly the name the
 * client sent.
 */
import assert from "node:assert/strict";
import { MAX_ALIAS, MCP_PREFIX, MCP_SERVER, ToolNames } from "../../src/claude/tool_names.ts";

const SAFE = /^[A-Za-z0-9_-]+$/;

/** Checks the invariants for every name: safe, short, unique aliases that map back exactly. */
function checkAll(names: string[]): ToolNames {
  const map = new ToolNames(names);
  const aliases = new Set<string>();
  for (const name of names) {
    const alias = map.alias(name);
    assert.match(alias, SAFE, name);
    assert.ok(alias.length <= MAX_ALIAS, `${alias} is ${alias.length} characters`);
    assert.ok(map.apiName(name).length <= 64);
    assert.equal(map.apiName(name), MCP_PREFIX + alias);
    assert.equal(map.clientName(alias), name, "an alias maps back");
    assert.equal(map.clientName(map.apiName(name)), name, "an API name maps back");
    assert.equal(map.isClientTool(map.apiName(name)), true);
    aliases.add(alias);
  }
  assert.equal(aliases.size, names.length, "aliases are unique");
  return map;
}

Deno.test("the prefix is mcp__bridge__ and leaves 51 characters for an alias", () => {
  assert.equal(MCP_SERVER, "bridge");
  assert.equal(MCP_PREFIX, "mcp__bridge__");
  assert.equal(MAX_ALIAS, 51);
  assert.equal(MCP_PREFIX.length + MAX_ALIAS, 64);
});

Deno.test("names that already fit are kept as they are", () => {
  const names = ["get_weather", "Read", "search-web", "x".repeat(51), "A1_b-2"];
  const map = checkAll(names);
  for (const name of names) assert.equal(map.alias(name), name);
  assert.equal(map.apiName("get_weather"), "mcp__bridge__get_weather");
});

Deno.test("other characters become underscores", () => {
  const map = checkAll(["get-stock.price", "über wetter", "a/b:c"]);
  assert.equal(map.alias("get-stock.price"), "get-stock_price");
  assert.equal(map.alias("a/b:c"), "a_b_c");
  assert.match(map.alias("über wetter"), /^_ber_wetter$/);
});

Deno.test("a rewritten name that collides with a real one gets a hashed suffix", () => {
  const map = checkAll(["a.b", "a_b"]);
  assert.equal(map.alias("a_b"), "a_b", "the name that fits keeps its alias, whatever the order");
  assert.match(map.alias("a.b"), /^a_b_[0-9a-z]+$/);
  const reversed = checkAll(["a_b", "a.b"]);
  assert.equal(reversed.alias("a.b"), map.alias("a.b"), "the suffix is stable");
});

Deno.test("two rewritten names that collide with each other both stay distinct", () => {
  const map = checkAll(["a.b", "a b", "a:b"]);
  assert.equal(map.alias("a.b"), "a_b", "the first takes the plain rewrite");
  assert.notEqual(map.alias("a b"), map.alias("a:b"));
});

Deno.test("a long name is cut to fit and suffixed with a hash of the whole name", () => {
  const long = "a".repeat(52);
  const map = checkAll([long]);
  const alias = map.alias(long);
  assert.equal(alias.length <= MAX_ALIAS, true);
  assert.match(alias, /^a+_[0-9a-z]+$/);
  assert.ok(alias.startsWith("a".repeat(40)));
});

Deno.test("long names sharing a prefix get different aliases", () => {
  const stem = "fetch_the_quarterly_financial_report_for_the_region_";
  const names = [`${stem}europe`, `${stem}asia`, `${stem}americas`, `${stem}x.y`];
  checkAll(names);
});

Deno.test("many awkward names at once keep every invariant", () => {
  const names = [
    "get_weather",
    "get.weather",
    "get weather",
    "get/weather",
    "x".repeat(100),
    "x".repeat(101),
    "x".repeat(51),
    "y".repeat(200) + ".z",
    "日本",
    "中文",
    "-",
    "_",
  ];
  checkAll(names);
});

Deno.test("unknown names: no client name for them, and not client tools", () => {
  const map = new ToolNames(["get_weather"]);
  assert.equal(map.clientName("Read"), undefined);
  assert.equal(map.clientName("mcp__bridge__other"), undefined);
  assert.equal(map.isClientTool("get_weather"), false, "a bare alias is not an API name");
  assert.equal(map.isClientTool("mcp__other__get_weather"), false);
  assert.equal(map.isClientTool("Read"), false);
  assert.equal(map.alias("not.offered"), "not_offered", "unknown names are still made safe");
});

Deno.test("no tools: nothing is a client tool", () => {
  const map = new ToolNames([]);
  assert.equal(map.isClientTool("mcp__bridge__x"), false);
  assert.equal(map.clientName("x"), undefined);
});
