/**
 * The bridge's stdin lines to the CLI: each builder's exact JSON (one line,
 * newline-terminated), per-turn settings where unset means null (back to the
 * CLI's default), and content blocks in the Messages API's shape.
 */
import assert from "node:assert/strict";
import {
  apiBlock,
  controlError,
  controlRequest,
  controlSuccess,
  DEFAULT_TURN_SETTINGS,
  GUARD_HOOK,
  initializeRequest,
  mcpToolResult,
  settingsRequests,
  userMessage,
  versionRequest,
} from "../../src/claude/control.ts";
import { ToolNames } from "../../src/claude/tool_names.ts";
import type { Block } from "../../src/conversation/model.ts";

const names = new ToolNames(["get.weather", "lookup"]);

/** Splits builder output into parsed lines, checking each is one newline-terminated JSON line. */
function lines(text: string): unknown[] {
  assert.ok(text.endsWith("\n"), "ends with a newline");
  const parts = text.slice(0, -1).split("\n");
  return parts.map((part) => JSON.parse(part));
}

Deno.test("controlRequest, controlSuccess and controlError are the protocol's exact lines", () => {
  assert.equal(
    controlRequest("r1", { subtype: "interrupt" }),
    '{"type":"control_request","request_id":"r1","request":{"subtype":"interrupt"}}\n',
  );
  assert.equal(
    controlSuccess("r2", { mcp_response: { jsonrpc: "2.0", id: 1, result: {} } }),
    '{"type":"control_response","response":{"subtype":"success","request_id":"r2",' +
      '"response":{"mcp_response":{"jsonrpc":"2.0","id":1,"result":{}}}}}\n',
  );
  assert.equal(
    controlError("r3", "unsupported request x"),
    '{"type":"control_response","response":{"subtype":"error","request_id":"r3",' +
      '"error":"unsupported request x"}}\n',
  );
});

Deno.test("versionRequest is the get_binary_version probe", () => {
  assert.equal(
    versionRequest("bridge-1"),
    '{"type":"control_request","request_id":"bridge-1","request":{"subtype":"get_binary_version"}}\n',
  );
});

Deno.test("initialize with everything: system prompt, schema, sdk MCP server, guard hook", () => {
  const schema = { type: "object", properties: { a: { type: "string" } } };
  assert.deepEqual(
    lines(initializeRequest("i", {
      systemPrompt: "Be brief.\n\nUse tools.",
      jsonSchema: schema,
      clientTools: true,
      guard: true,
    })),
    [{
      type: "control_request",
      request_id: "i",
      request: {
        subtype: "initialize",
        systemPrompt: "Be brief.\n\nUse tools.",
        jsonSchema: schema,
        sdkMcpServers: ["bridge"],
        hooks: { PreToolUse: [{ matcher: "*", hookCallbackIds: [GUARD_HOOK] }] },
      },
    }],
  );
  assert.equal(GUARD_HOOK, "guard");
});

Deno.test("initialize with nothing set carries only its subtype", () => {
  assert.equal(
    initializeRequest("i", { clientTools: false, guard: false }),
    '{"type":"control_request","request_id":"i","request":{"subtype":"initialize"}}\n',
  );
});

Deno.test("settings: unset values are null, so the CLI goes back to its defaults", () => {
  const [flags, thinking] = lines(settingsRequests(["a", "b"], { thinking: true }));
  assert.deepEqual(flags, {
    type: "control_request",
    request_id: "a",
    request: {
      subtype: "apply_flag_settings",
      settings: {
        env: { CLAUDE_CODE_MAX_OUTPUT_TOKENS: null, CLAUDE_CODE_EXTRA_BODY: null },
        effortLevel: null,
      },
    },
  });
  assert.deepEqual(thinking, {
    type: "control_request",
    request_id: "b",
    request: { subtype: "set_max_thinking_tokens", max_thinking_tokens: null },
  });
});

Deno.test("settings: values are strings in env, the extra body JSON text, thinking off is 0", () => {
  const extraBody = { tool_choice: { type: "tool", name: "mcp__bridge__lookup" } };
  const text = settingsRequests(["a", "b"], {
    maxOutputTokens: 512,
    extraBody,
    effort: "low",
    thinking: false,
  });
  assert.equal(
    text,
    '{"type":"control_request","request_id":"a","request":{"subtype":"apply_flag_settings",' +
      '"settings":{"env":{"CLAUDE_CODE_MAX_OUTPUT_TOKENS":"512","CLAUDE_CODE_EXTRA_BODY":' +
      JSON.stringify(JSON.stringify(extraBody)) + '},"effortLevel":"low"}}}\n' +
      '{"type":"control_request","request_id":"b","request":{"subtype":"set_max_thinking_tokens",' +
      '"max_thinking_tokens":0}}\n',
  );
});

