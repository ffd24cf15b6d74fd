/**
 * `ChatChunkStream`: turns CLI events into OpenAI `chat.completion.chunk`
 * server-sent events.
 *
 * The first chunk carries `delta.role = "assistant"`; each text delta becomes
 * one chunk; the end is a chunk with `finish_reason`, an optional usage chunk
 * (`stream_options.include_usage`) and `data: [DONE]`.
 *
 * The stream ends early, stopping the CLI (terminating the stream cancels the
 * CLI's stdout, which stops the child), at the first stop sequence (OpenAI
 * `stop`; finish reason `stop`) and at the first `max_tokens` stop (finish
 * reason `length`: the CLI would otherwise ask the model to continue). With
 * `structured`, text deltas are dropped and the answer is the result's
 * structured output, sent at the end.
 *
 * Failures: before anything was emitted (or always, with `failFast`), the
 * stream errors with the {@linkcode HttpError} so the caller can still answer
 * with a real HTTP status; afterwards, one `data: {"error": {…}}` event is
 * sent and the stream ends (an OpenAI client raises it as an error).
 *
 * {@linkcode collectCompletion} folds such a stream back into one
 * `chat.completion`, for non-streaming requests that need stream-json output.
 *
 * @module
 */
import type { CliExit } from "../claude/process.ts";
import { exitError, resultError } from "../claude/failure.ts";
import {
  chunk,
  completion,
  type CompletionIdentity,
  contentChunkJson,
  type FinishReason,
  finishReason,
  isFailedResult,
  resultAnswer,
  toUsage,
  type Usage,
  usageChunk,
} from "./completion.ts";
import { HttpError } from "../http/http_error.ts";
import type { ServerSentEventMessage } from "../streams/server_sent_event_stream.ts";
import { StopSequenceScanner } from "../engine/stop_sequences.ts";
import type { CliEvent, CliResult, CliUsage } from "../claude/events.ts";

/** Options for {@linkcode ChatChunkStream}. */
export interface ChatChunkStreamOptions {
  /** id, created and model shared by every chunk. */
  identity: CompletionIdentity;
  /** Send a final usage chunk before `[DONE]`. */
  includeUsage?: boolean;
  /** The CLI's exit, consulted when its output ends without a result. */
  exited: Promise<CliExit>;
  /** Stop sequences: the answer ends before the first one. */
  stop?: readonly string[];
  /** The answer is the result's structured output (`response_format`), not the text deltas. */
  structured?: boolean;
  /** Error the stream on every failure, even after content was sent. */
  failFast?: boolean;
  /** Told about the CLI's result line (the request log takes its usage). */
  onResult?: (result: CliResult) => void;
}

type Controller = TransformStreamDefaultController<ServerSentEventMessage>;

/** Transforms {@linkcode CliEvent}s into chunk events for an SSE encoder. */
export class ChatChunkStream extends TransformStream<CliEvent, ServerSentEventMessage> {
  #options: ChatChunkStreamOptions;
  #contentJson: (content: string) => string;
  #scanner: StopSequenceScanner;
  #started = false;
  #sawText = false;
  #stopReason: string | undefined;
  #usage: CliUsage | undefined;
  #streamed = new Set<string>();
  #finished = false;

  /** Makes a chunk builder for one response. */
  constructor(options: ChatChunkStreamOptions) {
    super({
      transform: (event, controller) => this.#event(event, controller),
      flush: (controller) => this.#end(controller),
    });
    this.#options = options;
    this.#contentJson = contentChunkJson(options.identity);
    this.#scanner = new StopSequenceScanner(options.stop ?? []);
  }

