/**
 * A {@linkcode Reply}: one response of the model, as the faces see it — a
 * stream of neutral {@linkcode ReplyEvent}s (text, the client's tool calls,
 * the end with its finish reason and usage, or an error) made from the CLI's
 * events of one turn.
 *
 * The session that owns the CLI process feeds every event of the turn to
 * {@linkcode Reply.take}; the reply translates it and pushes the result into
 * its stream, waiting while the stream's reader is behind (so back-pressure
 * reaches the CLI's stdout pipe). What it does with the CLI's output:
 *
 * - text deltas pass through a stop-sequence scanner (OpenAI `stop`); at a
 *   stop sequence the reply ends with finish reason `stop` and asks for the
 *   process to be stopped, as it does at a `max_tokens` stop (`length`: the
 *   CLI would otherwise make the model continue);
 * - text of a later message of the same turn (after the agent used one of its
 *   own tools) is separated from the earlier text by a blank line;
 * - with an output schema, text is dropped and the answer is the result's
 *   structured output, sent at the end;
 * - calls of the client's tools become `tool_call` / `tool_arguments` /
 *   `tool_call_done` events under the client's own names, and a message that
 *   ends in them ends the reply with finish reason `tool_calls` (the CLI
 *   process waits for the results);
 * - usage is summed per model message of this reply (`message_start` and
 *   `message_delta`), so a reply resumed after tool results does not count
 *   what an earlier reply already did;
 * - the turn's end is judged by {@linkcode judgeResult} / {@linkcode judgeExit}.
 *
 * {@linkcode Reply.started} settles with the first event: it resolves on
 * content (or the end) and rejects with the error when the reply fails before
 * any content, so a face can still answer with a real HTTP status.
 *
 * @module
 */
import type { CliEvent, CliResult, CliUsage } from "../claude/events.ts";
import type { CliExit } from "../claude/process.ts";
import type { ToolNames } from "../claude/tool_names.ts";
import type { ToolUseBlock, Turn } from "../conversation/model.ts";
import { HttpError } from "../http/http_error.ts";
import { judgeExit, judgeResult, type Outcome } from "./outcome.ts";
import { StopSequenceScanner } from "./stop_sequences.ts";

/** Token usage of a reply. */
export interface Usage {
  /** Input tokens that were neither read from nor written to the prompt cache. */
  inputTokens: number;
  outputTokens: number;
  /** Input tokens read from the prompt cache. */
  cacheReadTokens: number;
  /** Input tokens written to the prompt cache. */
  cacheWriteTokens: number;
}

/** Why a reply ended. */
export type FinishReason = "stop" | "length" | "tool_calls" | "content_filter";

/** One event of a reply. */
export type ReplyEvent =
  | { type: "text"; text: string }
  /** A call of a client tool begins; `index` counts the reply's calls from 0. */
  | { type: "tool_call"; index: number; id: string; name: string }
  /** A fragment of a call's JSON arguments. */
  | { type: "tool_arguments"; index: number; delta: string }
  /** A call is complete; `arguments` is the whole JSON text. */
  | { type: "tool_call_done"; index: number; arguments: string }
  | { type: "end"; finish: FinishReason; usage: Usage }
  | { type: "error"; error: HttpError };

/** How a reply ended, for the session that owns the process. */
export type ReplyEnd =
  /** The turn is over and the process waits for the next user message. */
  | { kind: "answered" }
  /** The model called client tools; the process waits for their results. */
  | { kind: "tool_calls"; calls: ToolUseBlock[] }
  /** The bridge cut the answer (stop sequence, token limit): the process must stop. */
  | { kind: "cut" }
  /** The reply failed or its reader left: the process must stop. */
  | { kind: "failed"; error: unknown };

/** What shapes a reply. */
export interface ReplyOptions {
  /** Stop sequences. */
  stop: readonly string[];
  /** The answer is the structured output of an output schema. */
  structured: boolean;
  /** Maps the model's tool names back to the client's. */
  names: ToolNames;
}

/** Zero usage. */
export function emptyUsage(): Usage {
  return { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 };
}

function addUsage(total: Usage, usage: CliUsage | undefined): void {
  if (!usage) return;
  total.inputTokens += usage.input_tokens;
  total.outputTokens += usage.output_tokens;
  total.cacheReadTokens += usage.cache_read_input_tokens;
  total.cacheWriteTokens += usage.cache_creation_input_tokens;
}

