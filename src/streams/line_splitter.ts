/**
 * `LineSplitter`: the line-splitting state machine behind
 * {@linkcode TextLineStream}, usable inside another transform (so a stage
 * that splits and parses lines costs one stream hop, not two).
 *
 * Like `@std/streams`' `TextLineStream`: `\n` and `\r\n` end a line; with
 * `allowCR`, a lone `\r` does too. A line longer than `maxLength` is dropped
 * (and reported once its end is seen) instead of being buffered without end.
 *
 * @module
 */

/** Options for {@linkcode LineSplitter}. */
export interface LineSplitterOptions {
  /** Treat a lone `\r` as a line end too. Default `false`. */
  allowCR?: boolean;
  /** Longest line kept, in UTF-16 code units; longer lines are dropped. Default: no limit. */
  maxLength?: number;
  /** Called with a dropped line's length once its end (or the input's end) is seen. */
  onDrop?: (length: number) => void;
}

/** Splits text pushed in pieces into lines, without their line ends. */
export class LineSplitter {
  #line = "";
  #dropped = -1;
  #pendingCR = false;
  #allowCR: boolean;
  #maxLength: number;
  #onDrop: (length: number) => void;

  /** Makes a splitter. */
  constructor(options: LineSplitterOptions = {}) {
    this.#allowCR = options.allowCR ?? false;
    this.#maxLength = options.maxLength ?? Infinity;
    this.#onDrop = options.onDrop ?? (() => {});
  }

  /** Takes the next piece of text; calls `line` with every line it completes. */
  push(chunk: string, line: (text: string) => void): void {
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
      this.#emit(line);
      start = next;
      if (lf >= 0 && lf < next) lf = chunk.indexOf("\n", next);
      if (cr >= 0 && cr < next) cr = chunk.indexOf("\r", next);
    }
    this.#append(chunk.slice(start));
  }

  /** Ends the input; calls `line` with the last line if the text did not end with a line end. */
  end(line: (text: string) => void): void {
    if (this.#pendingCR) {
      // The input ended on a "\r": a line end with `allowCR`, otherwise part of the line.
      if (!this.#allowCR) this.#append("\r");
    } else if (this.#line === "" && this.#dropped < 0) {
      return;
    }
    this.#emit(line);
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

  #emit(line: (text: string) => void): void {
    if (this.#dropped >= 0) this.#onDrop(this.#dropped);
    else line(this.#line);
    this.#line = "";
    this.#dropped = -1;
  }
}
