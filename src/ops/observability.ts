/**
 * Per-request observation: gives every request a {@linkcode RequestContext}
 * and an `X-Request-Id`, and when it is over (for a stream: when the body has
 * ended and its CLI run has exited) writes one JSON log line and records the
 * request metrics.
 *
 * Metrics label a request by the route pattern it matched (`other` when none
 * did), so no client can add series by inventing paths. A request whose
 * client was gone by the time its answer ended is logged and counted as 499
 * (client closed request), whatever the handler answered.
 *
 * The metric set lives here too ({@linkcode BridgeMetrics}); other parts add
 * scrape-time gauges through {@linkcode BridgeMetrics.gauge}.
 *
 * @module
 */
import { routeOf } from "../http/router.ts";
import type { Logger, LogLevel } from "./log.ts";
import { type Collect, Counter, Gauge, Histogram, type Labels, Registry } from "./metrics.ts";
import {
  attachContext,
  REQUEST_ID_HEADER,
  RequestContext,
  requestIdOf,
} from "./request_context.ts";

/** Paths polled by probes and scrapers: logged at `debug` only. */
const QUIET_PATHS = new Set(["/healthz", "/readyz", "/metrics"]);

/** Most characters of a prompt logged at `debug`. */
const MAX_LOGGED_PROMPT = 10_000;

