/**
 * `ChatChunkStream`: encodes a reply's events as OpenAI
 * `chat.completion.chunk` server-sent events, bytes ready for the response.
 *
 * Reads the reply in batches (see `Reply.batches`) and writes one piece of
 * SSE text per batch, so a reader that falls behind gets fewer, larger
 * writes. The first chunk carries `delta.role = "assistant"`; each text delta becomes
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
/** `data: <json>\n\n`, without the generic formatter: chunk JSON never holds a line break. */
const data = (json: string) => `data: ${json}\n\n`;
const DONE = formatServerSentEvent({ data: "[DONE]" });

/**
 * Transforms batches of reply events into `chat.completion.chunk` SSE bytes:
 * one piece of output per batch.
 */
export class ChatChunkStream extends TransformStream<ReplyEvent[], Uint8Array> {
  #options: ChatChunkStreamOptions;
  #content: (text: string) => string;
  #started = false;

  /** Makes an encoder for one response. */
  constructor(options: ChatChunkStreamOptions) {
    super({
      transform: (batch, controller) => {
        let text = "";
        for (const event of batch) text += this.#event(event);
        if (text !== "") controller.enqueue(encoder.encode(text));
      },
    });
    this.#options = options;
    this.#content = contentChunkJson(options.identity);
  }

  #chunk(delta: Record<string, unknown>, finish: string | null = null): string {
    return data(JSON.stringify(chunk(this.#options.identity, delta, finish)));
  }

  /** The SSE text of one event. */
  #event(event: ReplyEvent): string {
    let text = "";
    if (!this.#started && event.type !== "error") {
      this.#started = true;
      text = this.#chunk({ role: "assistant", content: "" });
    }
    const { identity, legacyFunctions } = this.#options;
    switch (event.type) {
      case "text":
        return text + data(this.#content(event.text));
      case "tool_call":
        if (legacyFunctions) {
          return event.index === 0
            ? text + this.#chunk({ function_call: { name: event.name, arguments: "" } })
            : text;
        }
        return text + this.#chunk({
          tool_calls: [{
            index: event.index,
            id: event.id,
            type: "function",
            function: { name: event.name, arguments: "" },
          }],
        });
      case "tool_arguments":
        if (legacyFunctions) {
          return event.index === 0
            ? text + this.#chunk({ function_call: { arguments: event.delta } })
            : text;
        }
        return text +
          this.#chunk({
            tool_calls: [{ index: event.index, function: { arguments: event.delta } }],
          });
      case "tool_call_done":
        return text;
      case "end":
        return text + this.#chunk({}, finishReasonFor(event.finish, legacyFunctions)) +
          (this.#options.includeUsage
            ? data(JSON.stringify(usageChunk(identity, event.usage)))
            : "") +
          DONE;
      case "error":
        return text + data(JSON.stringify(streamError(event.error)));
    }
  }
}
