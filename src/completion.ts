/**
 * Builds OpenAI Chat Completions response objects: `chat.completion`,
 * `chat.completion.chunk`, usage and finish reasons, from what the CLI reports.
 *
 * @module
 */
import type { CliUsage } from "./stream_json.ts";

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

/** Maps Anthropic's stop reason to OpenAI's finish reason. */
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

/** The final usage chunk sent with `stream_options.include_usage`: no choices. */
export function usageChunk(identity: CompletionIdentity, usage: Usage): Record<string, unknown> {
  return { ...identity, object: "chat.completion.chunk", choices: [], usage };
}
