/**
 * A scriptable fake of the Anthropic Messages API for tests, listening on
 * loopback only and recording every request.
 *
 * The Claude Code CLI (2.1.x) sends a `HEAD /` connectivity probe at startup
 * and then `POST /v1/messages?beta=true` with `"stream": true`; both are
 * handled here, as are non-streaming calls (answered with one JSON message)
 * and `POST /v1/messages/count_tokens`. Anything else gets a 404 error body.
 *
 * **Replies** are made of content blocks, in order: `text` (several
 * `text_delta`s), `tool_use` (several per reply; the input streamed as
 * `input_json_delta` fragments) and `thinking` (`thinking_delta`s, then a
 * `signature_delta`). See {@linkcode FakeReply}, and the builders
 * {@linkcode toolUse} and {@linkcode toolUses}.
 *
 * **Prompt caching** follows Anthropic's rule on every request (see
 * {@linkcode CacheOptions}): the prompt is the block sequence tools → system
 * blocks → message content blocks; a request writes the prefix ending at each
 * block carrying `cache_control` (when at least the minimum length) and reads
 * the longest prefix, ending at a block boundary no later than its last
 * breakpoint, that an earlier request (same model) wrote. Token counts are an
 * estimate: each block costs `ceil(length / 4)` tokens, where length is the
 * number of UTF-16 code units of the block's JSON without `cache_control`
 * (a message's string content counts as one text block). The computed usage
 * of each request is kept on its {@linkcode RecordedRequest}.
 *
 * **A hostile model** is a function script that looks at what the CLI sent
 * back: {@linkcode toolResults} lists the tool results of a request.
 *
 * @example
 * ```ts
 * await using fake = startFakeAnthropic([
 *   toolUse("Read", { file_path: "/etc/passwd" }),
 *   { text: ["Done."] },
 * ]);
 * // run the CLI with ANTHROPIC_BASE_URL=fake.url ...
 * console.log(toolResults(fake.posts().at(-1)!), fake.posts().at(-1)!.usage);
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

/** The prompt side of the usage, as the cache rule computed it for one request. */
export interface PromptUsage {
  /** Tokens neither read from nor written to the cache. */
  input_tokens: number;
  /** Tokens written to the cache (from the read prefix up to the last cacheable breakpoint). */
  cache_creation_input_tokens: number;
  /** Tokens of the longest prefix an earlier request wrote. */
  cache_read_input_tokens: number;
  /** All prompt tokens: the sum of the three above. */
  prompt_tokens: number;
}

/** A text block: each string is one `text_delta`. */
export interface FakeTextBlock {
  type: "text";
  text: string | string[];
}

/** A tool call: its input is streamed as `fragments` `input_json_delta`s (default 1). */
export interface FakeToolUseBlock {
  type: "tool_use";
  name: string;
  input: unknown;
  /** Default `toolu_fake_<request>_<block>`. */
  id?: string;
  /** Split the input JSON into this many fragments (default 1). */
  fragments?: number;
}

/** A thinking block: each string is one `thinking_delta`, then one `signature_delta`. */
export interface FakeThinkingBlock {
  type: "thinking";
  thinking: string | string[];
  /** Default `sig_fake`. */
  signature?: string;
}

/** One block of a scripted reply. */
export type FakeBlock = FakeTextBlock | FakeToolUseBlock | FakeThinkingBlock;

