/**
 * Builds OpenAI Chat Completions response objects: `chat.completion`,
 * `chat.completion.chunk`, usage and finish reasons, from what the CLI reports.
 *
 * @module
 */
import { HttpError } from "../http/http_error.ts";
import type { CliResult, CliUsage } from "../claude/events.ts";

/** OpenAI's finish reasons that the bridge can produce. */
export type FinishReason = "stop" | "length" | "content_filter";

/** OpenAI's `usage` object. */
export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details: { cached_tokens: number };
}

/** Identity shared by every chunk of one response. */
export interface CompletionIdentity {
  id: string;
  created: number;
  model: string;
}

/** A fresh identity: `chatcmpl-<random>`, `created` in whole seconds. */
export function newIdentity(model: string): CompletionIdentity {
  return {
    id: `chatcmpl-${crypto.randomUUID().replaceAll("-", "")}`,
    created: Math.floor(Date.now() / 1000),
    model,
  };
}

/**
 * Maps Anthropic's stop reason to OpenAI's finish reason: `max_tokens` →
 * `length`, `refusal` → `content_filter`, everything else (`end_turn`,
 * `stop_sequence`, `tool_use` from a `--json-schema` run, none) → `stop`.
 */
export function finishReason(stopReason: string | null | undefined): FinishReason {
  switch (stopReason) {
    case "max_tokens":
      return "length";
    case "refusal":
      return "content_filter";
    default:
      return "stop";
  }
}

/** Maps the CLI's usage to OpenAI's; cached input tokens count as prompt tokens. */
export function toUsage(usage: CliUsage | undefined): Usage {
  const cached = (usage?.cache_read_input_tokens ?? 0) + (usage?.cache_creation_input_tokens ?? 0);
  const prompt = (usage?.input_tokens ?? 0) + cached;
  const completion = usage?.output_tokens ?? 0;
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    prompt_tokens_details: { cached_tokens: usage?.cache_read_input_tokens ?? 0 },
  };
}

const INTERRUPTED = /^\[Request interrupted by user[^\]]*\]$/;

/**
 * True when a result line reports a failure: `is_error`, an `error_*`
 * subtype, or the "[Request interrupted by user]" text of a stopped run, which
 * must never reach a client as an answer.
 */
export function isFailedResult(result: CliResult): boolean {
  return result.is_error === true || (result.subtype?.startsWith("error") ?? false) ||
    INTERRUPTED.test(result.result?.trim() ?? "");
}

/**
 * The answer a successful result carries: with `structured`, its
 * `structured_output` as JSON text; otherwise its `result` text.
 *
 * @throws {HttpError} 502 when structured output was asked for but the model gave none.
 */
export function resultAnswer(result: CliResult, structured: boolean): string {
  if (!structured) return result.result ?? "";
  if (result.structured_output === undefined) {
    throw new HttpError(
      502,
      "no structured output",
      "Claude answered without the JSON that response_format asked for; retry, or simplify the schema.",
      { fields: { detail: (result.result ?? "").slice(0, 2000) } },
    );
  }
  return JSON.stringify(result.structured_output);
}

/** A whole `chat.completion`. */
export function completion(
  identity: CompletionIdentity,
  content: string,
  finish: FinishReason,
  usage: Usage,
): Record<string, unknown> {
  return {
    ...identity,
    object: "chat.completion",
    choices: [{
      index: 0,
      message: { role: "assistant", content, refusal: null },
      logprobs: null,
      finish_reason: finish,
    }],
    usage,
  };
}

/** The delta of one streamed chunk. */
export interface ChunkDelta {
  role?: "assistant";
  content?: string;
}

/** One `chat.completion.chunk` with a single choice. */
export function chunk(
  identity: CompletionIdentity,
  delta: ChunkDelta,
  finish: FinishReason | null = null,
): Record<string, unknown> {
  return {
    ...identity,
    object: "chat.completion.chunk",
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
  };
}

/**
 * A writer of plain content chunks as JSON text, for the per-token hot path:
 * `contentChunkJson(identity)(text)` is exactly
 * `JSON.stringify(chunk(identity, { content: text }))`, but only the text is
 * serialized per call; the rest of the chunk is serialized once, here.
 */
export function contentChunkJson(identity: CompletionIdentity): (content: string) => string {
  const key = '"content":';
  const empty = JSON.stringify(chunk(identity, { content: "" }));
  // The only unescaped `"content":` in the text is the delta's key: in string
  // values (the identity's) every quote is escaped.
  const at = empty.indexOf(key) + key.length;
  const head = empty.slice(0, at);
  const tail = empty.slice(at + '""'.length);
  return (content) => head + JSON.stringify(content) + tail;
}

/** The final usage chunk sent with `stream_options.include_usage`: no choices. */
export function usageChunk(identity: CompletionIdentity, usage: Usage): Record<string, unknown> {
  return { ...identity, object: "chat.completion.chunk", choices: [], usage };
}
