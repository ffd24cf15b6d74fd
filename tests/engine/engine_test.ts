/**
 * The engine's pure decisions: a run's system prompt (the agent's, then the
 * client's instructions) and a turn's settings (tool_choice through the
 * API's extra body, single tool calls, and when extended thinking must be
 * off). The engine's paths are covered end to end in tests/app/.
 */
import assert from "node:assert/strict";
import type { TurnSettings } from "../../src/claude/control.ts";
import { ToolNames } from "../../src/claude/tool_names.ts";
import type { Tool, ToolChoice } from "../../src/conversation/model.ts";
import {
  MIN_TOKENS_WITH_THINKING,
  type RunOptions,
  systemPromptOf,
  turnSettings,
} from "../../src/engine/engine.ts";
import { HttpError } from "../../src/http/http_error.ts";
import { testAgent } from "../support/cli_driver.ts";

const tools: Tool[] = [
  { name: "get.weather", parameters: { type: "object" } },
  { name: "lookup", parameters: { type: "object" } },
];
const names = new ToolNames(tools.map((tool) => tool.name));

const options = (fields: Partial<RunOptions> = {}): RunOptions => ({
  agent: testAgent(),
  model: "sonnet",
  stop: [],
  toolChoice: { type: "auto" },
  parallelToolCalls: true,
  ...fields,
});

const settings = (
  fields: Partial<RunOptions>,
  withTools: readonly Tool[] = tools,
  replayed = false,
): TurnSettings => turnSettings(options(fields), withTools, names, replayed);

const choice = (toolChoice: ToolChoice, parallelToolCalls = true, withTools = tools) =>
  settings({ toolChoice, parallelToolCalls }, withTools).extraBody;

function invalid(run: () => unknown, message: RegExp): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof HttpError);
    assert.equal(error.status, 400);
    assert.match(error.message, message);
    return true;
  });
}

Deno.test("systemPromptOf: the agent's prompt, then the client's instructions, a blank line apart", () => {
  const agent = testAgent({ systemPrompt: "You are the bridge." });
  assert.equal(
    systemPromptOf(agent, ["Be brief.", "Answer in French."]),
    "You are the bridge.\n\nBe brief.\n\nAnswer in French.",
  );
  assert.equal(systemPromptOf(agent, []), "You are the bridge.");
  assert.equal(systemPromptOf(testAgent(), ["Only the client's."]), "Only the client's.");
});

Deno.test("systemPromptOf: blank parts are left out, and nothing at all is undefined", () => {
  const agent = testAgent({ systemPrompt: "Agent." });
  assert.equal(systemPromptOf(agent, ["", "  \n", "Client."]), "Agent.\n\nClient.");
  assert.equal(systemPromptOf(testAgent(), []), undefined);
  assert.equal(systemPromptOf(testAgent(), [" "]), undefined);
});

Deno.test("the token limit and effort pass through; unset stays unset", () => {
  assert.deepEqual(settings({ maxOutputTokens: 4096, effort: "low" }), {
    maxOutputTokens: 4096,
    effort: "low",
    thinking: true,
  });
  assert.deepEqual(settings({}), { maxOutputTokens: undefined, effort: undefined, thinking: true });
});

Deno.test("tool_choice auto with parallel calls sends no tool_choice", () => {
  assert.equal(choice({ type: "auto" }), undefined);
  assert.equal(choice({ type: "auto" }, true, []), undefined);
});

Deno.test("tool_choice none sends type none when there are tools, nothing without", () => {
  assert.deepEqual(choice({ type: "none" }), { tool_choice: { type: "none" } });
  assert.deepEqual(
    choice({ type: "none" }, false),
    { tool_choice: { type: "none" } },
    "disable_parallel_tool_use is not allowed with none",
  );
  assert.equal(choice({ type: "none" }, true, []), undefined);
});

Deno.test("tool_choice required is type any", () => {
  assert.deepEqual(choice({ type: "required" }), { tool_choice: { type: "any" } });
});

