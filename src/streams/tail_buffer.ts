/**
 * A bounded text tail: keeps only the last `limit` characters written to it.
 * Used to drain a child's stderr without holding all of it.
 *
 * @module
 */

/** A writable sink that remembers the last `limit` characters it was given. */
export class TailBuffer extends WritableStream<string> {
  #text = "";
  #limit: number;

  /** @param limit characters to keep. */
  constructor(limit: number) {
    super({ write: (chunk) => this.#push(chunk) });
    this.#limit = limit;
  }

  #push(chunk: string): void {
    const text = this.#text + chunk;
    this.#text = text.length > this.#limit ? text.slice(text.length - this.#limit) : text;
  }

  /** The kept tail, trimmed. */
  get text(): string {
    return this.#text.trim();
  }
}