/** Anthropic's stop reason as a finish reason. */
export function finishReasonOf(stopReason: string | null | undefined): FinishReason {
  switch (stopReason) {
    case "max_tokens":
      return "length";
    case "refusal":
      return "content_filter";
    default:
      return "stop";
  }
}

/** The answer of a structured-output run, as JSON text. */
function structuredAnswer(result: CliResult): Outcome {
  if (result.structured_output === undefined) {
    return {
      ok: false,
      error: new HttpError(
        502,
        "no structured output",
        "Claude answered without the JSON that response_format asked for; retry, or simplify the schema.",
        { fields: { detail: (result.result ?? "").slice(0, 2000) } },
      ),
    };
  }
  return { ok: true, text: JSON.stringify(result.structured_output) };
}

/** Most plain (non-JSON) stdout kept for a CLI that answers in plain text, in characters. */
const MAX_PLAIN = 1024 * 1024;

interface Call {
  id: string;
  name: string;
  arguments: string;
  index: number;
}

/** Most events a reply queues before the CLI's output waits for its reader. */
export const MAX_QUEUED_EVENTS = 256;

/** One response of the model; see the module documentation. */
export class Reply {
  /**
   * The reply's events in batches: each read takes every event that came
   * since the last one (so a busy reader gets one larger chunk rather than
   * many small ones). Ends after `end` or `error`. Read this or
   * {@linkcode Reply.events}, not both.
   */
  readonly batches: ReadableStream<ReplyEvent[]>;
  /** Settles with the first event: resolves on content or the end, rejects on an error. */
  readonly started: Promise<void>;
  /** Resolves once the reply is over, with how it ended. */
  readonly ended: Promise<ReplyEnd>;

  #options: ReplyOptions;
  #queue: ReplyEvent[] = [];
  /** No event will be added after those queued. */
  #closing = false;
  #cancelled = false;
  #wakeReader: (() => void) | undefined;
  #wakeWriter: (() => void) | undefined;
  #events: ReadableStream<ReplyEvent> | undefined;
  #start = Promise.withResolvers<void>();
  #ending = Promise.withResolvers<ReplyEnd>();
  #scanner: StopSequenceScanner;
  #over = false;
  #sawModel = false;
  #onFirstModelEvent: (() => void) | undefined;
  #text = "";
  #separate = false;
  #streamed = new Set<string>();
  #calls: Call[] = [];
  #blocks = new Map<number, Call>();
  #usage = emptyUsage();
  #messageUsage: CliUsage | undefined;
  #sawMessages = false;
  #stopReason: string | undefined;
  #plain = "";
  #resultLine: CliResult | undefined;

