/**
 * A CLI (real or stand-in) run straight from the benchmark, no bridge: the
 * baseline the bridge is compared with. Its stdout is read as lines, each
 * with the wall-clock time its bytes arrived.
 *
 * Disposing it closes stdin, gives the process `graceMs` to exit by itself,
 * then kills it, so a benchmark never leaves one behind.
 *
 * @module
 */
import { own } from "./cleanup.ts";
import { wallNow } from "./stats.ts";

/** One stdout line and when it was read (wall-clock ms). */
export interface TimedLine {
  line: string;
  receivedAt: number;
}

/** A child process with piped stdin and stdout read as timed lines. */
export class DirectCli implements AsyncDisposable {
  readonly lines: AsyncIterableIterator<TimedLine>;
  readonly pid: number;
  /** Wall-clock ms just before the spawn. */
  readonly spawnedAt: number;
  #child: Deno.ChildProcess;
  #stdin: WritableStreamDefaultWriter<Uint8Array>;
  #graceMs: number;

  /** Starts `bin` with `args` in `cwd`, with `env` added to the environment. */
  constructor(
    bin: string,
    args: string[],
    cwd: string,
    env: Record<string, string>,
    graceMs = 5000,
  ) {
    this.spawnedAt = wallNow();
    this.#child = new Deno.Command(bin, {
      args,
      cwd,
      env,
      stdin: "piped",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    own(this.#child);
    this.pid = this.#child.pid;
    this.#graceMs = graceMs;
    this.#stdin = this.#child.stdin.getWriter();
    this.lines = timedLines(this.#child.stdout);
  }

  /** Writes `text` to stdin; resolves with the wall-clock time just before the write. */
  async write(text: string): Promise<number> {
    const bytes = new TextEncoder().encode(text);
    const at = wallNow();
    await this.#stdin.write(bytes);
    return at;
  }

  /** Closes stdin. */
  async close(): Promise<void> {
    await this.#stdin.close().catch(() => {});
  }

  /** Waits (up to `timeoutMs`) for the first line `match` accepts and returns it. */
  async next(match: (line: string) => boolean, timeoutMs = 60_000): Promise<TimedLine> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no matching CLI output line within ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([this.#find(match), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async #find(match: (line: string) => boolean): Promise<TimedLine> {
    // Not `for await`: leaving that loop early would close the line iterator.
    for (let next = await this.lines.next(); !next.done; next = await this.lines.next()) {
      if (match(next.value.line)) return next.value;
    }
    throw new Error("the CLI's output ended before a matching line");
  }

  /** Closes stdin, reads the rest of stdout, and waits for the exit (killing it after the grace). */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
    const timer = setTimeout(() => {
      try {
        this.#child.kill("SIGKILL");
      } catch {
        // Already gone.
      }
    }, this.#graceMs);
    try {
      for await (const _ of this.lines) { /* drain */ }
    } catch {
      // The pipe broke with the kill.
    }
    await this.#child.status;
    clearTimeout(timer);
  }
}

async function* timedLines(stdout: ReadableStream<Uint8Array>): AsyncGenerator<TimedLine> {
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const bytes of stdout) {
    const receivedAt = wallNow();
    buffer += decoder.decode(bytes, { stream: true });
    let start = 0;
    let end: number;
    while ((end = buffer.indexOf("\n", start)) >= 0) {
      yield { line: buffer.slice(start, end), receivedAt };
      start = end + 1;
    }
    buffer = buffer.slice(start);
  }
  if (buffer) yield { line: buffer, receivedAt: wallNow() };
}
