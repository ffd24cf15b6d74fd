/**
 * `POST /v1/chat/completions`: a thin translator. The request becomes a
 * neutral conversation and run options; the engine answers with a reply;
 * the reply's events become one `chat.completion` or a stream of
 * `chat.completion.chunk`s.
 *
 * The stream is a pipe: the reply's event batches → {@linkcode ChatChunkStream}
 * (SSE bytes, one write per batch) → the response body. The response is
 * only committed once the reply has started, so a failure before any content
 * is still a real HTTP status.
 *
 * @module
 */
import type { Agent } from "../claude/agents.ts";
import type { Engine } from "../engine/engine.ts";
import { readJsonObject } from "../http/json_body.ts";
import { parseBody } from "../http/validate.ts";
import { contextOf } from "../ops/request_context.ts";
import { ChatChunkStream } from "./chat_chunk_stream.ts";
import { chatOptions, chatRequestSchema, toConversation } from "./chat_request.ts";
import { collectCompletion, newIdentity } from "./completion.ts";
import { type ModelPolicy, resolveModel } from "../engine/model_policy.ts";

/** What the chat handler needs. */
export interface ChatHandlerOptions {
  engine: Engine;
  models: ModelPolicy;
  /** Agent for `stream: true`. */
  streamAgent: Agent;
  /** Agent for `stream: false`. */
  completionAgent: Agent;
  maxBodyBytes: number;
  requestTimeoutMs: number;
}

/** Headers of an SSE response: no caching, no proxy buffering. */
export const SSE_HEADERS: HeadersInit = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache, no-transform",
  "x-accel-buffering": "no",
};

/** Makes the `POST /v1/chat/completions` handler. */
export function chatHandler(options: ChatHandlerOptions): (request: Request) => Promise<Response> {
  return async (request) => {
    const body = parseBody(chatRequestSchema, await readJsonObject(request, options.maxBodyBytes));
    const model = resolveModel(options.models, body.model);
    const chat = chatOptions(body);
    const conversation = toConversation(body);
    const stream = body.stream === true;
    const agent = stream ? options.streamAgent : options.completionAgent;
    const context = contextOf(request);
    context.model = model;
    context.stream = stream;
    context.agent = agent.name;
    context.prompt = conversation;
    const signal = AbortSignal.any([request.signal, AbortSignal.timeout(options.requestTimeoutMs)]);
    const run = await options.engine.run(conversation, { agent, model, ...chat }, signal);
    contextOf(request).track(run);
    const identity = newIdentity(model);
    if (!stream) {
      return Response.json(
        await collectCompletion(run.reply.events, identity, chat.legacyFunctions),
      );
    }
    try {
      await run.reply.started;
    } catch (error) {
      await run.reply.events.cancel(error);
      throw error;
    }
    context.markFirstContent();
    const body$ = run.reply.batches.pipeThrough(
      new ChatChunkStream({
        identity,
        includeUsage: chat.includeUsage,
        legacyFunctions: chat.legacyFunctions,
      }),
    );
    return new Response(body$, { headers: SSE_HEADERS });
  };
}