  /** @param options stop sequences, output schema and tool names of the turn. */
  constructor(options: ReplyOptions) {
    this.#options = options;
    this.#scanner = new StopSequenceScanner(options.stop);
    this.started = this.#start.promise;
    this.started.catch(() => {});
    this.ended = this.#ending.promise;
    this.batches = new ReadableStream<ReplyEvent[]>({
      pull: async (controller) => {
        while (this.#queue.length === 0 && !this.#closing) {
          await new Promise<void>((resolve) => this.#wakeReader = resolve);
        }
        if (this.#queue.length > 0) {
          controller.enqueue(this.#queue);
          this.#queue = [];
          this.#wake("writer");
        }
        if (this.#closing) controller.close();
      },
      cancel: (reason) => {
        this.#cancelled = true;
        this.#queue = [];
        this.#finish({ kind: "failed", error: reason });
        this.#wake("writer");
      },
    }, { highWaterMark: 0 });
  }

  /** The reply's events one by one (the same events as {@linkcode Reply.batches}). */
  get events(): ReadableStream<ReplyEvent> {
    this.#events ??= this.batches.pipeThrough(
      new TransformStream<ReplyEvent[], ReplyEvent>({
        transform: (batch, controller) => {
          for (const event of batch) controller.enqueue(event);
        },
      }),
    );
    return this.#events;
  }

  /** True once the reply has ended. */
  get over(): boolean {
    return this.#over;
  }

  /** Token usage so far (final once the reply is over). */
  get usage(): Usage {
    return { ...this.#usage };
  }

  /** The turn's `result` line, once it came (for the native endpoint's extra fields). */
  get result(): CliResult | undefined {
    return this.#resultLine;
  }

  /** The assistant turn as the client will send it back: the text and tool calls it was sent. */
  get turn(): Turn {
    const content: Turn["content"] = [];
    if (this.#text !== "") content.push({ type: "text", text: this.#text });
    for (const call of this.#calls) {
      content.push({
        type: "tool_use",
        id: call.id,
        name: call.name,
        input: parseArguments(call.arguments),
      });
    }
    return { role: "assistant", content };
  }

  /** Calls `listener` once, at the first sign of the model at work (for the first-event timeout). */
  onFirstModelEvent(listener: () => void): void {
    if (this.#sawModel) listener();
    else this.#onFirstModelEvent = listener;
  }

  /**
   * Takes one CLI event of the turn. Returns a promise only when the reader
   * is {@linkcode MAX_QUEUED_EVENTS} behind (back-pressure); it resolves once
   * the reader has caught up.
   */
  take(event: CliEvent): Promise<void> | undefined {
    if (this.#over) return;
    switch (event.type) {
      case "message_start":
        this.#model();
        if (event.id !== undefined) this.#streamed.add(event.id);
        this.#sawMessages = true;
        this.#messageUsage = event.usage;
        if (this.#text !== "") this.#separate = true;
        return;
      case "text":
        this.#model();
        if (this.#options.structured || event.text === "") return;
        if (this.#separate) {
          this.#separate = false;
          this.#emitText("\n\n");
        }
        return this.#emitText(event.text);
      case "tool_start":
        return this.#toolStart(event.index, event.id, event.name);
      case "tool_input": {
        const call = this.#blocks.get(event.index);
        if (!call || event.json === "") return;
        call.arguments += event.json;
        return this.#push({ type: "tool_arguments", index: call.index, delta: event.json });
      }
      case "block_stop": {
        const call = this.#blocks.get(event.index);
        if (!call) return;
        this.#blocks.delete(event.index);
        return this.#push({
          type: "tool_call_done",
          index: call.index,
          arguments: call.arguments,
        });
      }
      case "message_delta":
        this.#messageDelta(event.stopReason, event.usage);
        return;
      case "assistant":
        this.#model();
        return this.#assistant(event.id, event.blocks);
      case "result":
        this.#model();
        this.#result(event.result);
        return;
      case "raw":
        if (this.#plain.length < MAX_PLAIN) this.#plain += (this.#plain ? "\n" : "") + event.line;
        return;
      default:
        return;
    }
  }

  /** The process ended before the turn did: judged by its exit and any plain text it printed. */
  exited(exit: CliExit): void {
    if (this.#over) return;
    this.#conclude(judgeExit(exit, this.#plain), finishReasonOf(this.#stopReason));
  }

  /** Ends the reply with `error` (a timeout, shutdown, a failed setup). */
  fail(error: HttpError): void {
    if (this.#over) return;
    this.#push({ type: "error", error }, false);
    this.#close({ kind: "failed", error });
  }

  #model(): void {
    if (this.#sawModel) return;
    this.#sawModel = true;
    this.#onFirstModelEvent?.();
  }

  #emitText(text: string): Promise<void> | undefined {
    const scanned = this.#scanner.push(text);
    let wait: Promise<void> | undefined;
    if (scanned.text !== "") {
      this.#text += scanned.text;
      wait = this.#push({ type: "text", text: scanned.text });
    }
    if (scanned.stopped) this.#end("stop", { kind: "cut" });
    return wait;
  }

  #toolStart(index: number, id: string, apiName: string): Promise<void> | undefined {
    this.#model();
    const name = this.#options.names.clientName(apiName);
    // The agent's own tools (and the CLI's StructuredOutput) run inside the CLI.
    if (name === undefined) return;
    const call: Call = { id, name, arguments: "", index: this.#calls.length };
    this.#calls.push(call);
    this.#blocks.set(index, call);
    return this.#push({ type: "tool_call", index: call.index, id, name });
  }

  #messageDelta(stopReason: string | undefined, usage: Partial<CliUsage> | undefined): void {
    // The delta's counts are final; what it leaves out, the message's start had.
    const start = this.#messageUsage;
    this.#messageUsage = undefined;
    if (start || usage) {
      addUsage(this.#usage, {
        input_tokens: 0,
        output_tokens: 0,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
        ...start,
        ...usage,
      });
    }
    if (stopReason === undefined) return;
    this.#stopReason = stopReason;
    if (stopReason === "max_tokens" && !this.#options.structured) {
      return this.#end("length", { kind: "cut" });
    }
    if (stopReason === "tool_use" && this.#calls.length > 0) {
      const calls = this.#calls.map((call): ToolUseBlock => ({
        type: "tool_use",
        id: call.id,
        name: call.name,
        input: parseArguments(call.arguments),
      }));
      this.#end("tool_calls", { kind: "tool_calls", calls });
    }
  }

  /**
   * A whole message. One that was streamed is already relayed. One that was
   * not (the CLI fetched it without streaming, after a stream broke off) is
   * relayed if nothing was sent yet; otherwise it cannot continue what was
   * sent, which is a failure.
   */
  #assistant(
    id: string,
    blocks: readonly { type: string; text?: string; name?: string }[],
  ): Promise<void> | undefined {
    if (this.#streamed.has(id)) return;
    const text = blocks.map((block) => block.type === "text" ? block.text ?? "" : "").join("");
    const calls = blocks.some((block) =>
      block.type === "tool_use" && this.#options.names.clientName(block.name ?? "") !== undefined
    );
    if (!calls && (this.#options.structured || text === "")) return;
    if (!calls && this.#text === "" && this.#calls.length === 0) return this.#emitText(text);
    this.fail(
      new HttpError(
        502,
        "upstream stream interrupted",
        "Claude's answer broke off mid-stream and the CLI fetched a new one that cannot continue what was already sent; retry the request.",
      ),
    );
    return undefined;
  }

  #result(result: CliResult): void {
    this.#resultLine = result;
    if (!this.#sawMessages) addUsage(this.#usage, result.usage);
    const outcome = judgeResult(result);
    if (outcome.ok && this.#options.structured) {
      return this.#conclude(structuredAnswer(result), "stop");
    }
    const finish = finishReasonOf(this.#stopReason ?? result.stop_reason);
    // The answer was streamed; the result's text only stands in when nothing was.
    this.#conclude(outcome.ok && this.#text !== "" ? { ok: true } : outcome, finish);
  }

  #conclude(outcome: Outcome, finish: FinishReason): void {
    if (!outcome.ok) return this.fail(outcome.error);
    if (outcome.text) this.#emitText(outcome.text);
    if (!this.#over) this.#end(finish, { kind: "answered" });
  }

  /** Sends held-back text and the `end` event, and closes the stream. */
  #end(finish: FinishReason, end: ReplyEnd): void {
    const rest = this.#scanner.flush();
    if (rest !== "") {
      this.#text += rest;
      this.#push({ type: "text", text: rest }, false);
    }
    this.#push({ type: "end", finish, usage: this.#usage }, false);
    this.#close(end);
  }

  #close(end: ReplyEnd): void {
    if (this.#over) return;
    this.#finish(end);
    this.#closing = true;
    this.#wake("reader");
  }

  #finish(end: ReplyEnd): void {
    if (this.#over) return;
    this.#over = true;
    this.#start.resolve();
    this.#ending.resolve(end);
  }

  /**
   * Queues `event` for the reader. With `wait`, returns a promise when the
   * reader is {@linkcode MAX_QUEUED_EVENTS} behind, resolved once it caught up.
   */
  #push(event: ReplyEvent, wait = true): Promise<void> | undefined {
    if (this.#over || this.#cancelled) return;
    if (event.type === "error") this.#start.reject(event.error);
    else this.#start.resolve();
    this.#queue.push(event);
    this.#wake("reader");
    if (!wait || this.#queue.length < MAX_QUEUED_EVENTS) return;
    return new Promise<void>((resolve) => this.#wakeWriter = resolve);
  }

  #wake(who: "reader" | "writer"): void {
    const wake = who === "reader" ? this.#wakeReader : this.#wakeWriter;
    if (who === "reader") this.#wakeReader = undefined;
    else this.#wakeWriter = undefined;
    wake?.();
  }
}

/** Tool arguments as a JSON value; text that is not JSON is kept as a string. */
export function parseArguments(text: string): unknown {
  if (text.trim() === "") return {};
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
