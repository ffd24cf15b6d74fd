/**
 * `TextLineStream`: splits a stream of text into lines, like `@std/streams`'
 * class of the same name (`\n` and `\r\n` end a line; with `allowCR`, a lone
 * `\r` does too), with two additions: a maximum line length, past which a line
 * is dropped (and reported) instead of being buffered without end; and hooks
 * that see each line and the reader's cancel, so a caller can watch the lines
 * without a stream stage of its own (each stage costs every line a few
 * promises).
 *
 * @module
 */

/** Options for {@linkcode TextLineStream}. */
export interface TextLineStreamOptions {
  /** Treat a lone `\r` as a line end too. Default `false`. */
  allowCR?: boolean;
  /** Longest line kept, in UTF-16 code units; longer lines are dropped. Default: no limit. */
  maxLength?: number;
  /** Called with a dropped line's length once its end (or the stream's end) is seen. */
  onDrop?: (length: number) => void;
  /** Called with each line just before the reader gets it. */
  onLine?: (line: string) => void;
  /** Called when the stream is cancelled (by its reader, or by its writer's abort). */
  onCancel?: (reason: unknown) => void;
}

/** Transforms a stream of strings into a stream of lines, without their line ends. */
export class TextLineStream extends TransformStream<string, string> {
  #line = "";
  #dropped = -1;
  #pendingCR = false;
  #allowCR: boolean;
  #maxLength: number;
  #onDrop: (length: number) => void;
  #onLine: ((line: string) => void) | undefined;

  /** Makes a line splitter. */
  constructor(options: TextLineStreamOptions = {}) {
    super({
      transform: (chunk, controller) => this.#push(chunk, controller),
      flush: (controller) => this.#end(controller),
      cancel: (reason) => options.onCancel?.(reason),
    });
    this.#allowCR = options.allowCR ?? false;
    this.#maxLength = options.maxLength ?? Infinity;
    this.#onDrop = options.onDrop ?? (() => {});
    this.#onLine = options.onLine;
  }

  #push(chunk: string, controller: TransformStreamDefaultController<string>): void {
    if (this.#pendingCR) {
      chunk = "\r" + chunk;
      this.#pendingCR = false;
    }
    let start = 0;
    let lf = chunk.indexOf("\n");
    let cr = chunk.indexOf("\r");
    for (;;) {
      const end = lf < 0 ? cr : cr < 0 ? lf : Math.min(lf, cr);
      if (end === -1) break;
      let next = end + 1;
      if (end === cr) {
        if (next === chunk.length) {
          // A "\r" at the end of a chunk may be half of a "\r\n": decide on the next chunk.
          this.#append(chunk.slice(start, end));
          this.#pendingCR = true;
          return;
        }
        if (chunk.charCodeAt(next) === 10) next++;
        else if (!this.#allowCR) {
          // A lone "\r" is part of the line: look for the next break after it.
          cr = chunk.indexOf("\r", next);
          continue;
        }
      }
      this.#append(chunk.slice(start, end));
      this.#emit(controller);
      start = next;
      if (lf >= 0 && lf < next) lf = chunk.indexOf("\n", next);
      if (cr >= 0 && cr < next) cr = chunk.indexOf("\r", next);
    }
    this.#append(chunk.slice(start));
  }

  #append(text: string): void {
    if (this.#dropped >= 0) {
      this.#dropped += text.length;
    } else if (this.#line.length + text.length > this.#maxLength) {
      this.#dropped = this.#line.length + text.length;
      this.#line = "";
    } else {
      this.#line += text;
    }
  }

  #emit(controller: TransformStreamDefaultController<string>): void {
    if (this.#dropped >= 0) {
      this.#onDrop(this.#dropped);
    } else {
      this.#onLine?.(this.#line);
      controller.enqueue(this.#line);
    }
    this.#line = "";
    this.#dropped = -1;
  }

  #end(controller: TransformStreamDefaultController<string>): void {
    if (this.#pendingCR) {
      // The stream ended on a "\r": a line end with `allowCR`, otherwise part of the line.
      if (!this.#allowCR) this.#append("\r");
    } else if (this.#line === "" && this.#dropped < 0) {
      return;
    }
    this.#emit(controller);
  }
}
