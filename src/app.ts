/**
 * The HTTP application: routes, authentication and the one place where
 * errors become responses. Unexpected errors are logged and answered with a
 * 500 that leaks nothing.
 *
 * @module
 */
import type { Agent } from "./agents.ts";
import { BearerAuth } from "./auth.ts";
import { chatHandler } from "./chat_handler.ts";
import type { Config } from "./config.ts";
import { executeHandler } from "./execute_handler.ts";
import { HttpError } from "./http_error.ts";
import { type Handler, route, router } from "./router.ts";
import { Runner } from "./runner.ts";

/** What the app is built from. */
export interface AppOptions {
  config: Config;
  agents: ReadonlyMap<string, Agent>;
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

/** Builds the server's fetch handler. */
export function createApp({ config, agents }: AppOptions): (request: Request) => Promise<Response> {
  const auth = new BearerAuth(config.apiKeys);
  const runner = new Runner({ claudeBin: config.claudeBin, workspaceRoot: config.workspaceRoot });
  const models = { models: config.models, defaultModel: config.defaultModel };
  const common = {
    runner,
    models,
    maxBodyBytes: config.maxBodyBytes,
    requestTimeoutMs: config.requestTimeoutMs,
  };
  const completionAgent = requireAgent(agents, config.completionAgent, "COMPLETION_AGENT");
  const authed = (handler: (request: Request) => Promise<Response>): Handler => async (request) => {
    await auth.verify(request);
    return await handler(request);
  };
  const handle = router([
    route("GET", "/healthz", () => Response.json({ status: "ok" })),
    route(
      "POST",
      "/v1/chat/completions",
      authed(chatHandler({
        ...common,
        streamAgent: requireAgent(agents, config.streamAgent, "STREAM_AGENT"),
        completionAgent,
      })),
    ),
    route(
      "POST",
      "/execute",
      authed(executeHandler({ ...common, agents, defaultAgent: completionAgent })),
    ),
  ]);
  return async (request) => {
    try {
      return await handle(request);
    } catch (error) {
      if (error instanceof HttpError) return error.toResponse();
      console.error("unexpected error:", error);
      return new HttpError(500, "internal error", "The bridge failed unexpectedly; see its log.")
        .toResponse();
    }
  };
}