  #send(controller: Controller, data: unknown): void {
    controller.enqueue({ data: JSON.stringify(data) });
  }

  #start(controller: Controller): void {
    if (this.#started) return;
    this.#started = true;
    this.#send(controller, chunk(this.#options.identity, { role: "assistant", content: "" }));
  }

  #emit(controller: Controller, text: string): void {
    this.#start(controller);
    if (text !== "") controller.enqueue({ data: this.#contentJson(text) });
  }

  /** Sends text through the stop-sequence scanner; ends the response at a stop sequence. */
  #text(controller: Controller, text: string): void {
    const scanned = this.#scanner.push(text);
    this.#emit(controller, scanned.text);
    if (scanned.stopped) this.#complete(controller, "stop", this.#usage);
  }

  #event(event: CliEvent, controller: Controller): void {
    if (this.#finished) return;
    switch (event.type) {
      case "text":
        if (this.#options.structured || event.text === "") return;
        this.#sawText = true;
        return this.#text(controller, event.text);
      case "start":
        if (event.id !== undefined) this.#streamed.add(event.id);
        this.#usage = event.usage;
        return;
      case "message":
        return this.#message(controller, event.id, event.text);
      case "stop":
        this.#stopReason = event.reason;
        this.#usage = event.usage ?? this.#usage;
        if (event.reason === "max_tokens" && !this.#options.structured) {
          this.#complete(controller, "length", this.#usage);
        }
        return;
      case "result":
        this.#options.onResult?.(event.result);
        return isFailedResult(event.result)
          ? this.#fail(controller, resultError(event.result))
          : this.#finish(controller, event.result);
    }
  }

  /**
   * A whole message that was never streamed (the CLI fetched it without
   * streaming, e.g. after a stream broke off): relayed if nothing was sent
   * yet; otherwise it cannot continue what was sent, which is a failure.
   */
  #message(controller: Controller, id: string, text: string): void {
    if (this.#streamed.has(id) || this.#options.structured || text === "") return;
    if (!this.#sawText) {
      this.#sawText = true;
      return this.#text(controller, text);
    }
    this.#fail(
      controller,
      new HttpError(
        502,
        "upstream stream interrupted",
        "Claude's answer broke off mid-stream and the CLI fetched a new one that cannot continue what was already sent; retry the request.",
      ),
    );
  }

  #finish(controller: Controller, result: CliResult): void {
    const { structured = false } = this.#options;
    let answer: string;
    try {
      answer = structured || !this.#sawText ? resultAnswer(result, structured) : "";
    } catch (error) {
      if (error instanceof HttpError) return this.#fail(controller, error);
      throw error;
    }
    this.#text(controller, answer);
    if (this.#finished) return;
    this.#complete(
      controller,
      finishReason(this.#stopReason ?? result.stop_reason),
      result.usage ?? this.#usage,
    );
  }

  /** Sends any held-back text, the finish chunk, the usage chunk if asked, and `[DONE]`. */
  #complete(controller: Controller, finish: FinishReason, usage: CliUsage | undefined): void {
    this.#emit(controller, this.#scanner.flush());
    const { identity, includeUsage } = this.#options;
    this.#send(controller, chunk(identity, {}, finish));
    if (includeUsage) this.#send(controller, usageChunk(identity, toUsage(usage)));
    controller.enqueue({ data: "[DONE]" });
    this.#finished = true;
    controller.terminate();
  }

  #fail(controller: Controller, error: HttpError): void {
    this.#finished = true;
    if (!this.#started || this.#options.failFast) {
      controller.error(error);
      return;
    }
    this.#send(controller, {
      error: {
        message: error.message,
        type: error.toJSON().type,
        code: error.code,
        status: error.status,
      },
    });
    controller.terminate();
  }

  async #end(controller: Controller): Promise<void> {
    if (this.#finished) return;
    this.#fail(controller, exitError(await this.#options.exited));
  }
}

/** The parts of a chunk that {@linkcode collectCompletion} reads. */
interface ChunkData {
  id: string;
  created: number;
  model: string;
  choices: { delta: { content?: string }; finish_reason: FinishReason | null }[];
  usage?: Usage;
}

/**
 * Reads a {@linkcode ChatChunkStream} (made with `includeUsage` and
 * `failFast`) to its end and folds it into one `chat.completion`.
 *
 * @throws {HttpError} the stream's failure.
 */
export async function collectCompletion(
  messages: ReadableStream<ServerSentEventMessage>,
): Promise<Record<string, unknown>> {
  let identity: CompletionIdentity | undefined;
  let content = "";
  let finish: FinishReason = "stop";
  let usage = toUsage(undefined);
  for await (const message of messages) {
    if (typeof message.data !== "string" || message.data === "[DONE]") continue;
    const data = JSON.parse(message.data) as ChunkData;
    identity ??= { id: data.id, created: data.created, model: data.model };
    const choice = data.choices[0];
    content += choice?.delta.content ?? "";
    if (choice?.finish_reason) finish = choice.finish_reason;
    if (data.usage) usage = data.usage;
  }
  if (!identity) throw new TypeError("the chunk stream ended without any chunk");
  return completion(identity, content, finish, usage);
}