/** Seconds; from a warm first token to a slow cold start. */
const TTFT_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 1.5, 2, 3, 5, 10, 30];
/** Seconds; from a probe to a ten-minute run. */
const DURATION_BUCKETS = [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

/** The bridge's metrics. */
export class BridgeMetrics {
  /** Everything rendered at `/metrics`. */
  readonly registry = new Registry();
  /** Requests by route, status and model. */
  readonly requests: Counter;
  /** Request duration (streams: until the body ended). */
  readonly duration: Histogram;
  /** Time to the first content chunk of streams. */
  readonly ttft: Histogram;

  constructor() {
    const r = this.registry;
    this.requests = r.register(
      new Counter(
        "bridge_http_requests_total",
        "HTTP requests answered, by route, status and model.",
        [
          "route",
          "status",
          "model",
        ],
      ),
    );
    this.duration = r.register(
      new Histogram(
        "bridge_http_request_duration_seconds",
        "Time from request to the end of the response (streams: to the last byte).",
        DURATION_BUCKETS,
        ["route", "stream"],
      ),
    );
    this.ttft = r.register(
      new Histogram(
        "bridge_ttft_seconds",
        "Time from request to the first content chunk of a streamed answer.",
        TTFT_BUCKETS,
        ["model"],
      ),
    );
    this.gauge(
      "bridge_process_resident_memory_bytes",
      "Resident memory of the bridge process itself (CLI children not included).",
      () => Deno.memoryUsage().rss,
    );
  }

  /** Exposes the CLI child processes: alive now, started, and stop signals sent. */
  watchProcesses(
    counts: () => { spawned: number; exited: number; sigterm: number; sigkill: number },
  ): void {
    this.gauge(
      "bridge_cli_processes_running",
      "Claude Code CLI child processes alive now (warm, live and running ones).",
      () => counts().spawned - counts().exited,
    );
    this.registry.register(
      new Counter(
        "bridge_cli_processes_spawned_total",
        "Claude Code CLI child processes started.",
        [],
        () => counts().spawned,
      ),
    );
    this.registry.register(
      new Counter(
        "bridge_cli_processes_killed_total",
        "Signals sent to stop CLI child processes, by signal.",
        ["signal"],
        () => [
          [{ signal: "SIGTERM" }, counts().sigterm],
          [{ signal: "SIGKILL" }, counts().sigkill],
        ],
      ),
    );
  }

  /** Exposes the concurrency limiter: slots held and requests waiting. */
  watchLimiter(limiter: { readonly active: number; readonly queued: number }): void {
    this.gauge(
      "bridge_runs_active",
      "CLI slots held now (running requests and warm processes; at most MAX_CONCURRENT).",
      () => limiter.active,
    );
    this.gauge(
      "bridge_runs_queued",
      "Requests waiting for a free CLI slot (at most MAX_QUEUE).",
      () => limiter.queued,
    );
  }

  /** Exposes the warm pool: processes per model that are ready, starting, and its target. */
  watchPool(
    status: () => { models: Record<string, Record<"target" | "ready" | "starting", number>> },
  ): void {
    this.gauge(
      "bridge_pool_processes",
      "Warm CLI processes per model, by state (ready, starting) and the pool's target.",
      () =>
        Object.entries(status().models).flatMap(([model, counts]) =>
          (["ready", "starting", "target"] as const).map((state): [Labels, number] => [
            { model, state },
            counts[state],
          ])
        ),
      ["model", "state"],
    );
  }

  /**
   * Exposes the conversation engine: parked sessions by state, and requests
   * served by path (live, warm, cold, resume, tool_results, tool_fallback).
   */
  watchEngine(
    status: () => { idle: number; suspended: number; paths: Readonly<Record<string, number>> },
  ): void {
    this.gauge(
      "bridge_live_sessions",
      "CLI processes kept alive for their conversation's next request, by state: idle (waiting for a user message) or suspended (waiting for tool results).",
      () => {
        const { idle, suspended } = status();
        return [[{ state: "idle" }, idle], [{ state: "suspended" }, suspended]];
      },
      ["state"],
    );
    this.registry.register(
      new Counter(
        "bridge_conversation_requests_total",
        "Requests the engine served, by path: tool_results (a suspended turn continued), live (a live session's next turn), warm, cold, resume (history from a session file), tool_fallback (tool results resumed from history).",
        ["path"],
        () =>
          Object.entries(status().paths).map((
            [path, count],
          ): [Labels, number] => [{ path }, count]),
      ),
    );
  }

  /**
   * Registers a gauge read at every scrape, e.g. the limiter's active and
   * queued runs or the warm pool's ready processes per model.
   */
  gauge(
    name: string,
    help: string,
    collect: Collect,
    labelNames: readonly string[] = [],
  ): Gauge {
    return this.registry.register(new Gauge(name, help, labelNames, collect));
  }
}

/** Status logged and counted for a request whose client left before its answer ended. */
export const CLIENT_CLOSED = 499;

/** What the client asked, as text for a debug log (at most {@linkcode MAX_LOGGED_PROMPT} characters). */
function promptText(prompt: unknown): string | undefined {
  if (prompt === undefined) return undefined;
  return (typeof prompt === "string" ? prompt : JSON.stringify(prompt)).slice(0, MAX_LOGGED_PROMPT);
}

/** Rounds milliseconds to 0.1 ms for the log. */
function ms(value: number | undefined): number | undefined {
  return value === undefined ? undefined : Math.round(value * 10) / 10;
}

/** Response with `name: value` added, copying it if its headers are immutable. */
function withHeader(response: Response, name: string, value: string): Response {
  try {
    response.headers.set(name, value);
    return response;
  } catch {
    const copy = new Response(response.body, response);
    copy.headers.set(name, value);
    return copy;
  }
}

/** Wraps the app's fetch handler with request ids, logging and metrics. */
export class Observability {
  readonly logger: Logger;
  readonly metrics: BridgeMetrics;

  constructor(logger: Logger, metrics: BridgeMetrics = new BridgeMetrics()) {
    this.logger = logger;
    this.metrics = metrics;
  }

  /**
   * Returns `handler` wrapped: each request gets a context (see
   * {@linkcode contextOf}) and its id echoed in `X-Request-Id`. `handler`
   * must turn its own errors into responses.
   */
  wrap(handler: (request: Request) => Promise<Response>): (request: Request) => Promise<Response> {
    return async (request) => {
      const context = new RequestContext(requestIdOf(request));
      attachContext(request, context);
      const path = new URL(request.url).pathname.slice(0, 256);
      const response = withHeader(await handler(request), REQUEST_ID_HEADER, context.id);
      const finish = (clientClosed = request.signal.aborted) =>
        void this.#finish(
          context,
          request.method,
          path,
          routeOf(request) ?? "other",
          clientClosed ? CLIENT_CLOSED : response.status,
          clientClosed,
        );
      if (!context.stream || !response.body) {
        finish();
        return response;
      }
      const observed = response.body.pipeThrough(
        new TransformStream<Uint8Array, Uint8Array>({
          flush: () => finish(),
          cancel: () => finish(true),
        }),
      );
      return new Response(observed, response);
    };
  }

  async #finish(
    context: RequestContext,
    method: string,
    path: string,
    route: string,
    status: number,
    clientClosed: boolean,
  ): Promise<void> {
    await context.settled();
    const durationMs = context.elapsedMs();
    const model = context.model ?? "";
    const { metrics } = this;
    metrics.requests.inc({ route, status: String(status), model });
    metrics.duration.observe(durationMs / 1000, { route, stream: String(context.stream === true) });
    if (context.stream && context.ttftMs !== undefined) {
      metrics.ttft.observe(context.ttftMs / 1000, { model });
    }
    const level: LogLevel = QUIET_PATHS.has(path) ? "debug" : status >= 500 ? "warn" : "info";
    this.logger.log(level, "request", {
      request_id: context.id,
      method,
      path,
      status,
      duration_ms: ms(durationMs),
      model: context.model,
      agent: context.agent,
      stream: context.stream,
      queue_wait_ms: ms(context.queueWaitMs),
      served: context.path,
      ttft_ms: ms(context.ttftMs),
      client_closed: clientClosed || undefined,
      error: status >= 400 ? context.errorCode : undefined,
      error_param: status >= 400 ? context.errorParam : undefined,
      usage: context.usage,
      prompt: this.logger.debugEnabled ? promptText(context.prompt) : undefined,
    });
  }
}
