/**
 * `ResponsesEventStream`: encodes a reply's events as the Responses API's
 * server-sent events, bytes ready for the response body.
 *
 * Every event is `event: <type>` and one `data:` line of JSON whose `type`
 * repeats the name and whose `sequence_number` counts from 0; which events
 * come in which order is the {@linkcode ResponseAssembler}'s. A text delta
 * is written from a template (only the text is serialized per token). The
 * stream sends no `[DONE]`: OpenAI's Responses streams end after their final
 * `response.*` event.
 *
 * @module
 */
import type { ReplyEvent } from "../engine/reply.ts";
import type { ResponseFrame } from "./responses_object.ts";
import { type OutputSink, ResponseAssembler } from "./responses_output.ts";

/** Options for {@linkcode ResponsesEventStream}. */
export interface ResponsesEventStreamOptions {
  frame: ResponseFrame;
  /** Called once the response is over (completed, incomplete or failed), with its assembler. */
  onEnd?: (assembler: ResponseAssembler) => void;
}

const encoder = new TextEncoder();

/** Transforms reply events into Responses API SSE bytes. */
export class ResponsesEventStream extends TransformStream<ReplyEvent, Uint8Array> {
  #assembler: ResponseAssembler;
  #controller: TransformStreamDefaultController<Uint8Array> | undefined;
  #sequence = 0;
  #onEnd: ((assembler: ResponseAssembler) => void) | undefined;

  /** Makes an encoder for one response. */
  constructor(options: ResponsesEventStreamOptions) {
    super({
      transform: (event, controller) => {
        this.#controller = controller;
        this.#assembler.take(event);
        if (event.type === "end" || event.type === "error") this.#onEnd?.(this.#assembler);
      },
    });
    this.#onEnd = options.onEnd;
    const sink: OutputSink = {
      event: (type, fields) =>
        this.#write(
          type,
          JSON.stringify({ type, ...fields, sequence_number: this.#sequence++ }),
        ),
      textDelta: (itemId, outputIndex, delta) =>
        this.#write(
          "response.output_text.delta",
          `{"type":"response.output_text.delta","item_id":${
            JSON.stringify(itemId)
          },"output_index":${outputIndex},"content_index":0,"delta":${
            JSON.stringify(delta)
          },"logprobs":[],"sequence_number":${this.#sequence++}}`,
        ),
    };
    this.#assembler = new ResponseAssembler(options.frame, sink);
  }

  /** One event; `json` never holds a line break, so it is one `data:` line. */
  #write(type: string, json: string): void {
    this.#controller!.enqueue(encoder.encode(`event: ${type}\ndata: ${json}\n\n`));
  }
}
