/**
 * How a Claude Code CLI process is started: its argv and environment.
 *
 * Every process speaks stream-json both ways and keeps stdin open, so it can
 * be started ahead of time (warm pool), carry one turn after another (live
 * session) and exchange control messages (system prompt, settings, MCP,
 * hooks). Nothing a client sent ever goes in argv (one argument is capped at
 * 128 KiB): prompts, the system prompt and the output schema go in on stdin,
 * histories in a session file.
 *
 * @module
 */
import type { Agent } from "./agents.ts";
import { MCP_SERVER } from "./tool_names.ts";

/** What a process is started with; two processes with equal specs are interchangeable. */
export interface ProcessSpec {
  agent: Agent;
  model: string;
  /**
   * True when the client's tools replace the agent's built-in tools (the two
   * never mix: a client tool called `Read` is the client's).
   */
  clientTools: boolean;
  /** A session file to resume (the conversation so far). */
  resumeFile?: string;
  /** The session file ends in a deferred call of a client tool, re-issued on start. */
  deferredTool?: boolean;
}

/**
 * The argv for `spec`: print mode in stream-json, the model alias, the tools
 * and permissions, and isolation from the host (no session persistence, no
 * settings files, no MCP servers but the bridge's own).
 */
export function buildArgs(spec: ProcessSpec): string[] {
  const { settings } = spec.agent;
  const args = [
    "--print",
    "--output-format",
    "stream-json",
    "--verbose",
    "--input-format",
    "stream-json",
    "--include-partial-messages",
    "--no-session-persistence",
    "--setting-sources",
    "",
    "--strict-mcp-config",
    "--model",
    spec.model,
    "--tools",
    spec.clientTools ? "" : settings.tools.join(","),
    "--permission-mode",
    settings.permissionMode,
  ];
  // The client's tools are always allowed (a process without them has no such server), so an
  // agent without tools of its own starts the same process with or without client tools.
  const allowed = [...(spec.clientTools ? [] : settings.allowedTools), `mcp__${MCP_SERVER}`];
  args.push("--allowedTools", allowed.join(","));
  // Each round of client tool calls is a model turn; the client bounds the rounds.
  if (settings.maxTurns !== undefined && !spec.clientTools) {
    args.push("--max-turns", String(settings.maxTurns));
  }
  if (spec.resumeFile !== undefined) args.push("--resume", spec.resumeFile);
  if (spec.deferredTool) {
    // The deferred call is checked before `initialize` declares the server: declare it here too.
    args.push(
      "--mcp-config",
      JSON.stringify({ mcpServers: { [MCP_SERVER]: { type: "sdk", name: MCP_SERVER } } }),
    );
  }
  return args;
}

/** Environment added for every process: keep the CLI quiet and free of host memory files. */
export const CLI_ENV: Record<string, string> = {
  CLAUDE_CODE_DISABLE_CLAUDE_MDS: "1",
  CLAUDE_CODE_DISABLE_AUTO_MEMORY: "1",
  CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
  DISABLE_AUTOUPDATER: "1",
  DISABLE_TELEMETRY: "1",
};

/**
 * The environment added for `spec`: {@linkcode CLI_ENV}, and for a deferred
 * tool call a blank resume prompt (a single space; empty means the default
 * "Continue from where you left off."), so the resumed turn adds no text.
 */
export function processEnv(spec: ProcessSpec): Record<string, string> {
  return spec.deferredTool ? { ...CLI_ENV, CLAUDE_CODE_RESUME_PROMPT: " " } : CLI_ENV;
}
