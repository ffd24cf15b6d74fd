/**
 * `POST /execute`: the native endpoint. Runs one prompt with an agent (the
 * completion agent unless `agent` names another) as a one-turn conversation
 * and returns the answer with the run's usage.
 *
 * @module
 */
import { z } from "zod";
import type { Agent } from "../claude/agents.ts";
import type { Engine } from "../engine/engine.ts";
import { HttpError } from "../http/http_error.ts";
import { readJsonObject } from "../http/json_body.ts";
import { parseBody } from "../http/validate.ts";
import { type ModelPolicy, resolveModel } from "../engine/model_policy.ts";
import { contextOf } from "../ops/request_context.ts";

/** The `/execute` request body. */
export const executeRequestSchema = z.object({
  prompt: z.string().min(1, "prompt must be a non-empty string"),
  model: z.string().min(1).optional(),
  agent: z.string().min(1).optional(),
});

/** What the execute handler needs. */
export interface ExecuteHandlerOptions {
  engine: Engine;
  models: ModelPolicy;
  agents: ReadonlyMap<string, Agent>;
  defaultAgent: Agent;
  maxBodyBytes: number;
  requestTimeoutMs: number;
}

/** Makes the `POST /execute` handler. */
export function executeHandler(
  options: ExecuteHandlerOptions,
): (request: Request) => Promise<Response> {
  return async (request) => {
    const body = parseBody(
      executeRequestSchema,
      await readJsonObject(request, options.maxBodyBytes),
    );
    const model = resolveModel(options.models, body.model);
    const context = contextOf(request);
    context.model = model;
    context.stream = false;
    context.prompt = body.prompt;
    const agent = body.agent === undefined ? options.defaultAgent : options.agents.get(body.agent);
    if (!agent) {
      const available = [...options.agents.keys()];
      throw new HttpError(
        400,
        "unknown agent",
        `Agent "${body.agent!.slice(0, 100)}" does not exist; use one of: ${available.join(", ")}.`,
        { fields: { available, param: "agent" } },
      );
    }
    context.agent = agent.name;
    const signal = AbortSignal.any([request.signal, AbortSignal.timeout(options.requestTimeoutMs)]);
    const startedAt = performance.now();
    const run = await options.engine.run(
      {
        instructions: [],
        turns: [{ role: "user", content: [{ type: "text", text: body.prompt }] }],
        tools: [],
      },
      {
        agent,
        model,
        stop: [],
        toolChoice: { type: "auto" },
        parallelToolCalls: true,
        keepAlive: false,
      },
      signal,
    );
    contextOf(request).track(run);
    let result = "";
    for await (const event of run.reply.events) {
      if (event.type === "text") result += event.text;
      if (event.type === "error") throw event.error;
    }
    const cli = run.reply.result;
    return Response.json({
      result,
      is_error: false,
      model,
      agent: agent.name,
      usage: cli?.usage ?? null,
      total_cost_usd: cli?.total_cost_usd ?? null,
      duration_ms: cli?.duration_ms ?? Math.round(performance.now() - startedAt),
      num_turns: cli?.num_turns ?? null,
      session_id: cli?.session_id ?? null,
    });
  };
}
