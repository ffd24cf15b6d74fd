/**
 * A tiny, scriptable fake of the Anthropic Messages API for tests.
 *
 * It listens on loopback only and records every request. The Claude Code CLI
 * (2.1.x) sends a `HEAD /` connectivity probe at startup and then
 * `POST /v1/messages?beta=true` with `"stream": true`; both are handled here,
 * as are non-streaming calls (answered with one JSON message) and
 * `POST /v1/messages/count_tokens`. Anything else gets a 404 error body.
 *
 * @example
 * ```ts
 * await using fake = startFakeAnthropic([{ text: ["Hel", "lo"] }]);
 * // run the CLI with ANTHROPIC_BASE_URL=fake.url ...
 * console.log(fake.requests.at(-1)?.body);
 * ```
 * @module
 */

/** Token usage reported back to the client. */
export interface FakeUsage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
}

/** A successful reply, streamed as `text_delta` (and tool) events. */
export interface FakeReply {
  /** Text chunks, one `text_delta` each (default `["ok"]`; `[]` = no text). */
  text?: string[];
  /** Optional tool call after the text, e.g. `StructuredOutput`. */
  toolUse?: { name: string; input: unknown; id?: string };
  /** Delay in ms before the first event (default 0). */
  firstDelayMs?: number;
  /** Delay in ms between text chunks (default 0). */
  delayMs?: number;
  /** `stop_reason` (default `end_turn`, or `tool_use` with `toolUse`). */
  stopReason?: string;
  /** Usage overrides (defaults: 10 input, one output token per chunk). */
  usage?: Partial<FakeUsage>;
  /** Model id echoed back (default: the requested model). */
  model?: string;
  /**
   * Fail mid-stream after the text deltas: send an SSE `error` event (as
   * Anthropic does for a mid-stream overload; type default `overloaded_error`)
   * and end the body, with no `message_stop`. The CLI then retries the call
   * once without streaming, so script that next response too.
   */
  failAfterText?: { errorType?: string; message?: string };
}

/** An HTTP error answered with an Anthropic error JSON body. */
export interface FakeError {
  /** HTTP status, e.g. 429. */
  status: number;
  /** Anthropic error type (default `api_error`). */
  errorType?: string;
  /** Error message (default `fake error <status>`). */
  message?: string;
  /** Extra response headers, e.g. `{ "retry-after": "1" }`. */
  headers?: Record<string, string>;
}

/** What the fake answers to one `/v1/messages` request. */
export type FakeResponse = FakeReply | FakeError;

/** A request received by the fake. */
export interface RecordedRequest {
  method: string;
  /** Path plus query string, e.g. `/v1/messages?beta=true`. */
  path: string;
  headers: Record<string, string>;
  /** Parsed JSON body, or `undefined` when absent or not JSON. */
  // deno-lint-ignore no-explicit-any
  body: any;
  /** `performance.now()` when the request arrived. */
  at: number;
}

/** A queue of responses (the last one repeats) or a function choosing one. */
export type FakeScript =
  | FakeResponse[]
  | ((req: RecordedRequest, index: number) => FakeResponse | Promise<FakeResponse>);

/** Handle returned by {@linkcode startFakeAnthropic}. */
export interface FakeAnthropic extends AsyncDisposable {
  /** Base URL, suitable for `ANTHROPIC_BASE_URL`. */
  url: string;
  /** Every request received, in arrival order. */
  requests: RecordedRequest[];
  /** Aborts pending replies and stops the server. */
  close(): Promise<void>;
}

/** Resolves after `ms`, or early when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (ms <= 0 || signal.aborted) return resolve();
    const t = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => (clearTimeout(t), resolve()), { once: true });
  });
}

function json(data: unknown, status = 200, headers: Record<string, string> = {}): Response {
  const h = { "content-type": "application/json", "request-id": "req_fake", ...headers };
  return new Response(JSON.stringify(data), { status, headers: h });
}

function errorResponse(e: FakeError): Response {
  const error = {
    type: e.errorType ?? "api_error",
    message: e.message ?? `fake error ${e.status}`,
  };
  return json({ type: "error", error }, e.status, e.headers);
}

/** Builds the final (non-streamed) message for a reply. */
function buildMessage(r: FakeReply, model: string, n: number) {
  const text = r.text ?? ["ok"];
  const content: Record<string, unknown>[] = text.length
    ? [{ type: "text", text: text.join("") }]
    : [];
  if (r.toolUse) {
    const { name, input, id = `toolu_fake_${n}` } = r.toolUse;
    content.push({ type: "tool_use", id, name, input });
  }
  const usage: FakeUsage = {
    input_tokens: 10,
    output_tokens: Math.max(1, text.length),
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
    ...r.usage,
  };
  const stop_reason = r.stopReason ?? (r.toolUse ? "tool_use" : "end_turn");
  return {
    id: `msg_fake_${n}`,
    type: "message",
    role: "assistant",
    model: r.model ?? model,
    content,
    stop_reason,
    stop_sequence: null,
    usage,
  };
}

