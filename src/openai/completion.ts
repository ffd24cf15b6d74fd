/**
 * OpenAI Chat Completions response objects — `chat.completion`,
 * `chat.completion.chunk`, usage — and {@linkcode collectCompletion}, which
 * folds a reply's events into one `chat.completion` for non-streaming
 * requests (the streaming encoder reads the very same events).
 *
 * @module
 */
import type { HttpError } from "../http/http_error.ts";
import type { FinishReason, ReplyEvent, Usage } from "../engine/reply.ts";

/** OpenAI's `usage` object. */
export interface ChatUsage {
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
 * A reply's usage in OpenAI's terms: prompt tokens include cache reads and
 * cache writes; `cached_tokens` are the cache reads.
 */
export function toUsage(usage: Usage): ChatUsage {
  const prompt = usage.inputTokens + usage.cacheReadTokens + usage.cacheWriteTokens;
  return {
    prompt_tokens: prompt,
    completion_tokens: usage.outputTokens,
    total_tokens: prompt + usage.outputTokens,
    prompt_tokens_details: { cached_tokens: usage.cacheReadTokens },
  };
}

/** The finish reason a client sees: the legacy functions API says `function_call`. */
export function finishReasonFor(finish: FinishReason, legacyFunctions: boolean) {
  return finish === "tool_calls" && legacyFunctions ? "function_call" : finish;
}

/** One tool call of a whole message. */
export interface ToolCall {
  id: string;
  type: "function";
  function: { name: string; arguments: string };
}

/** A whole `chat.completion`. */
export function completion(
  identity: CompletionIdentity,
  message: { content: string | null; toolCalls: ToolCall[] },
  finish: FinishReason,
  usage: Usage,
  legacyFunctions = false,
): Record<string, unknown> {
  const calls = message.toolCalls;
  const legacy = legacyFunctions && calls.length > 0;
  return {
    ...identity,
    object: "chat.completion",
    choices: [{
      index: 0,
      message: {
        role: "assistant",
        content: message.content,
        refusal: null,
        ...(calls.length > 0 && !legacy ? { tool_calls: calls } : {}),
        ...(legacy ? { function_call: calls[0]!.function } : {}),
      },
      logprobs: null,
      finish_reason: finishReasonFor(finish, legacyFunctions),
    }],
    usage: toUsage(usage),
  };
}

/** One `chat.completion.chunk` with a single choice. */
export function chunk(
  identity: CompletionIdentity,
  delta: Record<string, unknown>,
  finish: string | null = null,
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
  return { ...identity, object: "chat.completion.chunk", choices: [], usage: toUsage(usage) };
}

/** The in-stream error event of a stream that already began. */
export function streamError(error: HttpError): Record<string, unknown> {
  return {
    error: {
      message: error.message,
      type: error.toJSON().type,
      code: error.code,
      status: error.status,
    },
  };
}

/**
 * Reads a reply's events to the end and folds them into one
 * `chat.completion`.
 *
 * @throws {HttpError} the reply's failure, whenever it happens (nothing was sent yet).
 */
export async function collectCompletion(
  events: ReadableStream<ReplyEvent>,
  identity: CompletionIdentity,
  legacyFunctions: boolean,
): Promise<Record<string, unknown>> {
  let text = "";
  const calls: ToolCall[] = [];
  for await (const event of events) {
    switch (event.type) {
      case "text":
        text += event.text;
        break;
      case "tool_call":
        calls[event.index] = {
          id: event.id,
          type: "function",
          function: { name: event.name, arguments: "" },
        };
        break;
      case "tool_arguments":
        calls[event.index]!.function.arguments += event.delta;
        break;
      case "tool_call_done":
        calls[event.index]!.function.arguments = event.arguments;
        break;
      case "error":
        throw event.error;
      case "end": {
        const content = text === "" && calls.length > 0 ? null : text;
        return completion(
          identity,
          { content, toolCalls: calls },
          event.finish,
          event.usage,
          legacyFunctions,
        );
      }
    }
  }
  throw new TypeError("the reply ended without an end event");
}
