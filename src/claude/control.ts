/**
 * The stdin half of the CLI's stream-json protocol: user messages, and the
 * control requests the bridge makes (`get_binary_version` as a readiness
 * probe, `initialize` with the run's system prompt, output schema, in-process
 * MCP server and PreToolUse hook, and per-turn settings), and the bridge's
 * answers to the CLI's own control requests (MCP messages, hook callbacks).
 *
 * Every function returns one line, newline included, ready to write.
 * Measured with CLI 2.1.197: `initialize` counts only once per process;
 * `apply_flag_settings` and `set_max_thinking_tokens` apply to the next turn;
 * lines are processed in order, so a turn's settings can be written together
 * with its user message.
 *
 * @module
 */
import type { Block } from "../conversation/model.ts";
import type { ToolNames } from "./tool_names.ts";
import { MCP_SERVER } from "./tool_names.ts";

/** The PreToolUse hook callback id the bridge registers in `initialize`. */
export const GUARD_HOOK = "guard";

function line(value: unknown): string {
  return JSON.stringify(value) + "\n";
}

/** A control request line. */
export function controlRequest(requestId: string, request: Record<string, unknown>): string {
  return line({ type: "control_request", request_id: requestId, request });
}

/** A successful answer to one of the CLI's control requests. */
export function controlSuccess(requestId: string, response: unknown): string {
  return line({
    type: "control_response",
    response: { subtype: "success", request_id: requestId, response },
  });
}

/** A refusal of one of the CLI's control requests. */
export function controlError(requestId: string, error: string): string {
  return line({
    type: "control_response",
    response: { subtype: "error", request_id: requestId, error },
  });
}

/** What `initialize` fixes for the rest of a process's life. */
export interface InitializeOptions {
  /** The whole system prompt (agent's and client's). */
  systemPrompt?: string;
  /** A JSON Schema the final answer must satisfy (the CLI's StructuredOutput tool). */
  jsonSchema?: Record<string, unknown>;
  /** Serve the client's tools through the in-process MCP server. */
  clientTools: boolean;
  /** Register the PreToolUse hook that confines file tools. */
  guard: boolean;
}

/** The `initialize` request. */
export function initializeRequest(requestId: string, options: InitializeOptions): string {
  return controlRequest(requestId, {
    subtype: "initialize",
    ...(options.systemPrompt === undefined ? {} : { systemPrompt: options.systemPrompt }),
    ...(options.jsonSchema === undefined ? {} : { jsonSchema: options.jsonSchema }),
    ...(options.clientTools ? { sdkMcpServers: [MCP_SERVER] } : {}),
    ...(options.guard
      ? { hooks: { PreToolUse: [{ matcher: "*", hookCallbackIds: [GUARD_HOOK] }] } }
      : {}),
  });
}

/** Effort levels the CLI accepts (`output_config.effort`). */
export type Effort = "low" | "medium" | "high" | "xhigh" | "max";

/** Settings of one turn; each unset field returns to the CLI's default. */
export interface TurnSettings {
  /** `max_tokens` of the turn's API calls. */
  maxOutputTokens?: number;
  /** Fields merged into every API request body of the turn (e.g. `tool_choice`). */
  extraBody?: Record<string, unknown>;
  effort?: Effort;
  /** False turns extended thinking off for the turn. */
  thinking: boolean;
}

/**
 * The settings of a CLI that was sent none: every field at its default (a
 * fresh process, including a resumed one, starts here).
 */
export const DEFAULT_TURN_SETTINGS: TurnSettings = { thinking: true };

/**
 * The requests that take a session from `current` settings to `next`: the
 * `apply_flag_settings` request when the token limit, effort or request
 * fields differ, the `set_max_thinking_tokens` request when thinking does,
 * nothing when they are equal. `current` defaults to "unknown", which writes
 * both. Skipping is worth it: an `apply_flag_settings` costs a first turn
 * about 50 ms.
 */
export function settingsRequests(
  ids: [string, string],
  next: TurnSettings,
  current?: TurnSettings,
): string {
  let text = "";
  if (current === undefined || flagSettingsKey(current) !== flagSettingsKey(next)) {
    const env = {
      CLAUDE_CODE_MAX_OUTPUT_TOKENS: next.maxOutputTokens === undefined
        ? null
        : String(next.maxOutputTokens),
      CLAUDE_CODE_EXTRA_BODY: next.extraBody === undefined ? null : JSON.stringify(next.extraBody),
    };
    text += controlRequest(ids[0], {
      subtype: "apply_flag_settings",
      settings: { env, effortLevel: next.effort ?? null },
    });
  }
  if (current === undefined || current.thinking !== next.thinking) {
    text += controlRequest(ids[1], {
      subtype: "set_max_thinking_tokens",
      max_thinking_tokens: next.thinking ? null : 0,
    });
  }
  return text;
}

/** What `apply_flag_settings` sets, as one comparable string. */
function flagSettingsKey(settings: TurnSettings): string {
  return JSON.stringify([
    settings.maxOutputTokens ?? null,
    settings.effort ?? null,
    settings.extraBody ?? null,
  ]);
}

/** The readiness probe: answered by a started CLI without initializing it. */
export function versionRequest(requestId: string): string {
  return controlRequest(requestId, { subtype: "get_binary_version" });
}

/** A block in the Messages API's shape, with client tool names as the model sees them. */
export function apiBlock(block: Block, names: ToolNames): Record<string, unknown> {
  switch (block.type) {
    case "text":
      return { type: "text", text: block.text };
    case "image":
      return {
        type: "image",
        source: { type: "base64", media_type: block.mediaType, data: block.data },
      };
    case "tool_use":
      return {
        type: "tool_use",
        id: block.id,
        name: names.apiName(block.name),
        input: block.input,
      };
    case "tool_result":
      // The shape (and key order) the CLI itself records for an MCP tool result,
      // so a rebuilt history reads the same bytes (and prompt cache) as a live one.
      return {
        tool_use_id: block.toolUseId,
        type: "tool_result",
        content: [{ type: "text", text: block.content }],
        ...(block.isError ? { is_error: true } : {}),
      };
  }
}

/** A user message line. */
export function userMessage(blocks: readonly Block[], names: ToolNames): string {
  return line({
    type: "user",
    message: { role: "user", content: blocks.map((block) => apiBlock(block, names)) },
  });
}

/** The answer to an MCP `tools/call` with the client's result. */
export function mcpToolResult(
  rpcId: unknown,
  result: { content: string; isError?: boolean } | { extra: Block[]; content: string },
): Record<string, unknown> {
  const blocks = [{ type: "text", text: result.content }];
  if ("extra" in result) {
    for (const block of result.extra) {
      if (block.type === "text") blocks.push({ type: "text", text: block.text });
    }
  }
  return {
    jsonrpc: "2.0",
    id: rpcId,
    result: {
      content: blocks,
      ...("isError" in result && result.isError ? { isError: true } : {}),
    },
  };
}
