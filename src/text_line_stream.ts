/**
 * `TextLineStream`: splits a stream of text into lines, like `@std/streams`'
 * class of the same name (`\n` and `\r\n` end a line; with `allowCR`, a lone
 * `\r` does too), with one addition: a maximum line length, past which a line
 * is dropped (and reported) instead of being buffered without end.
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
}

/** Transforms a stream of strings into a stream of lines, without their line ends. */
export class TextLineStream extends TransformStream<string, string> {
  #line = "";
  #dropped = -1;
  #pendingCR = false;
  #allowCR: boolean;
  #maxLength: number;
  #onDrop: (length: number) => void;

  /** Makes a line splitter. */
  constructor(options: TextLineStreamOptions = {}) {
    super({
      transform: (chunk, controller) => this.#push(chunk, controller),
      flush: (controller) => this.#end(controller),
    });
    this.#allowCR = options.allowCR ?? false;
    this.#maxLength = options.maxLength ?? Infinity;
    this.#onDrop = options.onDrop ?? (() => {});
  }

  #push(chunk: string, controller: TransformStreamDefaultController<string>): void {
    if (this.#pendingCR) {
      chunk = "\r" + chunk;
      this.#pendingCR = false;
    }
    let start = 0;
    for (;;) {
      const end = this.#allowCR ? firstBreak(chunk, start) : chunk.indexOf("\n", start);
      if (end === -1) break;
      let next = end + 1;
      if (chunk[end] === "\r") {
        if (next === chunk.length) {
          // A "\r" at the end of a chunk may be half of a "\r\n": decide on the next chunk.
          this.#append(chunk.slice(start, end));
          this.#pendingCR = true;
          return;
        }
        if (chunk[next] === "\n") next++;
      }
      this.#append(chunk.slice(start, end));
      this.#emit(controller);
      start = next;
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
      controller.enqueue(this.#line.endsWith("\r") ? this.#line.slice(0, -1) : this.#line);
    }
    this.#line = "";
    this.#dropped = -1;
  }

  #end(controller: TransformStreamDefaultController<string>): void {
    if (this.#line === "" && this.#dropped < 0 && !this.#pendingCR) return;
    this.#emit(controller);
  }
}

function firstBreak(text: string, from: number): number {
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10 || c === 13) return i;
  }
  return -1;
}
