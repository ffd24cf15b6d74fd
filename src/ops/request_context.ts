/**
 * What the bridge learns about one request while serving it: its id, the
 * model and agent, whether it streams, how long it queued, its time to first
 * content, the CLI's exit code and usage. The app makes one per request;
 * handlers fill it in through {@linkcode contextOf} instead of threading
 * parameters; the app logs it as one line and records its metrics at the end.
 *
 * @module
 */

/** Header carrying the request id, accepted from clients and echoed on every response. */
export const REQUEST_ID_HEADER = "x-request-id";

/** A client's request id is kept if it is a sane token: up to 128 of `A-Z a-z 0-9 . _ : - / + =`. */
const SANE_ID = /^[A-Za-z0-9._:\/+=-]{1,128}$/;

/** The client's `X-Request-Id` if it is a sane token, otherwise a fresh UUID. */
export function requestIdOf(request: Request): string {
  const given = request.headers.get(REQUEST_ID_HEADER)?.trim();
  return given && SANE_ID.test(given) ? given : crypto.randomUUID();
}

/** Token usage as the request log shows it (Anthropic's names). */
export type Usage = Record<string, unknown>;

/**
 * What the request log needs of an engine run, described by shape so that
 * this layer does not depend on the engine.
 */
export interface TrackedRun {
  /** How the engine served the request. */
  path: string;
  /** Milliseconds spent waiting for a CLI slot. */
  queueWaitMs: number;
  reply: {
    ended: Promise<unknown>;
    readonly usage: {
      inputTokens: number;
      outputTokens: number;
      cacheReadTokens: number;
      cacheWriteTokens: number;
    };
  };
}

/** Per-request facts, filled in by whoever learns them. */
export class RequestContext {
  /** The request id (from `X-Request-Id` or generated). */
  readonly id: string;
  /** `performance.now()` when the request arrived. */
  readonly startedAt: number;
  /** The resolved model alias. */
  model?: string;
  /** The agent that served it. */
  agent?: string;
  /** True for a streamed (SSE) answer. */
  stream?: boolean;
  /** Milliseconds spent waiting for a run slot. */
  queueWaitMs?: number;
  /** How the engine served the request (`live`, `warm`, `cold`, `resume`, `tool_results`, `tool_fallback`). */
  path?: string;
  /** Milliseconds from arrival to the first content chunk (streams). */
  ttftMs?: number;
  /** Token usage reported by the CLI. */
  usage?: Usage;
  /** What the client asked (a prompt or a conversation); logged only at `LOG_LEVEL=debug`. */
  prompt?: unknown;
  /** The short `error` string of the error the request was answered with. */
  errorCode?: string;
  /** The request field at fault (a path such as `messages[0].content`), never its value. */
  errorParam?: string;
  #pending: Promise<unknown>[] = [];

  /** @param id the request id; see {@linkcode requestIdOf}. */
  constructor(id: string) {
    this.id = id;
    this.startedAt = performance.now();
  }

  /** Milliseconds since the request arrived. */
  elapsedMs(): number {
    return performance.now() - this.startedAt;
  }

  /**
   * Notes the error the request was answered with, for its log line: the
   * short code and the field at fault (`fields.param`), nothing else.
   */
  failed(error: { code: string; fields: Record<string, unknown> }): void {
    this.errorCode = error.code;
    const param = error.fields.param;
    this.errorParam = typeof param === "string" && param !== "" ? param.slice(0, 200) : undefined;
  }

  /** Records the time to first content, once. */
  markFirstContent(): void {
    this.ttftMs ??= this.elapsedMs();
  }

  /**
   * Follows an engine run: notes how it was served and its queue wait, makes
   * the request's log line wait until its reply is over, and then takes the
   * reply's token usage for the log.
   */
  track(run: TrackedRun): void {
    this.queueWaitMs = run.queueWaitMs;
    this.path = run.path;
    this.#pending.push(run.reply.ended.then(() => {
      const usage = run.reply.usage;
      this.usage = {
        input_tokens: usage.inputTokens,
        output_tokens: usage.outputTokens,
        cache_read_input_tokens: usage.cacheReadTokens,
        cache_creation_input_tokens: usage.cacheWriteTokens,
      };
    }, () => {}));
  }

  /** Resolves once every tracked run has exited. */
  async settled(): Promise<void> {
    while (this.#pending.length > 0) {
      const pending = this.#pending;
      this.#pending = [];
      await Promise.allSettled(pending);
    }
  }
}

const contexts = new WeakMap<Request, RequestContext>();

/** Attaches `context` to `request` for {@linkcode contextOf}. */
export function attachContext(request: Request, context: RequestContext): void {
  contexts.set(request, context);
}

/**
 * The context the app attached to `request`. A request that has none (a
 * handler called directly, in a test) gets a fresh one that nobody logs.
 */
export function contextOf(request: Request): RequestContext {
  let context = contexts.get(request);
  if (!context) {
    context = new RequestContext(requestIdOf(request));
    contexts.set(request, context);
  }
  return context;
}
