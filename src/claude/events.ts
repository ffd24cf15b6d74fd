/**
 * The Claude Code CLI's stream-json output (`--output-format stream-json
 * --verbose --include-partial-messages`) as typed events: one
 * {@linkcode CliEventStream} turns stdout lines into {@linkcode CliEvent}s,
 * parsing each line exactly once, and everything downstream (the engine's
 * turns, and through them the SSE encoder and the non-streaming collector)
 * reads these events.
 *
 * What is kept: the model's stream (message start and stop, text deltas,
 * tool-use blocks and their argument deltas), whole `assistant` messages
 * (the only sign of a message the CLI fetched without streaming, such as its
 * retry after a stream broke off), the final `result`, the control protocol
 * (requests the CLI makes of the bridge, and its answers to the bridge's
 * requests), the `system`/`init` line, and lines that are not JSON at all
 * (a CLI that prints plain text). Other JSON lines are skipped.
 *
 * @module
 */
import { z } from "zod";
import { LineSplitter, type LineSplitterOptions } from "../streams/line_splitter.ts";

const usageSchema = z.object({
  input_tokens: z.number().catch(0).default(0),
  output_tokens: z.number().catch(0).default(0),
  cache_creation_input_tokens: z.number().catch(0).default(0),
  cache_read_input_tokens: z.number().catch(0).default(0),
}).loose();

/** Token usage as the CLI reports it (Anthropic's names). */
export type CliUsage = z.output<typeof usageSchema>;

/** The CLI's final `result` line of a turn. */
export const resultSchema = z.object({
  type: z.literal("result"),
  subtype: z.string().optional(),
  is_error: z.boolean().optional(),
  result: z.string().optional(),
  usage: usageSchema.optional().catch(undefined),
  total_cost_usd: z.number().optional().catch(undefined),
  duration_ms: z.number().optional().catch(undefined),
  num_turns: z.number().optional().catch(undefined),
  session_id: z.string().optional().catch(undefined),
  stop_reason: z.string().nullish().catch(undefined),
  api_error_status: z.number().nullish().catch(undefined),
  structured_output: z.unknown().optional(),
  errors: z.array(z.unknown()).optional().catch(undefined),
}).loose();

/** A parsed `result` line. */
export type CliResult = z.output<typeof resultSchema>;

/** A content block of a whole `assistant` message. */
export type AssistantBlock =
  | { type: "text"; text: string }
  | { type: "tool_use"; id: string; name: string; input: unknown }
  | { type: "other" };

/** One event the bridge acts on. */
export type CliEvent =
  /** A text delta of the current content block. */
  | { type: "text"; text: string }
  /** A message began (`message_start`): its id and the usage it starts with. */
  | { type: "message_start"; id?: string; usage: CliUsage }
  /** A tool-use block began (its arguments follow as `tool_input` deltas). */
  | { type: "tool_start"; index: number; id: string; name: string }
  /** A fragment of a tool-use block's JSON arguments. */
  | { type: "tool_input"; index: number; json: string }
  /** A content block ended. */
  | { type: "block_stop"; index: number }
  /**
   * The message's stop reason and final usage (`message_delta`); `usage`
   * holds only the counts the event carried (the API may send just
   * `output_tokens` there, the rest being in `message_start`).
   */
  | { type: "message_delta"; stopReason?: string; usage?: Partial<CliUsage> }
  /** A whole model message (the CLI prints one per content block or message). */
  | { type: "assistant"; id: string; blocks: AssistantBlock[] }
  /** The turn's outcome. */
  | { type: "result"; result: CliResult }
  /** The CLI asks the bridge something (MCP messages, hook callbacks). */
  | { type: "control_request"; requestId: string; request: Record<string, unknown> }
  /** The CLI answers one of the bridge's control requests. */
  | {
    type: "control_response";
    requestId: string;
    ok: boolean;
    response: Record<string, unknown>;
    error?: string;
  }
  /** The `system`/`init` line: the tools and MCP servers the turn runs with. */
  | { type: "init"; tools: string[]; mcpServers: { name: string; status: string }[] }
  /** A stdout line that is not JSON. */
  | { type: "raw"; line: string };

/** `value[key]` when `value` is a plain object, else `undefined`. */
function field(value: unknown, key: string): unknown {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)[key]
    : undefined;
}

