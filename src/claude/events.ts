/**
 * Parses the Claude Code CLI's print-mode output (`--output-format json` and
 * `stream-json`) into a few typed events.
 *
 * Only what the bridge uses is kept: text deltas, the id and usage a message
 * starts with, its stop reason and final usage, whole `assistant` messages
 * (the CLI prints one per message; a message that never streamed, such as the
 * CLI's non-streaming retry after a stream broke off, is only seen there), and
 * the final `result`. Unknown event types and non-JSON lines are skipped.
 *
 * @module
 */
import { z } from "zod";

const usageSchema = z.object({
  input_tokens: z.number().catch(0).default(0),
  output_tokens: z.number().catch(0).default(0),
  cache_creation_input_tokens: z.number().catch(0).default(0),
  cache_read_input_tokens: z.number().catch(0).default(0),
}).loose();

/** Token usage as the CLI reports it (Anthropic's names). */
export type CliUsage = z.output<typeof usageSchema>;

/** The CLI's final `result` line. */
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

/** `value[key]` when `value` is a plain object, else `undefined`. */
function field(value: unknown, key: string): unknown {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)[key]
    : undefined;
}

/**
 * The hot path, validated by hand rather than with zod (whose generic walk
 * costs more than the rest of a token's trip through the bridge): the text
 * of `{"type":"stream_event","event":{"type":"content_block_delta","delta":
 * {"type":"text_delta","text":"…"}}}`, or `undefined` for anything else.
 */
function textDeltaOf(value: unknown): string | undefined {
  if (field(value, "type") !== "stream_event") return undefined;
  const event = field(value, "event");
  if (field(event, "type") !== "content_block_delta") return undefined;
  const delta = field(event, "delta");
  const text = field(delta, "text");
  return field(delta, "type") === "text_delta" && typeof text === "string" ? text : undefined;
}

const messageDeltaSchema = z.object({
  type: z.literal("stream_event"),
  event: z.object({
    type: z.literal("message_delta"),
    delta: z.object({ stop_reason: z.string().nullish() }),
    usage: z.record(z.string(), z.unknown()).optional().catch(undefined),
  }),
});

const messageStartSchema = z.object({
  type: z.literal("stream_event"),
  event: z.object({
    type: z.literal("message_start"),
    message: z.object({ id: z.string().optional(), usage: usageSchema }),
  }),
});

/** A whole model message; the CLI's own error notices carry `error` and are not messages. */
const assistantSchema = z.object({
  type: z.literal("assistant"),
  error: z.undefined().optional(),
  message: z.object({
    id: z.string(),
    model: z.string().refine((model) => model !== "<synthetic>").optional(),
    content: z.array(z.object({ type: z.string(), text: z.string().optional() }).loose()),
  }),
});

/** One event the bridge acts on. */
export type CliEvent =
  | { type: "text"; text: string }
  | { type: "stop"; reason: string; usage?: CliUsage }
  | { type: "start"; id?: string; usage: CliUsage }
  | { type: "message"; id: string; text: string }
  | { type: "result"; result: CliResult };

/** Parses a JSON value (already decoded) into a {@linkcode CliEvent}, or `undefined` to skip. */
export function toCliEvent(value: unknown): CliEvent | undefined {
  const text = textDeltaOf(value);
  if (text !== undefined) return { type: "text", text };
  const stop = messageDeltaSchema.safeParse(value);
  if (stop.success && stop.data.event.delta.stop_reason) {
    const reason = stop.data.event.delta.stop_reason;
    const usage = stop.data.event.usage;
    return usage && Object.keys(usage).length > 0
      ? { type: "stop", reason, usage: usageSchema.parse(usage) }
      : { type: "stop", reason };
  }
  const start = messageStartSchema.safeParse(value);
  if (start.success) {
    const { id, usage } = start.data.event.message;
    return id === undefined ? { type: "start", usage } : { type: "start", id, usage };
  }
  const assistant = assistantSchema.safeParse(value);
  if (assistant.success) {
    const { id, content } = assistant.data.message;
    const text = content.map((block) => block.type === "text" ? block.text ?? "" : "").join("");
    return { type: "message", id, text };
  }
  const result = resultSchema.safeParse(value);
  if (result.success) return { type: "result", result: result.data };
  return undefined;
}

/** Parses one stdout line; `undefined` for non-JSON lines and events the bridge ignores. */
export function parseLine(line: string): CliEvent | undefined {
  if (!line.startsWith("{")) return undefined;
  try {
    return toCliEvent(JSON.parse(line));
  } catch {
    return undefined;
  }
}

/** Transforms stdout lines into {@linkcode CliEvent}s, skipping everything else. */
export class CliEventStream extends TransformStream<string, CliEvent> {
  /** Makes a parser. */
  constructor() {
    super({
      transform: (line, controller) => {
        const event = parseLine(line.trim());
        if (event) controller.enqueue(event);
      },
    });
  }
}
