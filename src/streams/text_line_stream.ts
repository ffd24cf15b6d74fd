/**
 * `TextLineStream`: splits a stream of text into lines, like `@std/streams`'
 * class of the same name (`\n` and `\r\n` end a line; with `allowCR`, a lone
 * `\r` does too), with two additions: a maximum line length, past which a line
 * is dropped (and reported) instead of being buffered without end; and hooks
 * that see each line and the reader's cancel.
 *
 * @module
 */
import { LineSplitter, type LineSplitterOptions } from "./line_splitter.ts";

/** Options for {@linkcode TextLineStream}. */
export interface TextLineStreamOptions extends LineSplitterOptions {
  /** Called with each line just before the reader gets it. */
  onLine?: (line: string) => void;
  /** Called when the stream is cancelled (by its reader, or by its writer's abort). */
  onCancel?: (reason: unknown) => void;
}

/** Transforms a stream of strings into a stream of lines, without their line ends. */
export class TextLineStream extends TransformStream<string, string> {
  /** Makes a line splitter. */
  constructor(options: TextLineStreamOptions = {}) {
    const splitter = new LineSplitter(options);
    let enqueue: (line: string) => void = () => {};
    super({
      start: (controller) => {
        enqueue = (line) => {
          options.onLine?.(line);
          controller.enqueue(line);
        };
      },
      transform: (chunk) => splitter.push(chunk, enqueue),
      flush: () => splitter.end(enqueue),
      cancel: (reason) => options.onCancel?.(reason),
    });
  }
}
