/**
 * A CLI (real or stand-in) run straight from the benchmark, no bridge: the
 * baseline the bridge is compared with. Its stdout is read as lines, each
 * with the wall-clock time its bytes arrived.
 *
 * @module
 */
import { wallNow } from "./stats.ts";

/** One stdout line and when it was read (wall-clock ms). */
export interface TimedLine {
  line: string;
  receivedAt: number;
}

/** A child process with piped stdin and stdout read as timed lines. */
export class DirectCli implements AsyncDisposable {
  readonly lines: AsyncIterableIterator<TimedLine>;
  #child: Deno.ChildProcess;
  #stdin: WritableStreamDefaultWriter<Uint8Array>;

  /** Starts `bin` with `args` in `cwd`, with `env` added to the environment. */
  constructor(bin: string, args: string[], cwd: string, env: Record<string, string>) {
    this.#child = new Deno.Command(bin, {
      args,
      cwd,
      env,
      stdin: "piped",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    this.#stdin = this.#child.stdin.getWriter();
    this.lines = timedLines(this.#child.stdout);
  }

  /** Writes `text` to stdin. */
  async write(text: string): Promise<void> {
    await this.#stdin.write(new TextEncoder().encode(text));
  }

  /** Closes stdin. */
  async close(): Promise<void> {
    await this.#stdin.close();
  }

  /** Waits for the first line `match` accepts and returns it. */
  async next(match: (line: string) => boolean): Promise<TimedLine> {
    // Not `for await`: leaving that loop early would close the line iterator.
    for (let next = await this.lines.next(); !next.done; next = await this.lines.next()) {
      if (match(next.value.line)) return next.value;
    }
    throw new Error("the CLI's output ended first");
  }

  /** Reads the rest of stdout and waits for the exit. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.#stdin.close().catch(() => {});
    for await (const _ of this.lines) { /* drain */ }
    await this.#child.status;
  }
}

async function* timedLines(stdout: ReadableStream<Uint8Array>): AsyncGenerator<TimedLine> {
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const bytes of stdout) {
    const receivedAt = wallNow();
    buffer += decoder.decode(bytes, { stream: true });
    let end: number;
    while ((end = buffer.indexOf("\n")) >= 0) {
      yield { line: buffer.slice(0, end), receivedAt };
      buffer = buffer.slice(end + 1);
    }
  }
  if (buffer) yield { line: buffer, receivedAt: wallNow() };
}
