/**
 * `ChatChunkStream`: turns CLI events into OpenAI `chat.completion.chunk`
 * server-sent events.
 *
 * The first chunk carries `delta.role = "assistant"`; each text delta becomes
 * one chunk; the end is a chunk with `finish_reason`, an optional usage chunk
 * (`stream_options.include_usage`) and `data: [DONE]`.
 *
 * Failures: before anything was emitted, the stream errors with the
 * {@linkcode HttpError} so the caller can still answer with a real HTTP
 * status; afterwards, one `data: {"error": {…}}` event is sent and the stream
 * ends (an OpenAI client raises it as an error).
 *
 * @module
 */
import type { CliExit } from "./claude_process.ts";
import { exitError, resultError } from "./cli_failure.ts";
import { chunk, type CompletionIdentity, finishReason, toUsage, usageChunk } from "./completion.ts";
import type { HttpError } from "./http_error.ts";
import type { ServerSentEventMessage } from "./server_sent_event_stream.ts";
import type { CliEvent, CliResult } from "./stream_json.ts";

/** Options for {@linkcode ChatChunkStream}. */
export interface ChatChunkStreamOptions {
  /** id, created and model shared by every chunk. */
  identity: CompletionIdentity;
  /** Send a final usage chunk before `[DONE]`. */
  includeUsage?: boolean;
  /** The CLI's exit, consulted when its output ends without a result. */
  exited: Promise<CliExit>;
}

/** Transforms {@linkcode CliEvent}s into chunk events for an SSE encoder. */
export class ChatChunkStream extends TransformStream<CliEvent, ServerSentEventMessage> {
  #options: ChatChunkStreamOptions;
  #started = false;
  #sawText = false;
  #stopReason: string | undefined;
  #finished = false;

  /** Makes a chunk builder for one response. */
  constructor(options: ChatChunkStreamOptions) {
    super({
      transform: (event, controller) => this.#event(event, controller),
      flush: (controller) => this.#end(controller),
    });
    this.#options = options;
  }

  #send(controller: TransformStreamDefaultController<ServerSentEventMessage>, data: unknown): void {
    controller.enqueue({ data: JSON.stringify(data) });
  }

  #text(controller: TransformStreamDefaultController<ServerSentEventMessage>, text: string): void {
    this.#start(controller);
    if (text === "") return;
    this.#sawText = true;
    this.#send(controller, chunk(this.#options.identity, { content: text }));
  }

  #start(controller: TransformStreamDefaultController<ServerSentEventMessage>): void {
    if (this.#started) return;
    this.#started = true;
    this.#send(controller, chunk(this.#options.identity, { role: "assistant", content: "" }));
  }

  #event(
    event: CliEvent,
    controller: TransformStreamDefaultController<ServerSentEventMessage>,
  ): void {
    if (this.#finished) return;
    switch (event.type) {
      case "text":
        return this.#text(controller, event.text);
      case "stop":
        this.#stopReason = event.reason;
        return;
      case "result":
        return event.result.is_error
          ? this.#fail(controller, resultError(event.result))
          : this.#finish(controller, event.result);
    }
  }

  #finish(
    controller: TransformStreamDefaultController<ServerSentEventMessage>,
    result: CliResult,
  ): void {
    if (!this.#sawText && result.result) this.#text(controller, result.result);
    this.#start(controller);
    const { identity, includeUsage } = this.#options;
    this.#send(
      controller,
      chunk(identity, {}, finishReason(this.#stopReason ?? result.stop_reason)),
    );
    if (includeUsage) this.#send(controller, usageChunk(identity, toUsage(result.usage)));
    controller.enqueue({ data: "[DONE]" });
    this.#finished = true;
    controller.terminate();
  }

  #fail(
    controller: TransformStreamDefaultController<ServerSentEventMessage>,
    error: HttpError,
  ): void {
    this.#finished = true;
    if (!this.#started) {
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

  async #end(controller: TransformStreamDefaultController<ServerSentEventMessage>): Promise<void> {
    if (this.#finished) return;
    this.#fail(controller, exitError(await this.#options.exited));
  }
}
