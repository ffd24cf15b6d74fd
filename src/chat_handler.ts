/**
 * `POST /v1/chat/completions`: validate, flatten the history, run the CLI, and
 * answer with one `chat.completion` or a stream of `chat.completion.chunk`s.
 *
 * The stream path is a pipe: CLI stdout lines → {@linkcode CliEventStream} →
 * {@linkcode ChatChunkStream} → {@linkcode ServerSentEventStream} → the
 * response body. The response is only committed once the first chunk exists,
 * so a failure before any content is still a real HTTP status.
 *
 * @module
 */
import type { Agent } from "./agents.ts";
import { ChatChunkStream } from "./chat_chunk_stream.ts";
import { type ChatRequest, chatRequestSchema, parseBody } from "./chat_request.ts";
import type { OutputMode } from "./claude_args.ts";
import { completion, finishReason, newIdentity, toUsage } from "./completion.ts";
import { HttpError } from "./http_error.ts";
import { readJsonObject } from "./json_body.ts";
import { type ModelPolicy, resolveModel } from "./models.ts";
import { flattenMessages, type Prompt } from "./prompt.ts";
import { collectResult } from "./run_result.ts";
import type { Runner } from "./runner.ts";
import { type ServerSentEventMessage, ServerSentEventStream } from "./server_sent_event_stream.ts";
import { CliEventStream } from "./stream_json.ts";

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

/** Rejects request options the bridge cannot honour, before anything is spawned. */
function checkSupported(request: ChatRequest): void {
  if ((request.n ?? 1) > 1) {
    throw new HttpError(
      400,
      "unsupported parameter",
      "n > 1 is not supported; ask for one choice (n: 1).",
    );
  }
  if (request.tools && request.tools.length > 0 && request.tool_choice !== "none") {
    throw new HttpError(
      400,
      "unsupported parameter",
      'Function calling is not supported yet: send the request without `tools` (or with tool_choice "none").',
    );
  }
}

/** A stream that yields `first` and then the rest of `reader`. */
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
  });
}

/** Makes the `POST /v1/chat/completions` handler. */
export function chatHandler(options: ChatHandlerOptions): (request: Request) => Promise<Response> {
  const { runner, models } = options;

  async function stream(request: Request, body: ChatRequest, model: string, prompt: Prompt) {
    const identity = newIdentity(model);
    const signal = AbortSignal.any([request.signal, AbortSignal.timeout(options.requestTimeoutMs)]);
    const run = await runner.start(
      { agent: options.streamAgent, model, output: "stream-json" },
      prompt,
      signal,
    );
    const reader = run.process.lines
      .pipeThrough(new CliEventStream())
      .pipeThrough(
        new ChatChunkStream({
          identity,
          includeUsage: body.stream_options?.include_usage ?? false,
          exited: run.process.exited,
        }),
      )
      .getReader();
    let first: ReadableStreamReadResult<ServerSentEventMessage>;
    try {
      first = await reader.read();
    } catch (error) {
      await run[Symbol.asyncDispose]();
      throw error;
    }
    const sse = resume(first, reader).pipeThrough(new ServerSentEventStream());
    return new Response(sse, { headers: SSE_HEADERS });
  }

  async function complete(request: Request, model: string, prompt: Prompt) {
    const identity = newIdentity(model);
    const signal = AbortSignal.any([request.signal, AbortSignal.timeout(options.requestTimeoutMs)]);
    const output: OutputMode = prompt.images.length > 0 ? "stream-json" : "json";
    await using run = await runner.start(
      { agent: options.completionAgent, model, output },
      prompt,
      signal,
    );
    const { result } = await collectResult(run);
    return Response.json(
      completion(
        identity,
        result.result ?? "",
        finishReason(result.stop_reason),
        toUsage(result.usage),
      ),
    );
  }

  return async (request) => {
    const body = parseBody(chatRequestSchema, await readJsonObject(request, options.maxBodyBytes));
    const model = resolveModel(models, body.model);
    checkSupported(body);
    const prompt = flattenMessages(body.messages);
    return body.stream
      ? await stream(request, body, model, prompt)
      : await complete(request, model, prompt);
  };
}
