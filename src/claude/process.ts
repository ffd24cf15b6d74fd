/**
 * One Claude Code CLI child process: spawn, feed stdin, read stdout as lines,
 * drain stderr into a bounded tail, and stop it for sure.
 *
 * Stopping is always the same sequence: close stdin, SIGTERM, then SIGKILL
 * after a grace period if the child is still there. Cancelling the stdout line
 * stream (for example because the HTTP client went away) stops the child too,
 * unless the child was marked {@linkcode ClaudeProcess.answered}: a child
 * whose answer is complete gets the grace period to exit by itself first.
 *
 * Each child leads its own process group (so a Ctrl-C meant for the bridge
 * does not reach it). When the bridge may signal process groups (unrestricted
 * `--allow-run`), stop signals go to the whole group, and once the child has
 * exited whatever it left behind in its group is killed: nothing it started
 * outlives it. Otherwise only the child itself is signalled.
 *
 * @module
 */
import { HttpError } from "../http/http_error.ts";
import { TailBuffer } from "../streams/tail_buffer.ts";
import { TextLineStream } from "../streams/text_line_stream.ts";

/** How a child process ended. */
export interface CliExit {
  /** Exit code (128 + signal number when killed by a signal). */
  code: number;
  /** The signal that ended it, if any. */
  signal: Deno.Signal | null;
  /** The last few KiB of stderr, trimmed. */
  stderr: string;
  /** Why the bridge stopped it (an abort reason), if it did. */
  stopReason?: unknown;
}

/** What to spawn and how. */
export interface SpawnOptions {
  /** The CLI binary (`CLAUDE_BIN`). */
  bin: string;
  /** Arguments; the prompt never goes here. */
  args: string[];
  /** Working directory. */
  cwd: string;
  /** Variables added to the inherited environment. */
  env?: Record<string, string>;
  /** Longest stdout line kept, in characters; longer ones are dropped. */
  maxLineLength?: number;
  /** Milliseconds between SIGTERM and SIGKILL. */
  killGraceMs?: number;
  /** Called when a stdout line over `maxLineLength` is dropped. */
  onLineDropped?: (length: number) => void;
}

const STDERR_TAIL = 4096;
/** How long stderr may stay open after the child exited (held by something it started). */
const STDERR_LINGER_MS = 1000;
const unix = Deno.build.os !== "windows";
/** `Deno.kill` (needed for a negative, process-group pid) requires unrestricted `--allow-run`. */
const groupSignals = unix && Deno.permissions.querySync({ name: "run" }).state === "granted";
const encoder = new TextEncoder();

/** Process-wide counts of CLI children (spawned, exited, signals sent), read by `/metrics`. */
export const childProcessCounts = { spawned: 0, exited: 0, sigterm: 0, sigkill: 0 };

/**
 * Maps a spawn failure to a 503 that names `CLAUDE_BIN`.
 */
function spawnError(bin: string, error: unknown): HttpError {
  const reason = error instanceof Deno.errors.NotFound
    ? "was not found"
    : error instanceof Deno.errors.PermissionDenied
    ? "is not executable (or not allowed)"
    : `could not be started (${error instanceof Error ? error.message : String(error)})`;
  return new HttpError(
    503,
    "cli unavailable",
    `The Claude Code CLI "${bin}" ${reason}: install it (npm install -g @anthropic-ai/claude-code) or set CLAUDE_BIN to its path.`,
    { cause: error },
  );
}

/** A running (or finished) CLI child. */
export class ClaudeProcess {
  /** The child's stdout, split into lines. Cancelling it stops the child. */
  readonly lines: ReadableStream<string>;
  /** Resolves once the child has exited and its stderr is drained. */
  readonly exited: Promise<CliExit>;
  /** The child's process id. */
  readonly pid: number;

  #child: Deno.ChildProcess;
  #stdin: WritableStreamDefaultWriter<Uint8Array>;
  #killGraceMs: number;
  #done = false;
  #stopReason: unknown = undefined;
  #stopping: Promise<CliExit> | undefined;
  #answered = false;
  #observers = new Set<(line: string) => void>();

