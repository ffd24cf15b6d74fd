/**
 * `ResponseAssembler`: folds a reply's events into a Responses API
 * `response` — its output items and end state — and says, event by event,
 * what a stream of it sends. Streaming and non-streaming requests both go
 * through it (one reader, one path): the stream encoder gives it a sink that
 * writes server-sent events, {@linkcode collectResponse} gives it none.
 *
 * The events, as OpenAI orders them: `response.created`,
 * `response.in_progress`; per text run a `message` item
 * (`response.output_item.added`, `response.content_part.added`,
 * `response.output_text.delta`…, `response.output_text.done`,
 * `response.content_part.done`, `response.output_item.done`); per tool call
 * a `function_call` item (`response.output_item.added`,
 * `response.function_call_arguments.delta`…, `.done`,
 * `response.output_item.done`); then `response.completed` (or
 * `response.incomplete` after a token limit or a refusal). A failure is
 * `response.failed` (items still open are marked incomplete), then `error`.
 *
 * @module
 */
import type { FinishReason, ReplyEvent } from "../engine/reply.ts";
import type { HttpError } from "../http/http_error.ts";
import {
  errorCode,
  errorObject,
  newId,
  type ResponseEnd,
  type ResponseFrame,
  responseObject,
  statusOf,
} from "./responses_object.ts";

/**
 * Where the stream events go. Fields are serialized at once: the assembler
 * keeps changing the objects it passes.
 */
export interface OutputSink {
  /** One event (`sequence_number` is the sink's to add). */
  event(type: string, fields: Record<string, unknown>): void;
  /** A `response.output_text.delta` of message `itemId` (the hot path). */
  textDelta(itemId: string, outputIndex: number, delta: string): void;
}

const NO_SINK: OutputSink = { event() {}, textDelta() {} };

/** An output item of the response (a `message` or a `function_call`). */
export type OutputItem = Record<string, unknown> & { id: string; type: string; status: string };

interface OpenMessage {
  item: OutputItem;
  index: number;
  text: string;
}

interface OpenCall {
  item: OutputItem & { arguments: string };
  index: number;
}

/** Builds one response from reply events; see the module documentation. */
export class ResponseAssembler {
  /** The output items so far, in order. */
  readonly output: OutputItem[] = [];
  #frame: ResponseFrame;
  #sink: OutputSink;
  #started = false;
  #message: OpenMessage | undefined;
  #calls = new Map<number, OpenCall>();
  #end: ResponseEnd | undefined;

  /**
   * @param frame the request's settings the response echoes.
   * @param sink where the stream events go (default: nowhere).
   */
  constructor(frame: ResponseFrame, sink: OutputSink = NO_SINK) {
    this.#frame = frame;
    this.#sink = sink;
  }

  /** How the response ended, once it did. */
  get end(): ResponseEnd | undefined {
    return this.#end;
  }