Deno.test("settings: against the current settings, only the request whose part changed is written", () => {
  const subtypes = (text: string) =>
    lines(text).map((line) => (line as { request: { subtype: string } }).request.subtype);
  const limited = { thinking: true, maxOutputTokens: 100 };
  assert.deepEqual(subtypes(settingsRequests(["a", "b"], limited, DEFAULT_TURN_SETTINGS)), [
    "apply_flag_settings",
  ]);
  assert.deepEqual(subtypes(settingsRequests(["a", "b"], { thinking: false }, limited)), [
    "apply_flag_settings",
    "set_max_thinking_tokens",
  ]);
  assert.deepEqual(
    subtypes(settingsRequests(["a", "b"], { ...limited, thinking: false }, limited)),
    ["set_max_thinking_tokens"],
  );
  const body = { thinking: true, extraBody: { tool_choice: { type: "any" } } };
  assert.equal(settingsRequests(["a", "b"], structuredClone(body), body), "");
  assert.deepEqual(
    subtypes(settingsRequests(["a", "b"], { ...body, extraBody: { temperature: 0 } }, body)),
    ["apply_flag_settings"],
  );
});

Deno.test("apiBlock: text and images in the Messages API's shape", () => {
  assert.deepEqual(apiBlock({ type: "text", text: "hi" }, names), { type: "text", text: "hi" });
  assert.deepEqual(apiBlock({ type: "image", mediaType: "image/png", data: "AAAA" }, names), {
    type: "image",
    source: { type: "base64", media_type: "image/png", data: "AAAA" },
  });
});

Deno.test("apiBlock: a tool call under the name the model sees", () => {
  const block: Block = { type: "tool_use", id: "call_1", name: "get.weather", input: { c: 1 } };
  assert.deepEqual(apiBlock(block, names), {
    type: "tool_use",
    id: "call_1",
    name: "mcp__bridge__get_weather",
    input: { c: 1 },
  });
});

Deno.test("apiBlock: a tool result in the CLI's own key order, is_error only when true", () => {
  const ok = apiBlock({ type: "tool_result", toolUseId: "call_1", content: "18C" }, names);
  assert.equal(
    JSON.stringify(ok),
    '{"tool_use_id":"call_1","type":"tool_result","content":[{"type":"text","text":"18C"}]}',
  );
  const notError = apiBlock(
    { type: "tool_result", toolUseId: "c", content: "x", isError: false },
    names,
  );
  assert.equal("is_error" in notError, false);
  const failed = apiBlock(
    { type: "tool_result", toolUseId: "c", content: "boom", isError: true },
    names,
  );
  assert.equal(
    JSON.stringify(failed),
    '{"tool_use_id":"c","type":"tool_result","content":[{"type":"text","text":"boom"}],"is_error":true}',
  );
});

Deno.test("userMessage is one user line with the blocks in API shape", () => {
  const line = userMessage([
    { type: "text", text: "line one\nline two" },
    { type: "tool_result", toolUseId: "c", content: "r" },
  ], names);
  assert.equal(line.indexOf("\n"), line.length - 1, "one line, newline-terminated");
  assert.deepEqual(JSON.parse(line), {
    type: "user",
    message: {
      role: "user",
      content: [
        { type: "text", text: "line one\nline two" },
        { tool_use_id: "c", type: "tool_result", content: [{ type: "text", text: "r" }] },
      ],
    },
  });
});

Deno.test("mcpToolResult: the client's result as a JSON-RPC tools/call answer", () => {
  assert.deepEqual(mcpToolResult(7, { content: "18C" }), {
    jsonrpc: "2.0",
    id: 7,
    result: { content: [{ type: "text", text: "18C" }] },
  });
  assert.deepEqual(mcpToolResult("x", { content: "no city", isError: true }), {
    jsonrpc: "2.0",
    id: "x",
    result: { content: [{ type: "text", text: "no city" }], isError: true },
  });
  assert.deepEqual(mcpToolResult(1, { content: "fine", isError: false }), {
    jsonrpc: "2.0",
    id: 1,
    result: { content: [{ type: "text", text: "fine" }] },
  });
});

Deno.test("mcpToolResult: text sent after the results rides along as extra text blocks", () => {
  const extra: Block[] = [
    { type: "text", text: "and also" },
    { type: "image", mediaType: "image/png", data: "AAAA" },
  ];
  assert.deepEqual(mcpToolResult(2, { content: "18C", extra }), {
    jsonrpc: "2.0",
    id: 2,
    result: { content: [{ type: "text", text: "18C" }, { type: "text", text: "and also" }] },
  });
});