function record(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? value as Record<string, unknown>
    : {};
}

function usageOf(value: unknown): CliUsage | undefined {
  if (typeof value !== "object" || value === null || Object.keys(value).length === 0) {
    return undefined;
  }
  return usageSchema.parse(value);
}

/** The numeric usage counts an object carries (only those present), or `undefined`. */
function countsOf(value: unknown): Partial<CliUsage> | undefined {
  const counts: Partial<CliUsage> = {};
  for (const key of USAGE_KEYS) {
    const count = field(value, key);
    if (typeof count === "number") counts[key] = count;
  }
  return Object.keys(counts).length === 0 ? undefined : counts;
}

const USAGE_KEYS = [
  "input_tokens",
  "output_tokens",
  "cache_creation_input_tokens",
  "cache_read_input_tokens",
] as const;

/** A stream event (`{"type":"stream_event","event":{…}}`): the API's own SSE events, relayed. */
function streamEvent(event: unknown): CliEvent | undefined {
  switch (field(event, "type")) {
    case "content_block_delta": {
      const delta = field(event, "delta");
      const kind = field(delta, "type");
      if (kind === "text_delta") {
        const text = field(delta, "text");
        return typeof text === "string" ? { type: "text", text } : undefined;
      }
      if (kind === "input_json_delta") {
        const json = field(delta, "partial_json");
        const index = field(event, "index");
        return typeof json === "string" && typeof index === "number"
          ? { type: "tool_input", index, json }
          : undefined;
      }
      return undefined;
    }
    case "content_block_start": {
      const block = field(event, "content_block");
      const index = field(event, "index");
      const id = field(block, "id");
      const name = field(block, "name");
      if (
        field(block, "type") === "tool_use" && typeof index === "number" &&
        typeof id === "string" && typeof name === "string"
      ) return { type: "tool_start", index, id, name };
      return undefined;
    }
    case "content_block_stop": {
      const index = field(event, "index");
      return typeof index === "number" ? { type: "block_stop", index } : undefined;
    }
    case "message_start": {
      const message = field(event, "message");
      const id = field(message, "id");
      const usage = usageOf(field(message, "usage")) ?? usageSchema.parse({});
      return typeof id === "string"
        ? { type: "message_start", id, usage }
        : { type: "message_start", usage };
    }
    case "message_delta": {
      const reason = field(field(event, "delta"), "stop_reason");
      const usage = countsOf(field(event, "usage"));
      return {
        type: "message_delta",
        ...(typeof reason === "string" ? { stopReason: reason } : {}),
        ...(usage ? { usage } : {}),
      };
    }
    default:
      return undefined;
  }
}

function assistantBlocks(content: unknown): AssistantBlock[] {
  if (!Array.isArray(content)) return [];
  return content.map((block): AssistantBlock => {
    const type = field(block, "type");
    if (type === "text") return { type: "text", text: String(field(block, "text") ?? "") };
    if (type === "tool_use") {
      return {
        type: "tool_use",
        id: String(field(block, "id") ?? ""),
        name: String(field(block, "name") ?? ""),
        input: field(block, "input") ?? {},
      };
    }
    return { type: "other" };
  });
}

/** Parses a decoded JSON line into a {@linkcode CliEvent}, or `undefined` to skip it. */
export function toCliEvent(value: unknown): CliEvent | undefined {
  switch (field(value, "type")) {
    case "stream_event":
      return streamEvent(field(value, "event"));
    case "assistant": {
      // The CLI's own notices ("API Error: …") carry `error` or a synthetic model: not messages.
      if (field(value, "error") !== undefined) return undefined;
      const message = field(value, "message");
      const id = field(message, "id");
      if (typeof id !== "string" || field(message, "model") === "<synthetic>") return undefined;
      return { type: "assistant", id, blocks: assistantBlocks(field(message, "content")) };
    }
    case "result": {
      const result = resultSchema.safeParse(value);
      return result.success ? { type: "result", result: result.data } : undefined;
    }
    case "control_request": {
      const requestId = field(value, "request_id");
      const request = field(value, "request");
      return typeof requestId === "string" && typeof request === "object" && request !== null
        ? { type: "control_request", requestId, request: record(request) }
        : undefined;
    }
    case "control_response": {
      const response = record(field(value, "response"));
      const requestId = response.request_id;
      if (typeof requestId !== "string") return undefined;
      const ok = response.subtype === "success";
      return {
        type: "control_response",
        requestId,
        ok,
        response: record(response.response),
        ...(ok ? {} : { error: String(response.error ?? "the CLI refused the request") }),
      };
    }
    case "system": {
      if (field(value, "subtype") !== "init") return undefined;
      const tools = field(value, "tools");
      const servers = field(value, "mcp_servers");
      return {
        type: "init",
        tools: Array.isArray(tools) ? tools.filter((tool) => typeof tool === "string") : [],
        mcpServers: Array.isArray(servers)
          ? servers.map((server) => ({
            name: String(field(server, "name") ?? ""),
            status: String(field(server, "status") ?? ""),
          }))
          : [],
      };
    }
    default:
      return undefined;
  }
}

