/**
 * `POST /execute`: the native endpoint. Runs one prompt with an agent (the
 * completion agent unless `agent` names another) and returns the CLI's result.
 *
 * @module
 */
import { z } from "zod";
import type { Agent } from "../claude/agents.ts";
import { parseBody } from "../openai/chat_request.ts";
import { HttpError } from "../http/http_error.ts";
import { readJsonObject } from "../http/json_body.ts";
import { type ModelPolicy, resolveModel } from "../openai/models.ts";
import { contextOf } from "../ops/request_context.ts";
import { collectResult } from "../engine/run_result.ts";
import type { Runner } from "../engine/runner.ts";

/** The `/execute` request body. */
export const executeRequestSchema = z.object({
  prompt: z.string().min(1, "prompt must be a non-empty string"),
  model: z.string().min(1).optional(),
  agent: z.string().min(1).optional(),
});

/** What the execute handler needs. */
export interface ExecuteHandlerOptions {
  runner: Runner;
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
        { fields: { available } },
      );
    }
    context.agent = agent.name;
    const signal = AbortSignal.any([request.signal, AbortSignal.timeout(options.requestTimeoutMs)]);
    await using run = await options.runner.start(
      { agent, model, output: "json" },
      { text: body.prompt, images: [] },
      signal,
    );
    context.track(run);
    const { result } = await collectResult(run);
    context.usage = result.usage;
    return Response.json({
      result: result.result ?? "",
      is_error: false,
      model,
      agent: agent.name,
      usage: result.usage ?? null,
      total_cost_usd: result.total_cost_usd ?? null,
      duration_ms: result.duration_ms ?? null,
      num_turns: result.num_turns ?? null,
      session_id: result.session_id ?? null,
    });
  };
}
