/**
 * A minimal streaming chat client for benchmarks: posts a chat completion
 * with `stream: true` and reports when each content chunk arrived.
 *
 * @module
 */
import { BENCH_KEY } from "./bridge_process.ts";
import { wallNow } from "./stats.ts";

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
  /** True when the stream ended with `data: [DONE]` and no error event. */
  complete: boolean;
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
    body: JSON.stringify({ ...body, stream: true }),
  });
  let ttftMs = NaN;
  let chunks = 0;
  let done = false;
  let failed = false;
  if (!response.ok || !response.body) {
    await response.body?.cancel();
    return {
      status: response.status,
      ttftMs,
      totalMs: performance.now() - started,
      chunks,
      complete: false,
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
      if (parsed.error) failed = true;
      const text: string | undefined = parsed.choices?.[0]?.delta?.content;
      if (!text) continue;
      if (chunks++ === 0) ttftMs = performance.now() - started;
      onContent?.(text, receivedAt);
    }
  }
  return {
    status: response.status,
    ttftMs,
    totalMs: performance.now() - started,
    chunks,
    complete: done && !failed,
  };
}
