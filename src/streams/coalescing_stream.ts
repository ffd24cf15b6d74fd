/**
 * `CoalescingStream`: passes bytes through unchanged, but hands its reader
 * everything that piled up since the last read as one chunk.
 *
 * An HTTP response body costs about the same per chunk however small the
 * chunk is, so a stream of one tiny chunk per token tops out near 30 000
 * chunks a second. With this stage at the end of the pipe, a chunk goes out
 * the moment the reader (the HTTP server) asks for it if there is one — no
 * timer, no added latency when tokens trickle in — and while the server is
 * busy writing, the tokens that arrive meanwhile are joined into the next
 * write.
 *
 * It is a readable/writable pair rather than a `TransformStream` because a
 * transform cannot see whether its reader is waiting: only a pull-driven
 * readable can.
 *
 * @module
 */
import { clearImmediate, setImmediate } from "node:timers";
import { concatBytes } from "../http/bytes.ts";

/** Chunks closer together than this (ms) count as one burst. */
const BURST_MS = 1;

/** Joins chunks written while the reader was busy; see the module documentation. */
export class CoalescingStream implements ReadableWritablePair<Uint8Array, Uint8Array> {
  /** The joined chunks, in order. */
  readonly readable: ReadableStream<Uint8Array>;
  /** Where the chunks go in. */
  readonly writable: WritableStream<Uint8Array>;
  #parts: Uint8Array[] = [];
  #size = 0;
  #maxBytes: number;
  #closed = false;
  #cancelled: { reason: unknown } | undefined;
  #wakeReader: (() => void) | undefined;
  #wakeWriter: (() => void) | undefined;
  #timer: ReturnType<typeof setImmediate> | undefined;
  #deliveredAt = -Infinity;

  /** @param maxBytes bytes held before a write waits for the reader (default 64 KiB). */
  constructor(maxBytes = 64 * 1024) {
    this.#maxBytes = maxBytes;
    let readable!: ReadableStreamDefaultController<Uint8Array>;
    let writable!: WritableStreamDefaultController;
    this.writable = new WritableStream<Uint8Array>({
      start: (controller) => void (writable = controller),
      write: async (chunk) => {
        this.#parts.push(chunk);
        this.#size += chunk.byteLength;
        this.#deliver();
        while (this.#size >= this.#maxBytes && !this.#cancelled) {
          await new Promise<void>((resolve) => this.#wakeWriter = resolve);
        }
        if (this.#cancelled) throw this.#cancelled.reason;
      },
      close: () => {
        this.#closed = true;
        this.#wake("reader");
      },
      abort: (reason) => readable.error(reason),
    });
    this.readable = new ReadableStream<Uint8Array>({
      start: (controller) => void (readable = controller),
      pull: async (controller) => {
        while (this.#size === 0 && !this.#closed) {
          await new Promise<void>((resolve) => this.#wakeReader = resolve);
        }
        if (this.#size > 0) {
          controller.enqueue(this.#take());
          this.#deliveredAt = performance.now();
        }
        if (this.#closed && this.#size === 0) controller.close();
        this.#wake("writer");
      },
      cancel: (reason) => {
        if (this.#timer !== undefined) clearImmediate(this.#timer);
        this.#cancelled = { reason };
        writable.error(reason);
        this.#wake("writer");
      },
    }, { highWaterMark: 0 });
  }

  /** Everything buffered, as one chunk. */
  #take(): Uint8Array {
    const joined = concatBytes(this.#parts, this.#size);
    this.#parts = [];
    this.#size = 0;
    return joined;
  }

  /**
   * Wakes a waiting reader: at once after a quiet spell, or one event-loop
   * turn later inside a burst, so the rest of the burst (already being
   * parsed) joins the same chunk. The turn is `setImmediate`'s, not
   * `setTimeout(0)`'s: Deno holds a zero timeout back for a millisecond or
   * two, which would add that to every token that follows another closely.
   */
  #deliver(): void {
    if (this.#timer !== undefined) return;
    if (performance.now() - this.#deliveredAt > BURST_MS) return this.#wake("reader");
    this.#timer = setImmediate(() => {
      this.#timer = undefined;
      this.#wake("reader");
    });
  }

  #wake(who: "reader" | "writer"): void {
    const wake = who === "reader" ? this.#wakeReader : this.#wakeWriter;
    if (who === "reader") this.#wakeReader = undefined;
    else this.#wakeWriter = undefined;
    wake?.();
  }
}
