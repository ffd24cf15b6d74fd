/**
 * How one run of the Claude Code CLI is invoked: its argv and its stdin.
 *
 * The prompt never goes in argv (one argument is capped at 128 KiB): it goes
 * in on stdin, as plain text for `--output-format json` and as one stream-json
 * user message (text and image blocks) for `--output-format stream-json` (the
 * CLI accepts `--input-format stream-json` only with stream-json output).
 *
 * @module
 */
import type { Agent } from "./agents.ts";
import type { Prompt } from "../engine/prompt.ts";

/** How the run's output is read. */
export type OutputMode = "json" | "stream-json";

/** What a run needs on its command line. */
export interface RunSpec {
  agent: Agent;
  model: string;
  output: OutputMode;
  /** A JSON Schema the final answer must satisfy (`--json-schema`). */
  jsonSchema?: Record<string, unknown>;
  /** Output token limit for the run (see {@linkcode runEnv}). */
  maxOutputTokens?: number;
}

/**
 * The argv for `spec`: print mode, the model alias, the agent's tools,
 * permissions and system prompt, and isolation from the host (no session
 * files, no settings, no MCP servers).
 */
export function buildArgs(spec: RunSpec): string[] {
  const { settings } = spec.agent;
  const args = [
    "--print",
    "--model",
    spec.model,
    "--output-format",
    spec.output,
    "--no-session-persistence",
    "--setting-sources",
    "",
    "--strict-mcp-config",
    "--tools",
    settings.tools.join(","),
    "--permission-mode",
    settings.permissionMode,
  ];
  if (spec.output === "stream-json") {
    // stream-json output requires --verbose; with json output, --verbose would
    // turn the one result object into an array of every message.
    args.push("--verbose", "--input-format", "stream-json", "--include-partial-messages");
  }
  if (settings.allowedTools.length > 0) {
    args.push("--allowedTools", settings.allowedTools.join(","));
  }
  if (settings.maxTurns !== undefined) args.push("--max-turns", String(settings.maxTurns));
  if (settings.systemPrompt !== undefined) args.push("--system-prompt", settings.systemPrompt);
  if (spec.jsonSchema !== undefined) args.push("--json-schema", JSON.stringify(spec.jsonSchema));
  return args;
}

/** Environment added for every run: keep the CLI quiet and free of host memory files. */
export const CLI_ENV: Record<string, string> = {
  CLAUDE_CODE_DISABLE_CLAUDE_MDS: "1",
  CLAUDE_CODE_DISABLE_AUTO_MEMORY: "1",
  CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
  DISABLE_AUTOUPDATER: "1",
  DISABLE_TELEMETRY: "1",
};

/**
 * The environment added for one run: {@linkcode CLI_ENV}, and for an output
 * token limit `CLAUDE_CODE_MAX_OUTPUT_TOKENS` with thinking off
 * (`MAX_THINKING_TOKENS=0`), since the CLI would otherwise shrink the thinking
 * budget below what the API accepts.
 */
export function runEnv(spec: RunSpec): Record<string, string> {
  if (spec.maxOutputTokens === undefined) return CLI_ENV;
  return {
    ...CLI_ENV,
    CLAUDE_CODE_MAX_OUTPUT_TOKENS: String(spec.maxOutputTokens),
    MAX_THINKING_TOKENS: "0",
  };
}

/** The stream-json stdin line carrying one user message. */
export function userMessageLine(prompt: Prompt): string {
  const content = [{ type: "text", text: prompt.text }, ...prompt.images];
  return JSON.stringify({ type: "user", message: { role: "user", content } }) + "\n";
}

/** What to write on stdin for `output`: plain text for json, a user message line for stream-json. */
export function stdinFor(prompt: Prompt, output: OutputMode): string {
  return output === "json" ? prompt.text : userMessageLine(prompt);
}
