/**
 * `POST /v1/responses`: the Responses API face, a thin translator like the
 * chat face. The request becomes a neutral conversation and run options
 * (see {@linkcode planResponse}); the engine answers with a reply; the
 * reply's events become one `response` object or a stream of Responses
 * events (both through the {@linkcode ResponseAssembler}).
 *
 * The stream is only committed once the reply has started, so a failure
 * before any content is a real HTTP status. Every error body, streamed or
 * not, carries OpenAI's standard error object (see
 * {@linkcode withResponsesErrors}).
 *
 * With `store: true` (and the store on) a finished response's items are
 * kept for `previous_response_id`; without it nothing is kept. This is the
 * opposite of OpenAI's default, on purpose: conversations stay out of the
 * bridge's memory unless a client asks, and most clients (Codex) say
 * `store: false` or never continue by id.
 *
 * @module
 */
import { HttpError } from "../http/http_error.ts";
import { readJsonObject } from "../http/json_body.ts";
import type { Handler } from "../http/router.ts";
import { parseBody } from "../http/validate.ts";
import type { Logger } from "../ops/log.ts";
import { contextOf } from "../ops/request_context.ts";
import { CoalescingStream } from "../streams/coalescing_stream.ts";
import { type ChatHandlerOptions, SSE_HEADERS } from "./chat_handler.ts";
import { resolveModel } from "../engine/model_policy.ts";
import { errorResponse, newId, type ResponseFrame } from "./responses_object.ts";
import { collectResponse, type OutputItem } from "./responses_output.ts";
import {
  type InputItem,
  planResponse,
  type ResponsesPlan,
  type ResponsesRequest,
  responsesRequestSchema,
} from "./responses_request.ts";
import type { ResponsesStore } from "./responses_store.ts";
import { ResponsesEventStream } from "./responses_stream.ts";

/** What the Responses handler needs. */
export interface ResponsesHandlerOptions extends ChatHandlerOptions {
  /** Stored responses for `previous_response_id`. */
  store: ResponsesStore<InputItem>;
  /** Where left-out tool types are reported (once per type). */
  logger: Logger;
}

/**
 * Why each tool type other than `function` is left out: none has a Claude
 * Code equivalent the bridge can run confined, or that a client runs
 * through items the bridge speaks.
 */
export const LEFT_OUT_TOOLS: Readonly<Record<string, string>> = {
  web_search:
    "hosted web search: Claude Code's WebSearch/WebFetch would reach the network from the bridge, and an agent's own tools never mix with client tools",
  web_search_preview: "hosted web search (see web_search)",
  file_search: "searches OpenAI vector stores, which do not exist here",
  namespace:
    "client functions grouped under a namespace; their calls need function_call items with a namespace, which the bridge does not produce",
  custom:
    "client tools taking free-form text (custom_tool_call items); Claude's tools take JSON objects",
  local_shell: "client-run shell with local_shell_call items, which the bridge does not produce",
  shell: "client-run shell with shell_call items, which the bridge does not produce",
  apply_patch: "client-run patches with apply_patch_call items, which the bridge does not produce",
  computer_use_preview: "computer use (screenshots and clicks) has no Claude Code equivalent here",
  computer: "computer use (screenshots and clicks) has no Claude Code equivalent here",
  image_generation: "Claude does not generate images",
  code_interpreter:
    "hosted sandbox: Claude Code's Bash would run on the bridge host, outside any sandbox the client asked for",
  mcp: "remote MCP servers: the bridge does not connect to client-named URLs",
  tool_search: "hosted deferred tool loading",
};

/** The request's settings the response echoes. */
function frameOf(
  body: ResponsesRequest,
  model: string,
  plan: ResponsesPlan,
  storeEnabled: boolean,
): ResponseFrame {
  return {
    id: newId("resp"),
    created_at: Math.floor(Date.now() / 1000),
    model,
    instructions: body.instructions ?? null,
    max_output_tokens: body.max_output_tokens ?? null,
    parallel_tool_calls: plan.options.parallelToolCalls,
    previous_response_id: body.previous_response_id ?? null,
    reasoning: { effort: body.reasoning?.effort ?? null, summary: null },
    store: body.store === true && storeEnabled,
    temperature: body.temperature ?? null,
    top_p: body.top_p ?? null,
    text: { format: body.text?.format ?? { type: "text" } },
    tool_choice: body.tool_choice ?? "auto",
    tools: plan.offeredTools,
    truncation: body.truncation ?? "disabled",
    metadata: body.metadata ?? {},
    ...(body.user ? { user: body.user } : {}),
    ...(body.prompt_cache_key ? { prompt_cache_key: body.prompt_cache_key } : {}),
  };
}

/**
 * Wraps a handler so that every error it (or the auth in front of it)
 * throws is answered in the Responses shape, `{"error": {message, type,
 * param, code}}`; unexpected errors are logged and become a 500 that leaks
 * nothing.
 */
export function withResponsesErrors(
  handler: Handler,
  logger: Logger,
): Handler {
  return async (request, params) => {
    try {
      return await handler(request, params);
    } catch (error) {
      if (error instanceof HttpError) {
        contextOf(request).failed(error);
        return errorResponse(error);
      }
      logger.error("unexpected error", { request_id: contextOf(request).id, error });
      return errorResponse(
        new HttpError(500, "internal error", "The bridge failed unexpectedly; see its log."),
      );
    }
  };
}

/** Makes the `POST /v1/responses` handler. */
export function responsesHandler(
  options: ResponsesHandlerOptions,
): (request: Request) => Promise<Response> {
  const reported = new Set<string>();
  const onLeftOutTool = (type: string) => {
    if (reported.has(type)) return;
    reported.add(type);
    options.logger.warn("responses: a tool type is left out (logged once per type)", {
      tool_type: type,
      reason: LEFT_OUT_TOOLS[type] ?? "no Claude Code equivalent the bridge can offer",
    });
  };
  return async (request) => {
    const body = parseBody(
      responsesRequestSchema,
      await readJsonObject(request, options.maxBodyBytes),
    );
    const model = resolveModel(options.models, body.model);
    const plan = planResponse(body, { store: options.store, onLeftOutTool });
    const stream = body.stream === true;
    const agent = stream ? options.streamAgent : options.completionAgent;
    const context = contextOf(request);
    context.model = model;
    context.stream = stream;
    context.agent = agent.name;
    context.prompt = plan.conversation;
    const signal = AbortSignal.any([request.signal, AbortSignal.timeout(options.requestTimeoutMs)]);
    const run = await options.engine.run(
      plan.conversation,
      { agent, model, ...plan.options },
      signal,
    );
    contextOf(request).track(run);
    const frame = frameOf(body, model, plan, options.store.enabled);
    const keep = (output: readonly OutputItem[]) => {
      if (frame.store) options.store.put(frame.id, [...plan.items, ...output]);
    };
    if (!stream) {
      const { response, output } = await collectResponse(run.reply.events, frame);
      keep(output);
      return Response.json(response);
    }
    try {
      await run.reply.started;
    } catch (error) {
      await run.reply.events.cancel(error);
      throw error;
    }
    context.markFirstContent();
    const events = run.reply.events
      .pipeThrough(
        new ResponsesEventStream({
          frame,
          onEnd: (assembler) => {
            if (assembler.end?.status !== "failed") keep(assembler.output);
          },
        }),
      )
      .pipeThrough(new CoalescingStream());
    return new Response(events, { headers: SSE_HEADERS });
  };
}