/** Streams a reply as Anthropic SSE events, honouring the scripted delays. */
function sseResponse(r: FakeReply, model: string, n: number, closing: AbortSignal): Response {
  const message = buildMessage(r, model, n);
  const cancelled = new AbortController();
  const signal = AbortSignal.any([cancelled.signal, closing]);
  const enc = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    async start(ctrl) {
      const send = (type: string, data: Record<string, unknown> = {}) => {
        if (signal.aborted) return;
        ctrl.enqueue(enc.encode(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`));
      };
      const failMidStream = (how: NonNullable<FakeReply["failAfterText"]>) => {
        if (signal.aborted) return;
        const type = how.errorType ?? "overloaded_error";
        send("error", { error: { type, message: how.message ?? "Overloaded" } });
        ctrl.close();
      };
      await sleep(r.firstDelayMs ?? 0, signal);
      const usage = { ...message.usage, output_tokens: 1 };
      send("message_start", { message: { ...message, content: [], stop_reason: null, usage } });
      for (const [index, block] of message.content.entries()) {
        if (block.type === "text") {
          send("content_block_start", { index, content_block: { type: "text", text: "" } });
          for (const [i, text] of (r.text ?? ["ok"]).entries()) {
            if (i > 0) await sleep(r.delayMs ?? 0, signal);
            send("content_block_delta", { index, delta: { type: "text_delta", text } });
          }
          if (r.failAfterText) return failMidStream(r.failAfterText);
        } else {
          send("content_block_start", { index, content_block: { ...block, input: {} } });
          const partial_json = JSON.stringify(block.input);
          send("content_block_delta", { index, delta: { type: "input_json_delta", partial_json } });
        }
        send("content_block_stop", { index });
      }
      const { stop_reason, stop_sequence } = message;
      send("message_delta", { delta: { stop_reason, stop_sequence }, usage: message.usage });
      send("message_stop");
      try {
        ctrl.close();
      } catch { /* already cancelled by the client */ }
    },
    cancel: () => cancelled.abort(),
  });
  const headers = {
    "content-type": "text/event-stream",
    "cache-control": "no-cache",
    "request-id": "req_fake",
  };
  return new Response(body, { headers });
}

/**
 * Starts the fake on `127.0.0.1` with an ephemeral port.
 *
 * @param script Responses for successive `/v1/messages` calls (the last entry
 *   repeats; an empty array means "ok" forever) or a function picking one.
 * @returns The base URL, the live list of recorded requests and `close()`.
 */
export function startFakeAnthropic(script: FakeScript = []): FakeAnthropic {
  const requests: RecordedRequest[] = [];
  const closing = new AbortController();
  let count = 0;
  const handler = async (req: Request): Promise<Response> => {
    const url = new URL(req.url);
    const raw = req.body ? await req.text() : "";
    let body: unknown;
    try {
      body = raw ? JSON.parse(raw) : undefined;
    } catch { /* not JSON: keep undefined */ }
    const rec: RecordedRequest = {
      method: req.method,
      path: url.pathname + url.search,
      headers: Object.fromEntries(req.headers),
      body,
      at: performance.now(),
    };
    requests.push(rec);
    if (req.method === "HEAD") return new Response(null);
    if (req.method === "POST" && url.pathname === "/v1/messages/count_tokens") {
      return json({ input_tokens: 42 });
    }
    if (req.method !== "POST" || url.pathname !== "/v1/messages") {
      const message = `no route ${req.method} ${url.pathname}`;
      return errorResponse({ status: 404, errorType: "not_found_error", message });
    }
    const n = count++;
    const r = typeof script === "function"
      ? await script(rec, n)
      : script[Math.min(n, script.length - 1)] ?? {};
    if ("status" in r) return errorResponse(r);
    const model = String(rec.body?.model ?? "claude-fake");
    if (rec.body?.stream) return sseResponse(r, model, n, closing.signal);
    await sleep(r.firstDelayMs ?? 0, closing.signal);
    return json(buildMessage(r, model, n));
  };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
  const close = async () => {
    closing.abort();
    await server.shutdown();
  };
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    requests,
    close,
    [Symbol.asyncDispose]: close,
  };
}