/** How the CLI begins a streamed text delta's line, up to the block index. */
const TEXT_DELTA_HEAD = '{"type":"stream_event","event":{"type":"content_block_delta","index":';
/** What follows the index, up to the text's opening quote. */
const TEXT_DELTA_BODY = ',"delta":{"type":"text_delta","text":"';
const QUOTE = 34;
const BACKSLASH = 92;
const ZERO = 48;
const NINE = 57;

/**
 * The text of a text-delta line in the CLI's own key order, read without
 * parsing the whole line (the hot path: most lines of a reply are these), or
 * `undefined` for any other line, which then takes the general parse. Only
 * the text's JSON string is decoded, and only when it holds an escape: a JSON
 * string's other characters stand for themselves.
 */
export function textDelta(line: string): string | undefined {
  if (!line.startsWith(TEXT_DELTA_HEAD)) return undefined;
  let i = TEXT_DELTA_HEAD.length;
  while (i < line.length && line.charCodeAt(i) >= ZERO && line.charCodeAt(i) <= NINE) i++;
  if (i === TEXT_DELTA_HEAD.length || !line.startsWith(TEXT_DELTA_BODY, i)) return undefined;
  const start = i + TEXT_DELTA_BODY.length;
  let escaped = false;
  for (let j = start; j < line.length; j++) {
    const code = line.charCodeAt(j);
    if (code === BACKSLASH) {
      escaped = true;
      j++;
    } else if (code === QUOTE) {
      if (!line.startsWith("}},", j + 1) || !line.trimEnd().endsWith("}")) return undefined;
      if (!escaped) return line.slice(start, j);
      try {
        return JSON.parse(line.slice(start - 1, j + 1));
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

/** Parses one stdout line: an event, a `raw` event for non-JSON text, or `undefined`. */
export function parseLine(line: string): CliEvent | undefined {
  const text = textDelta(line);
  if (text !== undefined) return { type: "text", text };
  const trimmed = line.trim();
  if (trimmed === "") return undefined;
  if (trimmed.startsWith("{")) {
    let value: unknown;
    try {
      value = JSON.parse(trimmed);
    } catch {
      return { type: "raw", line };
    }
    return toCliEvent(value);
  }
  return { type: "raw", line };
}

/**
 * Transforms the CLI's decoded stdout into {@linkcode CliEvent}s: splits it
 * into lines (dropping over-long ones, see {@linkcode LineSplitter}), parses
 * each line once, skips lines the bridge ignores, and emits the events of
 * each piece of stdout as one batch, so the stages after it pay per piece of
 * output, not per token.
 */
export class CliEventStream extends TransformStream<string, CliEvent[]> {
  /** Makes a parser; `options` bound the line length. */
  constructor(options: LineSplitterOptions = {}) {
    const splitter = new LineSplitter(options);
    let batch: CliEvent[] = [];
    const take = (line: string) => {
      const event = parseLine(line);
      if (event) batch.push(event);
    };
    const send = (controller: TransformStreamDefaultController<CliEvent[]>) => {
      if (batch.length === 0) return;
      controller.enqueue(batch);
      batch = [];
    };
    super({
      transform: (text, controller) => {
        splitter.push(text, take);
        send(controller);
      },
      flush: (controller) => {
        splitter.end(take);
        send(controller);
      },
    });
  }
}