  /** The response object as it stands. */
  get response(): Record<string, unknown> {
    return responseObject(this.#frame, this.output, this.#end);
  }

  /** Takes one reply event (the first one also sends `response.created` and `.in_progress`). */
  take(event: ReplyEvent): void {
    if (this.#end) return;
    if (!this.#started) {
      this.#started = true;
      const response = responseObject(this.#frame, []);
      this.#sink.event("response.created", { response });
      this.#sink.event("response.in_progress", { response });
    }
    switch (event.type) {
      case "text":
        return this.#text(event.text);
      case "tool_call":
        return this.#toolCall(event.index, event.id, event.name);
      case "tool_arguments": {
        const call = this.#calls.get(event.index);
        if (!call) return;
        call.item.arguments += event.delta;
        this.#sink.event("response.function_call_arguments.delta", {
          item_id: call.item.id,
          output_index: call.index,
          delta: event.delta,
        });
        return;
      }
      case "tool_call_done": {
        const call = this.#calls.get(event.index);
        if (!call) return;
        this.#calls.delete(event.index);
        call.item.arguments = event.arguments;
        call.item.status = "completed";
        this.#sink.event("response.function_call_arguments.done", {
          item_id: call.item.id,
          output_index: call.index,
          arguments: event.arguments,
        });
        this.#sink.event("response.output_item.done", {
          output_index: call.index,
          item: call.item,
        });
        return;
      }
      case "end":
        return this.#finish(event.finish, event);
      case "error":
        return this.#fail(event.error);
    }
  }

  #text(text: string): void {
    let message = this.#message;
    if (!message) {
      const item: OutputItem = {
        id: newId("msg"),
        type: "message",
        status: "in_progress",
        content: [],
        role: "assistant",
      };
      message = { item, index: this.output.length, text: "" };
      this.#message = message;
      this.output.push(item);
      this.#sink.event("response.output_item.added", { output_index: message.index, item });
      this.#sink.event("response.content_part.added", {
        item_id: item.id,
        output_index: message.index,
        content_index: 0,
        part: textPart(""),
      });
    }
    message.text += text;
    this.#sink.textDelta(message.item.id, message.index, text);
  }

  #toolCall(index: number, callId: string, name: string): void {
    this.#closeMessage("completed");
    const item = {
      id: newId("fc"),
      type: "function_call",
      status: "in_progress",
      arguments: "",
      call_id: callId,
      name,
    };
    const call: OpenCall = { item, index: this.output.length };
    this.#calls.set(index, call);
    this.output.push(item);
    this.#sink.event("response.output_item.added", { output_index: call.index, item });
  }

  /** Ends the open message: its text is final, and it gets `status`. */
  #closeMessage(status: "completed" | "incomplete", announce = true): void {
    const message = this.#message;
    if (!message) return;
    this.#message = undefined;
    const { item, index, text } = message;
    item.content = [textPart(text)];
    item.status = status;
    if (!announce) return;
    const at = { item_id: item.id, output_index: index, content_index: 0 };
    this.#sink.event("response.output_text.done", { ...at, text, logprobs: [] });
    this.#sink.event("response.content_part.done", { ...at, part: textPart(text) });
    this.#sink.event("response.output_item.done", { output_index: index, item });
  }

  /** Marks the calls still open as incomplete. */
  #closeCalls(announce: boolean): void {
    for (const call of this.#calls.values()) {
      call.item.status = "incomplete";
      if (announce) {
        this.#sink.event("response.output_item.done", {
          output_index: call.index,
          item: call.item,
        });
      }
    }
    this.#calls.clear();
  }

  #finish(finish: FinishReason, event: Extract<ReplyEvent, { type: "end" }>): void {
    const { status, incomplete } = statusOf(finish);
    this.#closeMessage(status);
    this.#closeCalls(true);
    this.#end = { status, usage: event.usage, incomplete };
    this.#sink.event(`response.${status}`, { response: this.response });
  }

  #fail(error: HttpError): void {
    this.#closeMessage("incomplete", false);
    this.#closeCalls(false);
    this.#end = { status: "failed", error };
    this.#sink.event("response.failed", { response: this.response });
    const object = errorObject(error);
    this.#sink.event("error", {
      code: errorCode(error.code),
      message: error.message,
      param: object.param,
      error: object,
    });
  }
}

function textPart(text: string): Record<string, unknown> {
  return { type: "output_text", annotations: [], logprobs: [], text };
}

/**
 * Reads a reply's events to the end and folds them into one `response`
 * object, with its output items.
 *
 * @throws {HttpError} the reply's failure, whenever it happens (nothing was sent yet).
 */
export async function collectResponse(
  events: ReadableStream<ReplyEvent>,
  frame: ResponseFrame,
): Promise<{ response: Record<string, unknown>; output: OutputItem[] }> {
  const assembler = new ResponseAssembler(frame);
  for await (const event of events) {
    if (event.type === "error") throw event.error;
    assembler.take(event);
    if (event.type === "end") return { response: assembler.response, output: assembler.output };
  }
  throw new TypeError("the reply ended without an end event");
}