Deno.test("tool_choice function names the tool as the model sees it", () => {
  assert.deepEqual(choice({ type: "function", name: "get.weather" }), {
    tool_choice: { type: "tool", name: "mcp__bridge__get_weather" },
  });
});

Deno.test("parallel_tool_calls false adds disable_parallel_tool_use", () => {
  assert.deepEqual(choice({ type: "auto" }, false), {
    tool_choice: { type: "auto", disable_parallel_tool_use: true },
  });
  assert.deepEqual(choice({ type: "required" }, false), {
    tool_choice: { type: "any", disable_parallel_tool_use: true },
  });
  assert.deepEqual(choice({ type: "function", name: "lookup" }, false), {
    tool_choice: { type: "tool", name: "mcp__bridge__lookup", disable_parallel_tool_use: true },
  });
  assert.equal(choice({ type: "auto" }, false, []), undefined, "nothing to limit without tools");
});

Deno.test("thinking stays on for auto and none, with no small limit and no replayed calls", () => {
  assert.equal(settings({ toolChoice: { type: "auto" } }).thinking, true);
  assert.equal(settings({ toolChoice: { type: "none" } }).thinking, true);
  assert.equal(settings({ maxOutputTokens: MIN_TOKENS_WITH_THINKING }).thinking, true);
});

Deno.test("thinking is off when a tool call is forced", () => {
  assert.equal(settings({ toolChoice: { type: "required" } }).thinking, false);
  assert.equal(settings({ toolChoice: { type: "function", name: "lookup" } }).thinking, false);
});

Deno.test("thinking is off under a token limit below 2048", () => {
  assert.equal(MIN_TOKENS_WITH_THINKING, 2048);
  assert.equal(settings({ maxOutputTokens: 2047 }).thinking, false);
  assert.equal(settings({ maxOutputTokens: 16 }).thinking, false);
});

Deno.test("thinking is off for replayed tool calls, and when the request turns it off", () => {
  assert.equal(settings({}, tools, true).thinking, false);
  assert.equal(settings({ thinking: false }).thinking, false);
  assert.equal(settings({ thinking: true }).thinking, true);
});

Deno.test("400: tool_choice naming a function that is not in tools", () => {
  invalid(
    () => settings({ toolChoice: { type: "function", name: "missing" } }),
    /tool_choice names the function "missing", which is not in tools/,
  );
  invalid(
    () => settings({ toolChoice: { type: "function", name: "lookup" } }, []),
    /not in tools/,
  );
});

Deno.test("400: tool_choice required without tools", () => {
  invalid(
    () => settings({ toolChoice: { type: "required" } }, []),
    /"required" needs at least one function in tools/,
  );
});

Deno.test("temperature and top_p go into the API request; a temperature over 1 is sent as Claude's maximum", () => {
  assert.deepEqual(settings({ temperature: 0.2, topP: 0.5 }).extraBody, {
    temperature: 0.2,
    top_p: 0.5,
  });
  assert.deepEqual(settings({ temperature: 1.7 }).extraBody, { temperature: 1 });
});

Deno.test("thinking stays on only with the sampling values the API allows with it (temperature 1, top_p ≥ 0.95)", () => {
  assert.equal(settings({ temperature: 1 }).thinking, true);
  assert.equal(settings({ temperature: 1.5 }).thinking, true);
  assert.equal(settings({ topP: 0.95 }).thinking, true);
  assert.equal(settings({ temperature: 0.7 }).thinking, false);
  assert.equal(settings({ topP: 0.9 }).thinking, false);
});

Deno.test("stop sequences go to the API too, except blank ones (which only the bridge cuts at)", () => {
  assert.deepEqual(settings({ stop: ["END", "\n\n", " "] }).extraBody, { stop_sequences: ["END"] });
  assert.equal(settings({ stop: ["\n"] }).extraBody, undefined);
});
