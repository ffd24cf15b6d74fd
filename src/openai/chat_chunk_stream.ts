/**
 * `ChatChunkStream`: encodes a reply's events as OpenAI
 * `chat.completion.chunk` server-sent events, bytes ready for the response.
 *
 * The first chunk carries `delta.role = "assistant"`; each text delta becomes
 * one chunk (serialized into a per-response template: only the text is
 * stringified per token); a call of a client tool becomes a chunk with its
 * `index`, `id`, `type` and `function.name`, then chunks of argument
 * fragments, exactly as OpenAI streams them (the legacy functions API gets
 * `delta.function_call` instead); the end is a chunk with `finish_reason`, an
 * optional usage chunk (`stream_options.include_usage`) and `data: [DONE]`. A
 * failure after the stream began is one `data: {"error": {…}}` event and the
 * stream ends without `[DONE]` (OpenAI clients raise it as an error).
 *
 * @module
 */
import type { ReplyEvent } from "../engine/reply.ts";
import { formatServerSentEvent } from "../streams/server_sent_event_stream.ts";
import {
  chunk,
  type CompletionIdentity,
  contentChunkJson,
  finishReasonFor,
  streamError,
  usageChunk,
} from "./completion.ts";

/** Options for {@linkcode ChatChunkStream}. */
export interface ChatChunkStreamOptions {
  identity: CompletionIdentity;
  /** Send a final usage chunk before `[DONE]`. */
  includeUsage: boolean;
  /** The client used the legacy `functions` API. */
  legacyFunctions: boolean;
}

const encoder = new TextEncoder();
/** `data: <json>\n\n` without the generic formatter: chunk JSON never holds a line break. */
const data = (json: string) => encoder.encode(`data: ${json}\n\n`);
const DONE = encoder.encode(formatServerSentEvent({ data: "[DONE]" }));

/** Transforms reply events into `chat.completion.chunk` SSE bytes. */
export class ChatChunkStream extends TransformStream<ReplyEvent, Uint8Array> {
  #options: ChatChunkStreamOptions;
  #content: (text: string) => string;
  #started = false;

  /** Makes an encoder for one response. */
  constructor(options: ChatChunkStreamOptions) {
    super({ transform: (event, controller) => this.#event(event, controller) });
    this.#options = options;
    this.#content = contentChunkJson(options.identity);
  }

  #send(
    controller: TransformStreamDefaultController<Uint8Array>,
    delta: Record<string, unknown>,
    finish: string | null = null,
  ) {
    controller.enqueue(data(JSON.stringify(chunk(this.#options.identity, delta, finish))));
  }

  #event(event: ReplyEvent, controller: TransformStreamDefaultController<Uint8Array>): void {
    if (!this.#started && event.type !== "error") {
      this.#started = true;
      this.#send(controller, { role: "assistant", content: "" });
    }
    const { identity, legacyFunctions } = this.#options;
    switch (event.type) {
      case "text":
        controller.enqueue(data(this.#content(event.text)));
        return;
      case "tool_call":
        if (legacyFunctions) {
          if (event.index === 0) {
            this.#send(controller, { function_call: { name: event.name, arguments: "" } });
          }
          return;
        }
        this.#send(controller, {
          tool_calls: [{
            index: event.index,
            id: event.id,
            type: "function",
            function: { name: event.name, arguments: "" },
          }],
        });
        return;
      case "tool_arguments":
        if (legacyFunctions) {
          if (event.index === 0) {
            this.#send(controller, { function_call: { arguments: event.delta } });
          }
          return;
        }
        this.#send(controller, {
          tool_calls: [{ index: event.index, function: { arguments: event.delta } }],
        });
        return;
      case "tool_call_done":
        return;
      case "end":
        this.#send(controller, {}, finishReasonFor(event.finish, legacyFunctions));
        if (this.#options.includeUsage) {
          controller.enqueue(data(JSON.stringify(usageChunk(identity, event.usage))));
        }
        controller.enqueue(DONE);
        return;
      case "error":
        controller.enqueue(data(JSON.stringify(streamError(event.error))));
        return;
    }
  }
}
