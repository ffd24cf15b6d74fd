/**
 * `POST /v1/chat/completions`: validate, flatten the history, run the CLI, and
 * answer with one `chat.completion` or a stream of `chat.completion.chunk`s.
 *
 * The stream path is a pipe: CLI stdout lines → {@linkcode CliEventStream} →
 * {@linkcode ChatChunkStream} → {@linkcode ServerSentEventStream} →
 * {@linkcode CoalescingStream} → the response body. The response is only
 * committed once the first chunk exists, so a failure before any content is
 * still a real HTTP status.
 *
 * @module
 */
import type { Agent } from "../claude/agents.ts";
import { ChatChunkStream, collectCompletion } from "./chat_chunk_stream.ts";
import { type ChatOptions, chatOptions, chatRequestSchema, parseBody } from "./chat_request.ts";
import type { OutputMode } from "../claude/args.ts";
import { CoalescingStream } from "../streams/coalescing_stream.ts";
import {
  completion,
  type CompletionIdentity,
  finishReason,
  newIdentity,
  resultAnswer,
  toUsage,
} from "./completion.ts";
import { readJsonObject } from "../http/json_body.ts";
import { type ModelPolicy, resolveModel } from "./models.ts";
import { flattenMessages, type Prompt } from "../engine/prompt.ts";
import { contextOf } from "../ops/request_context.ts";
import { collectResult } from "../engine/run_result.ts";
import type { Run, Runner } from "../engine/runner.ts";
import {
  type ServerSentEventMessage,
  ServerSentEventStream,
} from "../streams/server_sent_event_stream.ts";
import { CliEventStream } from "../claude/events.ts";

/** What the chat handler needs. */
export interface ChatHandlerOptions {
  runner: Runner;
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

/**
 * A stream that yields `first` and then the rest of `reader`, reading only
 * when its own reader asks (so a {@linkcode CoalescingStream} behind it still
 * sees when the HTTP writer is busy).
 */
function resume<T>(
  first: ReadableStreamReadResult<T>,
  reader: ReadableStreamDefaultReader<T>,
): ReadableStream<T> {
  return new ReadableStream<T>({
    start(controller) {
      if (first.done) controller.close();
      else controller.enqueue(first.value);
    },
    async pull(controller) {
      const { done, value } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel: (reason) => reader.cancel(reason),
  }, { highWaterMark: 0 });
}

/** The run's output as chunk events: stdout lines → CLI events → chunks. */
function chunks(
  request: Request,
  run: Run,
  identity: CompletionIdentity,
  chat: ChatOptions,
  failFast = false,
): ReadableStream<ServerSentEventMessage> {
  const context = contextOf(request);
  context.track(run);
  return run.process.lines
    .pipeThrough(new CliEventStream())
    .pipeThrough(
      new ChatChunkStream({
        identity,
        includeUsage: chat.includeUsage || failFast,
        exited: run.process.exited,
        stop: chat.stop,
        structured: chat.jsonSchema !== undefined,
        failFast,
        onResult: (result) => {
          context.usage = result.usage;
          run.process.answered();
        },
      }),
    );
}

/** Makes the `POST /v1/chat/completions` handler. */
export function chatHandler(options: ChatHandlerOptions): (request: Request) => Promise<Response> {
  const { runner, models } = options;

  async function stream(request: Request, chat: ChatOptions, model: string, prompt: Prompt) {
    const identity = newIdentity(model);
    const signal = AbortSignal.any([request.signal, AbortSignal.timeout(options.requestTimeoutMs)]);
    const run = await runner.start(
      {
        agent: options.streamAgent,
        model,
        output: "stream-json",
        jsonSchema: chat.jsonSchema,
        maxOutputTokens: chat.maxOutputTokens,
      },
      prompt,
      signal,
    );
    // The first read waits for the first chunk (or the failure before it);
    // it is taken at the end of the pipe, so the stream that resumes after it
    // costs a step per coalesced write rather than per token.
    const reader = chunks(request, run, identity, chat)
      .pipeThrough(new ServerSentEventStream())
      .pipeThrough(new CoalescingStream())
      .getReader();
    let first: ReadableStreamReadResult<Uint8Array>;
    try {
      first = await reader.read();
      contextOf(request).markFirstContent();
    } catch (error) {
      await run[Symbol.asyncDispose]();
      throw error;
    }
    return new Response(resume(first, reader), { headers: SSE_HEADERS });
  }

  async function complete(request: Request, chat: ChatOptions, model: string, prompt: Prompt) {
    const identity = newIdentity(model);
    const signal = AbortSignal.any([request.signal, AbortSignal.timeout(options.requestTimeoutMs)]);
    // Images need stream-json input; stop sequences and token limits need the
    // deltas, to stop the CLI at the cut. Everything else takes the plain path.
    const needsStream = prompt.images.length > 0 || chat.stop.length > 0 ||
      chat.maxOutputTokens !== undefined;
    const output: OutputMode = needsStream ? "stream-json" : "json";
    await using run = await runner.start(
      {
        agent: options.completionAgent,
        model,
        output,
        jsonSchema: chat.jsonSchema,
        maxOutputTokens: chat.maxOutputTokens,
      },
      prompt,
      signal,
    );
    if (needsStream) {
      return Response.json(await collectCompletion(chunks(request, run, identity, chat, true)));
    }
    contextOf(request).track(run);
    const { result } = await collectResult(run);
    contextOf(request).usage = result.usage;
    return Response.json(
      completion(
        identity,
        resultAnswer(result, chat.jsonSchema !== undefined),
        finishReason(result.stop_reason),
        toUsage(result.usage),
      ),
    );
  }

  return async (request) => {
    const body = parseBody(chatRequestSchema, await readJsonObject(request, options.maxBodyBytes));
    const model = resolveModel(models, body.model);
    const chat = chatOptions(body);
    const prompt = flattenMessages(body.messages);
    const context = contextOf(request);
    context.model = model;
    context.stream = body.stream === true;
    context.agent = (body.stream ? options.streamAgent : options.completionAgent).name;
    context.prompt = prompt.text;
    return body.stream
      ? await stream(request, chat, model, prompt)
      : await complete(request, chat, model, prompt);
  };
}
