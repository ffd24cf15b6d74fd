/**
 * A minimal streaming chat client for benchmarks: posts a chat completion
 * with `stream: true` (and usage in the last chunk) and reports when each
 * content chunk arrived, the whole answer and the usage.
 *
 * @module
 */
import { BENCH_KEY } from "./bridge_process.ts";
import { wallNow } from "./stats.ts";

/** The usage of a chat completion. */
export interface ChatUsage {
  prompt_tokens: number;
  completion_tokens: number;
  prompt_tokens_details?: { cached_tokens?: number };
}

/** What one streamed request gave. */
export interface StreamOutcome {
  /** HTTP status. */
  status: number;
  /** Milliseconds from sending the request to the first non-empty content chunk. */
  ttftMs: number;
  /** Milliseconds from sending the request to the end of the body. */
  totalMs: number;
  /** Content chunks received. */
  chunks: number;
  /** The answer's text. */
  text: string;
  /** The usage chunk, if one came. */
  usage?: ChatUsage;
  /** True when the stream ended with `data: [DONE]` and no error event. */
  complete: boolean;
  /** The error body or event, when there was one. */
  error?: string;
}

/**
 * Streams one chat completion. `onContent(text, receivedAt)` is called for
 * each content chunk with the wall-clock time (ms) its bytes were read.
 */
export async function streamChat(
  baseUrl: string,
  body: Record<string, unknown>,
  onContent?: (text: string, receivedAt: number) => void,
): Promise<StreamOutcome> {
  const started = performance.now();
  const response = await fetch(`${baseUrl}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${BENCH_KEY}` },
    body: JSON.stringify({ ...body, stream: true, stream_options: { include_usage: true } }),
  });
  let ttftMs = NaN;
  let chunks = 0;
  let done = false;
  let error: string | undefined;
  let text = "";
  let usage: ChatUsage | undefined;
  if (!response.ok || !response.body) {
    const error = await response.text().catch(() => "");
    return {
      status: response.status,
      ttftMs,
      totalMs: performance.now() - started,
      chunks,
      text,
      complete: false,
      error,
    };
  }
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const bytes of response.body) {
    const receivedAt = wallNow();
    buffer += decoder.decode(bytes, { stream: true });
    let end: number;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      if (!event.startsWith("data: ")) continue;
      const data = event.slice(6);
      if (data === "[DONE]") {
        done = true;
        continue;
      }
      const parsed = JSON.parse(data);
      if (parsed.error) error = data;
      if (parsed.usage) usage = parsed.usage;
      const content: string | undefined = parsed.choices?.[0]?.delta?.content;
      if (!content) continue;
      if (chunks++ === 0) ttftMs = performance.now() - started;
      text += content;
      onContent?.(content, receivedAt);
    }
  }
  return {
    status: response.status,
    ttftMs,
    totalMs: performance.now() - started,
    chunks,
    text,
    usage,
    complete: done && error === undefined,
    error,
  };
}

/** Throws with what the bridge said unless `outcome` is a complete stream. */
export function assertComplete(outcome: StreamOutcome, what: string): StreamOutcome {
  if (!outcome.complete) {
    throw new Error(
      `${what} failed (HTTP ${outcome.status}): ${outcome.error?.slice(0, 500) ?? "no [DONE]"}`,
    );
  }
  return outcome;
}
