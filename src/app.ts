/**
 * The HTTP application: routes, authentication and the one place where
 * errors become responses. Unexpected errors are logged and answered with a
 * 500 that leaks nothing.
 *
 * @module
 */
import type { Agent } from "./claude/agents.ts";
import { BearerAuth } from "./http/auth.ts";
import { chatHandler } from "./openai/chat_handler.ts";
import { responsesHandler, withResponsesErrors } from "./openai/responses_handler.ts";
import { ResponsesStore } from "./openai/responses_store.ts";
import type { Config } from "./config.ts";
import { executeHandler } from "./native/execute_handler.ts";
import { modelHandlers } from "./openai/models.ts";
import { HttpError } from "./http/http_error.ts";
import { Logger } from "./ops/log.ts";
import { PROMETHEUS_CONTENT_TYPE } from "./ops/metrics.ts";
import { Observability } from "./ops/observability.ts";
import { CliProbe, Readiness } from "./ops/readiness.ts";
import { contextOf } from "./ops/request_context.ts";
import { type Handler, route, router } from "./http/router.ts";
import { checkToolUse } from "./claude/confinement.ts";
import { childProcessCounts } from "./claude/process.ts";
import { ProcessGroupReaper } from "./claude/reaper.ts";
import { Engine } from "./engine/engine.ts";
import { Limiter } from "./engine/limiter.ts";
import { WarmPool } from "./engine/warm_pool.ts";

/** What the app is built from. */
export interface AppOptions {
  config: Config;
  agents: ReadonlyMap<string, Agent>;
  /** Variables set for every CLI child on top of the inherited environment. */
  childEnv?: Record<string, string>;
  /** Where log lines go; default: a stdout logger at `config.logLevel`. */
  logger?: Logger;
}

/** Finds a configured agent or explains which variable names a missing one. */
function requireAgent(agents: ReadonlyMap<string, Agent>, name: string, variable: string): Agent {
  const agent = agents.get(name);
  if (!agent) {
    throw new TypeError(
      `${variable}="${name}" names no agent; available: ${
        [...agents.keys()].join(", ") || "none"
      }.`,
    );
  }
  return agent;
}

/** The server's fetch handler. Disposing it stops every CLI process (warm, live and running). */
export type App = ((request: Request) => Promise<Response>) & AsyncDisposable & {
  /** The warm pool, unless `WARM_POOL=off`. */
  readonly pool?: WarmPool;
  /** The `MAX_CONCURRENT` gate every CLI process holds a slot of. */
  readonly limiter: Limiter;
  /** The conversation engine. */
  readonly engine: Engine;
  /**
   * Shuts the CLI side down: new runs get 503, running ones may finish for up
   * to `graceMs`, then every CLI process (warm ones too) is stopped; resolves
   * once all have exited.
   */
  close(graceMs: number): Promise<void>;
};