/** A successful reply, streamed as SSE events (or sent whole when not streaming). */
export interface FakeReply {
  /**
   * The reply's blocks, in order. When set, `text` and `toolUse` are ignored.
   * `[]` answers with no content at all.
   */
  content?: FakeBlock[];
  /** Text chunks, one `text_delta` each (default `["ok"]`; `[]` = no text). */
  text?: string[];
  /** Optional tool call after the text, e.g. `StructuredOutput`. */
  toolUse?: { name: string; input: unknown; id?: string };
  /** Delay in ms before the first event (default 0). */
  firstDelayMs?: number;
  /** Delay in ms between deltas (default 0). */
  delayMs?: number;
  /**
   * `stop_reason` (default `tool_use` when the reply holds a tool call, else
   * `end_turn`), e.g. `max_tokens`, `refusal`, `stop_sequence`.
   */
  stopReason?: string;
  /** `stop_sequence` reported (default `null`). */
  stopSequence?: string;
  /**
   * Usage overrides, each field winning over the computed one. When any
   * prompt-side field (`input_tokens`, `cache_*`) is given, the prompt-side
   * fields not given are 0: the script then describes the whole prompt.
   * Default output: one token per delta.
   */
  usage?: Partial<FakeUsage>;
  /** Model id echoed back (default: the requested model). */
  model?: string;
  /**
   * Fail mid-stream after the first text block's deltas: send an SSE `error`
   * event (as Anthropic does for a mid-stream overload; type default
   * `overloaded_error`) and end the body, with no `message_stop`. The CLI then
   * retries the call once without streaming, so script that next response too.
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
  /** Delay in ms before answering (default 0). */
  firstDelayMs?: number;
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
  /** For `POST /v1/messages`: the prompt usage the cache rule computed. */
  usage?: PromptUsage;
  /** For `POST /v1/messages`: the usage the fake reported (after script overrides). */
  reported?: FakeUsage;
}

/** A queue of responses (the last one repeats) or a function choosing one. */
export type FakeScript =
  | FakeResponse[]
  | ((req: RecordedRequest, index: number) => FakeResponse | Promise<FakeResponse>);

/** How the fake applies Anthropic's prompt-cache rule. */
export interface CacheOptions {
  /** Apply the rule at all (default true; false reports every prompt token as input). */
  enabled?: boolean;
  /** The shortest prefix, in tokens, a breakpoint writes (default 1024, like Sonnet). */
  minTokens?: number;
}

/** Options of {@linkcode startFakeAnthropic}. */
export interface FakeAnthropicOptions {
  /** The prompt-cache rule (default: on, 1024 tokens minimum). */
  cache?: CacheOptions;
}

/** Handle returned by {@linkcode startFakeAnthropic}. */
export interface FakeAnthropic extends AsyncDisposable {
  /** Base URL, suitable for `ANTHROPIC_BASE_URL`. */
  url: string;
  /** Every request received, in arrival order. */
  requests: RecordedRequest[];
  /** The `POST /v1/messages` requests only. */
  posts(): RecordedRequest[];
  /** Aborts pending replies and stops the server. */
  close(): Promise<void>;
}

/** What the CLI sent back for one tool call. */
export interface ToolResult {
  tool_use_id: string;
  is_error: boolean;
  /** The result's text (a string content, or its text blocks joined with "\n"). */
  text: string;
}

// ------------------------------------------------------------------ builders

/**
 * A reply calling one tool, optionally after some text.
 *
 * @example `toolUse("Read", { file_path: "/etc/passwd" })`
 */
export function toolUse(
  name: string,
  input: unknown,
  options: { id?: string; fragments?: number; text?: string[] } = {},
): FakeReply {
  return toolUses([{ name, input, id: options.id, fragments: options.fragments }], options.text);
}

/** A reply calling several tools in one message, optionally after some text. */
export function toolUses(
  calls: { name: string; input: unknown; id?: string; fragments?: number }[],
  text: string[] = [],
): FakeReply {
  const content: FakeBlock[] = text.length ? [{ type: "text", text }] : [];
  for (const call of calls) {
    const block: FakeToolUseBlock = { type: "tool_use", name: call.name, input: call.input };
    if (call.id !== undefined) block.id = call.id;
    if (call.fragments !== undefined) block.fragments = call.fragments;
    content.push(block);
  }
  return { content };
}

/** The text of a Messages API `content` (a string, or its text blocks joined with "\n"). */
export function contentText(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content.filter((block) => typeof block?.text === "string")
    .map((block) => block.text).join("\n");
}

/**
 * The tool results in a request's last user message (or in all its messages
 * with `all`), in order.
 */
export function toolResults(request: RecordedRequest, all = false): ToolResult[] {
  const messages: { role: string; content: unknown }[] = request.body?.messages ?? [];
  const users = messages.filter((message) => message.role === "user");
  const searched = all ? users : users.slice(-1);
  return searched.flatMap((message) => Array.isArray(message.content) ? message.content : [])
    .filter((block) => block?.type === "tool_result")
    .map((block) => ({
      tool_use_id: String(block.tool_use_id),
      is_error: block.is_error === true,
      text: contentText(block.content),
    }));
}

