/**
 * OpenAI's `stop` parameter: the answer ends before the first stop sequence.
 *
 * Streamed text arrives in arbitrary pieces, so a stop sequence may span two
 * deltas. {@linkcode StopSequenceScanner} holds back the shortest tail that
 * could still begin a stop sequence and releases it once it cannot.
 *
 * @module
 */

/** Where the earliest of `stops` begins in `text`, or -1. */
function firstStop(text: string, stops: readonly string[]): number {
  let first = -1;
  for (const stop of stops) {
    const at = text.indexOf(stop);
    if (at >= 0 && (first < 0 || at < first)) first = at;
  }
  return first;
}

/** The length of the longest suffix of `text` that is a proper prefix of one of `stops`. */
function pendingLength(text: string, stops: readonly string[]): number {
  let longest = 0;
  for (const stop of stops) {
    for (let length = Math.min(stop.length - 1, text.length); length > longest; length--) {
      if (text.endsWith(stop.slice(0, length))) {
        longest = length;
        break;
      }
    }
  }
  return longest;
}

/** What {@linkcode StopSequenceScanner.push} releases. */
export interface ScanResult {
  /** Text that is safe to send: before any stop sequence and not the start of one. */
  text: string;
  /** True once a stop sequence was found; nothing after it is released. */
  stopped: boolean;
}

/** Cuts streamed text at the first stop sequence, even one split across pieces. */
export class StopSequenceScanner {
  #stops: string[];
  #pending = "";
  #stopped = false;

  /** @param stops the stop sequences; empty strings are ignored. */
  constructor(stops: readonly string[]) {
    this.#stops = stops.filter((stop) => stop !== "");
  }

  /** Feeds the next piece of text and returns what may be sent now. */
  push(text: string): ScanResult {
    if (this.#stopped) return { text: "", stopped: true };
    if (this.#stops.length === 0) return { text, stopped: false };
    const buffer = this.#pending + text;
    const at = firstStop(buffer, this.#stops);
    if (at >= 0) {
      this.#stopped = true;
      this.#pending = "";
      return { text: buffer.slice(0, at), stopped: true };
    }
    const keep = pendingLength(buffer, this.#stops);
    this.#pending = buffer.slice(buffer.length - keep);
    return { text: buffer.slice(0, buffer.length - keep), stopped: false };
  }

  /** Releases the held-back tail at the end of the text. */
  flush(): string {
    const text = this.#pending;
    this.#pending = "";
    return text;
  }
}

/** Cuts a whole text at its first stop sequence. */
export function cutAtStop(text: string, stops: readonly string[]): ScanResult {
  const scanner = new StopSequenceScanner(stops);
  const { text: head, stopped } = scanner.push(text);
  return { text: head + scanner.flush(), stopped };
}