  private constructor(child: Deno.ChildProcess, options: SpawnOptions) {
    this.#child = child;
    this.pid = child.pid;
    this.#killGraceMs = options.killGraceMs ?? 1000;
    this.#stdin = child.stdin.getWriter();
    const stderr = new TailBuffer(STDERR_TAIL);
    const linger = new AbortController();
    const drained = child.stderr.pipeThrough(new TextDecoderStream())
      .pipeTo(stderr, { signal: linger.signal })
      .catch(() => {});
    const status = child.status.then((status) => {
      this.#killGroup("SIGKILL");
      const timer = setTimeout(() => linger.abort(), STDERR_LINGER_MS);
      drained.finally(() => clearTimeout(timer));
      return status;
    });
    childProcessCounts.spawned++;
    this.exited = Promise.all([status, drained]).then(([status]) => {
      this.#done = true;
      childProcessCounts.exited++;
      return {
        code: status.code,
        signal: status.signal,
        stderr: stderr.text,
        stopReason: this.#stopReason,
      };
    });
    this.lines = child.stdout
      .pipeThrough(new TextDecoderStream())
      .pipeThrough(
        new TextLineStream({
          maxLength: options.maxLineLength,
          onDrop: options.onLineDropped,
          onLine: (line) => {
            for (const listener of this.#observers) listener(line);
          },
          onCancel: (reason) => void (this.#answered ? this.#release(reason) : this.stop(reason)),
        }),
      );
  }

  /**
   * Starts the CLI.
   *
   * @throws {HttpError} 503 naming the binary when it is missing or not executable.
   */
  static spawn(options: SpawnOptions): ClaudeProcess {
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(options.bin, {
        args: options.args,
        cwd: options.cwd,
        env: options.env,
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
        detached: unix,
      }).spawn();
    } catch (error) {
      throw spawnError(options.bin, error);
    }
    return new ClaudeProcess(child, options);
  }

  /**
   * Calls `listener` with each stdout line as it passes through `lines`
   * (before its reader gets it). Returns a function that stops the calls.
   */
  observe(listener: (line: string) => void): () => void {
    this.#observers.add(listener);
    return () => void this.#observers.delete(listener);
  }

  /** True until the child has exited. */
  get running(): boolean {
    return !this.#done;
  }

  /**
   * Writes `input` to stdin and closes it. Resolves once written; a child
   * that exits before reading everything is not an error here (its exit
   * status tells what happened).
   */
  async send(input: string): Promise<void> {
    await this.write(input);
    await this.#stdin.close().catch(() => {});
  }

  /**
   * Writes `input` to stdin and leaves it open, e.g. a stream-json control
   * request sent before the prompt. Like {@linkcode send}, never rejects.
   */
  async write(input: string): Promise<void> {
    try {
      await this.#stdin.write(encoder.encode(input));
    } catch {
      // The child closed its stdin early; `exited` reports why.
    }
  }

  /**
   * Marks the child's answer as complete (its result line was read): when the
   * reader then lets go of `lines`, the child is not signalled at once but
   * given the grace period to exit by itself, as it does after its result.
   */
  answered(): void {
    this.#answered = true;
  }

  /** Closes stdin and stops the child only if it has not exited within the grace period. */
  #release(reason: unknown): void {
    this.#stdin.close().catch(() => {});
    const timer = setTimeout(() => void this.stop(reason), this.#killGraceMs);
    this.exited.finally(() => clearTimeout(timer));
  }

  /**
   * Stops the child: closes stdin, sends SIGTERM, and SIGKILL after the grace
   * period. Resolves with its exit once it is gone. Safe to call repeatedly.
   */
  stop(reason?: unknown): Promise<CliExit> {
    if (this.#stopping) return this.#stopping;
    if (this.#done) return this.exited;
    this.#stopReason = reason;
    this.#stdin.abort(reason).catch(() => {});
    this.#signal("SIGTERM");
    const timer = setTimeout(() => this.#signal("SIGKILL"), this.#killGraceMs);
    this.#stopping = this.exited.finally(() => clearTimeout(timer));
    return this.#stopping;
  }

  #signal(signal: Deno.Signal): void {
    if (this.#done) return;
    try {
      if (groupSignals) Deno.kill(-this.pid, signal);
      else this.#child.kill(signal);
      if (signal === "SIGTERM") childProcessCounts.sigterm++;
      if (signal === "SIGKILL") childProcessCounts.sigkill++;
    } catch {
      // Already exited.
    }
  }

  /** Signals the child's process group, if allowed; an empty group is fine. */
  #killGroup(signal: Deno.Signal): void {
    if (!groupSignals) return;
    try {
      Deno.kill(-this.pid, signal);
    } catch {
      // Nothing left in the group.
    }
  }

  /** Stops the child (if still running) and waits for it. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop(new DOMException("disposed", "AbortError"));
  }
}