/** The text of a request's last user message (tool results excluded). */
export function lastUserText(request: RecordedRequest): string {
  const messages: { role: string; content: unknown }[] = request.body?.messages ?? [];
  const last = messages.filter((message) => message.role === "user").at(-1);
  return contentText(last?.content);
}

// -------------------------------------------------------------- cache rule

/** A small, fast, deterministic 53-bit string hash (cyrb53). */
function hash(text: string, seed: number): number {
  let h1 = 0xdeadbeef ^ seed;
  let h2 = 0x41c6ce57 ^ seed;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

/** One block of the prompt sequence: its estimated tokens and whether it is a breakpoint. */
interface PromptBlock {
  key: string;
  tokens: number;
  breakpoint: boolean;
}

/** Estimated tokens of a block: `ceil(JSON length / 4)`, `cache_control` excluded. */
export function blockTokens(block: unknown): number {
  return Math.ceil(blockJson(block).length / 4);
}

function blockJson(block: unknown): string {
  if (block && typeof block === "object" && "cache_control" in block) {
    const { cache_control: _, ...rest } = block as Record<string, unknown>;
    return JSON.stringify(rest);
  }
  return JSON.stringify(block);
}

function hasBreakpoint(block: unknown): boolean {
  return !!block && typeof block === "object" &&
    (block as Record<string, unknown>).cache_control != null;
}

// deno-lint-ignore no-explicit-any
function promptBlocks(body: any): PromptBlock[] {
  const blocks: PromptBlock[] = [];
  const add = (prefix: string, block: unknown) => {
    const json = blockJson(block);
    blocks.push({
      key: prefix + json,
      tokens: Math.ceil(json.length / 4),
      breakpoint: hasBreakpoint(block),
    });
  };
  for (const tool of body?.tools ?? []) add("tool:", tool);
  const system = body?.system;
  if (typeof system === "string") add("system:", { type: "text", text: system });
  else for (const block of system ?? []) add("system:", block);
  for (const message of body?.messages ?? []) {
    const content = typeof message.content === "string"
      ? [{ type: "text", text: message.content }]
      : message.content ?? [];
    for (const block of content) add(`${message.role}:`, block);
  }
  return blocks;
}

/** Anthropic's prefix cache over the requests one fake receives. */
class PromptCache {
  #written = new Set<string>();
  #enabled: boolean;
  #minTokens: number;

  constructor(options: CacheOptions = {}) {
    this.#enabled = options.enabled ?? true;
    this.#minTokens = options.minTokens ?? 1024;
  }

  /**
   * Computes a request's prompt usage; `commit()` then records the prefixes
   * it writes (only a request the API answered writes to the cache).
   */
  // deno-lint-ignore no-explicit-any
  measure(body: any): { usage: PromptUsage; commit(): void } {
    const blocks = promptBlocks(body);
    const model = String(body?.model ?? "");
    // Prefix keys and token totals at each block boundary (after block i).
    const keys: string[] = [];
    const totals: number[] = [];
    let h = hash(model, 0);
    let total = 0;
    for (const block of blocks) {
      h = hash(`${h}\u0000${block.key}`, 1);
      total += block.tokens;
      keys.push(`${model}\u0000${h}`);
      totals.push(total);
    }
    const uncached = {
      usage: {
        input_tokens: total,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
        prompt_tokens: total,
      },
      commit() {},
    };
    if (!this.#enabled) return uncached;
    const written: string[] = [];
    let lastBreakpoint = -1;
    let lastCacheable = -1;
    blocks.forEach((block, i) => {
      if (!block.breakpoint) return;
      lastBreakpoint = i;
      if (totals[i]! >= this.#minTokens) {
        lastCacheable = i;
        written.push(keys[i]!);
      }
    });
    let read = 0;
    for (let i = lastBreakpoint; i >= 0; i--) {
      if (this.#written.has(keys[i]!)) {
        read = totals[i]!;
        break;
      }
    }
    const creation = lastCacheable >= 0 ? Math.max(0, totals[lastCacheable]! - read) : 0;
    return {
      usage: {
        input_tokens: total - read - creation,
        cache_creation_input_tokens: creation,
        cache_read_input_tokens: read,
        prompt_tokens: total,
      },
      commit: () => written.forEach((key) => this.#written.add(key)),
    };
  }
}

// ------------------------------------------------------------------ replies

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

const chunksOf = (text: string | string[]) => typeof text === "string" ? [text] : text;

/** Splits `text` into `n` (at least 1) fragments of near-equal length, never inside a code point. */
function fragmentsOf(text: string, n: number): string[] {
  if (n <= 1) return [text];
  const points = Array.from(text);
  const count = Math.min(n, points.length || 1);
  const size = Math.ceil(points.length / count);
  return Array.from({ length: count }, (_, i) => points.slice(i * size, (i + 1) * size).join(""));
}

/** The reply's blocks, with the legacy `text`/`toolUse` fields turned into blocks. */
function blocksOf(r: FakeReply, n: number): FakeBlock[] {
  const blocks: FakeBlock[] =
    r.content?.map((block, i) =>
      block.type === "tool_use" ? { ...block, id: block.id ?? `toolu_fake_${n}_${i}` } : block
    ) ?? [];
  if (r.content) return blocks;
  const text = r.text ?? ["ok"];
  if (text.length) blocks.push({ type: "text", text });
  if (r.toolUse) {
    const { name, input, id = `toolu_fake_${n}` } = r.toolUse;
    blocks.push({ type: "tool_use", name, input, id });
  }
  return blocks;
}

/** The complete content block (as in a non-streamed message) for a scripted one. */
function finalBlock(block: FakeBlock): Record<string, unknown> {
  switch (block.type) {
    case "text":
      return { type: "text", text: chunksOf(block.text).join("") };
    case "tool_use":
      return { type: "tool_use", id: block.id, name: block.name, input: block.input };
    case "thinking":
      return {
        type: "thinking",
        thinking: chunksOf(block.thinking).join(""),
        signature: block.signature ?? "sig_fake",
      };
  }
}

/** Number of deltas a block streams (one output token each, by default). */
function deltaCount(block: FakeBlock): number {
  switch (block.type) {
    case "text":
      return chunksOf(block.text).length;
    case "tool_use":
      return Math.max(1, block.fragments ?? 1);
    case "thinking":
      return chunksOf(block.thinking).length + 1;
  }
}

/** The usage reported: the computed prompt usage, the script's overrides winning. */
function usageOf(r: FakeReply, blocks: FakeBlock[], prompt: PromptUsage): FakeUsage {
  const output = Math.max(1, blocks.reduce((sum, block) => sum + deltaCount(block), 0));
  const o = r.usage ?? {};
  const scripted = o.input_tokens !== undefined || o.cache_creation_input_tokens !== undefined ||
    o.cache_read_input_tokens !== undefined;
  return {
    input_tokens: o.input_tokens ?? (scripted ? 0 : prompt.input_tokens),
    output_tokens: o.output_tokens ?? output,
    cache_creation_input_tokens: o.cache_creation_input_tokens ??
      (scripted ? 0 : prompt.cache_creation_input_tokens),
    cache_read_input_tokens: o.cache_read_input_tokens ??
      (scripted ? 0 : prompt.cache_read_input_tokens),
  };
}

/** Builds the final (non-streamed) message for a reply. */
function buildMessage(r: FakeReply, blocks: FakeBlock[], model: string, n: number, u: FakeUsage) {
  const hasTool = blocks.some((block) => block.type === "tool_use");
  return {
    id: `msg_fake_${n}`,
    type: "message",
    role: "assistant",
    model: r.model ?? model,
    content: blocks.map(finalBlock),
    stop_reason: r.stopReason ?? (hasTool ? "tool_use" : "end_turn"),
    stop_sequence: r.stopSequence ?? null,
    usage: u,
  };
}

/** Streams a reply as Anthropic SSE events, honouring the scripted delays. */
function sseResponse(
  r: FakeReply,
  blocks: FakeBlock[],
  message: ReturnType<typeof buildMessage>,
  closing: AbortSignal,
): Response {
  const cancelled = new AbortController();
  const signal = AbortSignal.any([cancelled.signal, closing]);
  const enc = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    async start(ctrl) {
      const send = (type: string, data: Record<string, unknown> = {}) => {
        if (signal.aborted) return;
        ctrl.enqueue(enc.encode(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`));
      };
      let deltas = 0;
      const delta = async (index: number, delta: Record<string, unknown>) => {
        if (deltas++ > 0) await sleep(r.delayMs ?? 0, signal);
        send("content_block_delta", { index, delta });
      };
      await sleep(r.firstDelayMs ?? 0, signal);
      const usage = { ...message.usage, output_tokens: 1 };
      send("message_start", { message: { ...message, content: [], stop_reason: null, usage } });
      let failed = false;
      for (const [index, block] of blocks.entries()) {
        if (block.type === "text") {
          send("content_block_start", { index, content_block: { type: "text", text: "" } });
          for (const text of chunksOf(block.text)) await delta(index, { type: "text_delta", text });
          if (r.failAfterText && !failed) {
            failed = true;
            if (signal.aborted) return;
            const type = r.failAfterText.errorType ?? "overloaded_error";
            send("error", { error: { type, message: r.failAfterText.message ?? "Overloaded" } });
            return ctrl.close();
          }
        } else if (block.type === "tool_use") {
          const content_block = { type: "tool_use", id: block.id, name: block.name, input: {} };
          send("content_block_start", { index, content_block });
          for (
            const partial_json of fragmentsOf(JSON.stringify(block.input), block.fragments ?? 1)
          ) {
            await delta(index, { type: "input_json_delta", partial_json });
          }
        } else {
          const content_block = { type: "thinking", thinking: "", signature: "" };
          send("content_block_start", { index, content_block });
          for (const thinking of chunksOf(block.thinking)) {
            await delta(index, { type: "thinking_delta", thinking });
          }
          const signature = block.signature ?? "sig_fake";
          await delta(index, { type: "signature_delta", signature });
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

function isMessagesPost(request: RecordedRequest): boolean {
  return request.method === "POST" && request.path.split("?")[0] === "/v1/messages";
}

/**
 * Starts the fake on `127.0.0.1` with an ephemeral port.
 *
 * @param script Responses for successive `/v1/messages` calls (the last entry
 *   repeats; an empty array means "ok" forever) or a function picking one.
 * @param options The prompt-cache rule's settings.
 * @returns The base URL, the live list of recorded requests and `close()`.
 */
export function startFakeAnthropic(
  script: FakeScript = [],
  options: FakeAnthropicOptions = {},
): FakeAnthropic {
  const requests: RecordedRequest[] = [];
  const closing = new AbortController();
  const cache = new PromptCache(options.cache);
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
      return json({ input_tokens: promptBlocks(body).reduce((sum, b) => sum + b.tokens, 0) });
    }
    if (req.method !== "POST" || url.pathname !== "/v1/messages") {
      const message = `no route ${req.method} ${url.pathname}`;
      return errorResponse({ status: 404, errorType: "not_found_error", message });
    }
    const breakpoints = promptBlocks(body).filter((block) => block.breakpoint).length;
    if (breakpoints > 4) {
      return errorResponse({
        status: 400,
        errorType: "invalid_request_error",
        message: `A maximum of 4 blocks with cache_control may be provided. Found ${breakpoints}.`,
      });
    }
    const measured = cache.measure(body);
    rec.usage = measured.usage;
    const n = count++;
    const r = typeof script === "function"
      ? await script(rec, n)
      : script[Math.min(n, script.length - 1)] ?? {};
    if ("status" in r) {
      await sleep(r.firstDelayMs ?? 0, closing.signal);
      return errorResponse(r);
    }
    measured.commit();
    const model = String(rec.body?.model ?? "claude-fake");
    const blocks = blocksOf(r, n);
    rec.reported = usageOf(r, blocks, rec.usage);
    const message = buildMessage(r, blocks, model, n, rec.reported);
    if (rec.body?.stream) return sseResponse(r, blocks, message, closing.signal);
    await sleep(r.firstDelayMs ?? 0, closing.signal);
    return json(message);
  };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
  const close = async () => {
    closing.abort();
    await server.shutdown();
  };
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    requests,
    posts: () => requests.filter(isMessagesPost),
    close,
    [Symbol.asyncDispose]: close,
  };
}