/** Builds the server's fetch handler (and starts the warm pool). */
export function createApp(
  { config, agents, childEnv, logger = new Logger(config.logLevel) }: AppOptions,
): App {
  const auth = new BearerAuth(config.apiKeys);
  const observability = new Observability(logger);
  const readiness = new Readiness(
    new CliProbe(config.claudeBin, {
      onChange: ({ ok, ...status }) =>
        ok ? logger.info("cli ready", status) : logger.warn("cli not ready", status),
    }),
  );
  const limiter = new Limiter({ maxActive: config.maxConcurrent, maxQueue: config.maxQueue });
  const warn = (message: string, fields: Record<string, unknown>) => logger.warn(message, fields);
  // Signals whole process groups, and kills them if the bridge itself dies.
  const reaper = ProcessGroupReaper.start();
  if (!reaper.available) {
    logger.warn("process groups cannot be signalled; only each CLI itself is", {
      reason: reaper.unavailableReason,
    });
  }
  const engine = new Engine({
    claudeBin: config.claudeBin,
    workspaceRoot: config.workspaceRoot,
    childEnv,
    killGraceMs: config.killGraceMs,
    maxLineLength: config.maxLineChars,
    firstEventTimeoutMs: config.firstEventTimeoutMs,
    limiter,
    live: {
      maxIdle: config.liveSessions,
      idleMs: config.liveSessionIdleMs,
      toolResultMs: config.toolResultTimeoutMs,
    },
    groups: reaper,
    guard: (workspace) => (toolName, input) =>
      Promise.resolve(
        checkToolUse(toolName, input, { root: workspace.workDir, realRoot: workspace.realWorkDir }),
      ),
    warn,
  });
  const streamAgent = requireAgent(agents, config.streamAgent, "STREAM_AGENT");
  const pool = Object.keys(config.warmPool).length === 0 ? undefined : new WarmPool({
    agent: streamAgent,
    sizes: config.warmPool,
    maxAgeMs: config.warmPoolMaxAgeMs,
    launch: (spec, permit) => engine.launch(spec, permit),
    limiter,
    onFailure: (model, reason) => logger.warn("warm process failed", { model, reason }),
  });
  if (pool) {
    engine.usePool(pool);
    readiness.add("pool", () => ({ ...pool.status() }));
    observability.metrics.watchPool(() => pool.status());
  }
  readiness.add("sessions", () => ({ ...engine.status() }));
  observability.metrics.watchProcesses(() => childProcessCounts);
  observability.metrics.watchLimiter(limiter);
  observability.metrics.watchEngine(() => ({ ...engine.status(), paths: engine.paths }));
  const models = { models: config.models, defaultModel: config.defaultModel };
  const common = {
    engine,
    models,
    maxBodyBytes: config.maxBodyBytes,
    requestTimeoutMs: config.requestTimeoutMs,
  };
  const completionAgent = requireAgent(agents, config.completionAgent, "COMPLETION_AGENT");
  const authed = (handler: (request: Request) => Promise<Response>): Handler => async (request) => {
    await auth.verify(request);
    return await handler(request);
  };
  const modelsApi = modelHandlers(models);
  const handle = router([
    route("GET", "/healthz", () => Response.json({ status: "ok" })),
    route("GET", "/readyz", async () => {
      const { ready, body } = await readiness.report();
      return Response.json(body, { status: ready ? 200 : 503 });
    }),
    ...(config.metrics === "off" ? [] : [
      route("GET", "/metrics", async (request) => {
        if (config.metrics === "auth") await auth.verify(request);
        return new Response(observability.metrics.registry.render(), {
          headers: { "content-type": PROMETHEUS_CONTENT_TYPE },
        });
      }),
    ]),
    route("GET", "/v1/models", authed(modelsApi.list)),
    route("GET", "/v1/models/:id", authed(modelsApi.get)),
    route(
      "POST",
      "/v1/chat/completions",
      authed(chatHandler({
        ...common,
        streamAgent,
        completionAgent,
      })),
    ),
    route(
      "POST",
      "/v1/responses",
      withResponsesErrors(
        authed(responsesHandler({
          ...common,
          streamAgent,
          completionAgent,
          store: new ResponsesStore({
            maxEntries: config.responsesStoreMax,
            ttlMs: config.responsesStoreTtlMs,
          }),
          logger,
        })),
        logger,
      ),
    ),
    route(
      "POST",
      "/execute",
      authed(executeHandler({ ...common, agents, defaultAgent: completionAgent })),
    ),
  ]);
  const app = observability.wrap(async (request) => {
    try {
      return await handle(request);
    } catch (error) {
      if (error instanceof HttpError) {
        contextOf(request).failed(error);
        return error.toResponse();
      }
      logger.error("unexpected error", { request_id: contextOf(request).id, error });
      return new HttpError(500, "internal error", "The bridge failed unexpectedly; see its log.")
        .toResponse();
    }
  });
  return Object.assign(app, {
    pool,
    engine,
    limiter,
    close: (graceMs: number) => engine.close(graceMs),
    async [Symbol.asyncDispose]() {
      await engine.close(0);
      await reaper[Symbol.asyncDispose]();
    },
  });
}
