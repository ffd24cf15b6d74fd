/**
 * One Claude Code CLI child process: spawn it, write lines to its stdin, read
 * its stdout as {@linkcode CliEvent}s, drain stderr into a bounded tail, and
 * stop it for sure.
 *
 * The stdout pipe is `child.stdout` → `TextDecoderStream` →
 * {@linkcode CliEventStream} (lines, with a length cap, each parsed once, in
 * batches per piece of output); the one consumer of
 * {@linkcode ClaudeProcess.events} (the engine's session) sees the whole life
 * of the process, turn after turn.
 *
 * Stopping is always the same sequence: close stdin, SIGTERM, then SIGKILL
 * after a grace period if the child is still there. Each child leads its own
 * process group (so a Ctrl-C meant for the bridge does not reach it); a
 * {@linkcode GroupSignals} implementation, when given, signals the whole group
 * and, once the child has exited, kills whatever it left behind in it (such
 * as `rg` started by Grep), so nothing a run started outlives it.
 *
 * @module
 */
import { HttpError } from "../http/http_error.ts";
import { TailBuffer } from "../streams/tail_buffer.ts";
import { type CliEvent, CliEventStream } from "./events.ts";

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

/** Signals whole process groups (see `reaper.ts`). */
export interface GroupSignals {
  /** Starts following the group led by `pgid`. */
  watch(pgid: number): void;
  /** Sends `signal` to every process in the group; false when it could not. */
  signal(pgid: number, signal: "SIGTERM" | "SIGKILL"): boolean;
  /** Stops following the group. */
  forget(pgid: number): void;
}

/** What to spawn and how. */
export interface SpawnOptions {
  /** The CLI binary (`CLAUDE_BIN`). */
  bin: string;
  /** Arguments; never anything a client sent. */
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
  /** Signals the child's process group; without it only the child is signalled. */
  groups?: GroupSignals;
}

const STDERR_TAIL = 4096;
/** How long stderr may stay open after the child exited (held by something it started). */
const STDERR_LINGER_MS = 1000;
const unix = Deno.build.os !== "windows";
const encoder = new TextEncoder();

/** Process-wide counts of CLI children (spawned, exited, signals sent), read by `/metrics`. */
export const childProcessCounts = { spawned: 0, exited: 0, sigterm: 0, sigkill: 0 };

/** Maps a spawn failure to a 503 that names `CLAUDE_BIN` and the actual cause. */
function spawnError(bin: string, error: unknown): HttpError {
  const reason = error instanceof Deno.errors.NotFound
    ? "was not found: install it (npm install -g @anthropic-ai/claude-code) or set CLAUDE_BIN to its path"
    : error instanceof Deno.errors.NotCapable
    ? `may not be run by the bridge: start it with --allow-run=${bin} (deno task start allows "claude")`
    : error instanceof Deno.errors.PermissionDenied
    ? "is not executable: check the file's mode, or set CLAUDE_BIN to the real CLI"
    : `could not be started (${
      error instanceof Error ? error.message : String(error)
    }): check CLAUDE_BIN and the machine's process and file limits`;
  return new HttpError(503, "cli unavailable", `The Claude Code CLI "${bin}" ${reason}.`, {
    cause: error,
  });
}

/** A running (or finished) CLI child. */
export class ClaudeProcess {
  /** The child's stdout as batches of events; read it to the end (the session does). */
  readonly events: ReadableStream<CliEvent[]>;
  /** Resolves once the child has exited and its stderr is drained. */
  readonly exited: Promise<CliExit>;
  /** The child's process id (and process group id). */
  readonly pid: number;

  #child: Deno.ChildProcess;
  #stdin: WritableStreamDefaultWriter<Uint8Array>;
  #writing: Promise<void> = Promise.resolve();
  #killGraceMs: number;
  #groups: GroupSignals | undefined;
  #done = false;
  #stopReason: unknown = undefined;
  #stopping: Promise<CliExit> | undefined;

  private constructor(child: Deno.ChildProcess, options: SpawnOptions) {
    this.#child = child;
    this.pid = child.pid;
    this.#killGraceMs = options.killGraceMs ?? 1000;
    this.#groups = unix ? options.groups : undefined;
    this.#groups?.watch(this.pid);
    this.#stdin = child.stdin.getWriter();
    const stderr = new TailBuffer(STDERR_TAIL);
    const linger = new AbortController();
    const drained = child.stderr.pipeThrough(new TextDecoderStream())
      .pipeTo(stderr, { signal: linger.signal })
      .catch(() => {});
    const status = child.status.then((status) => {
      // Whatever the child left in its group (a grep's `rg`, say) goes with it.
      this.#groups?.signal(this.pid, "SIGKILL");
      this.#groups?.forget(this.pid);
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
    this.events = child.stdout
      .pipeThrough(new TextDecoderStream())
      .pipeThrough(
        new CliEventStream({ maxLength: options.maxLineLength, onDrop: options.onLineDropped }),
      );
  }

  /**
   * Starts the CLI in its own process group.
   *
   * @throws {HttpError} 503 naming the binary and the cause when it cannot start.
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

  /** True until the child has exited. */
  get running(): boolean {
    return !this.#done;
  }

  /**
   * Writes `text` to stdin, after anything written before. Resolves once
   * written; never rejects (a child that stopped reading is reported by
   * {@linkcode exited}).
   */
  write(text: string): Promise<void> {
    this.#writing = this.#writing.then(() => this.#stdin.write(encoder.encode(text))).catch(
      () => {},
    );
    return this.#writing;
  }

  /**
   * Closes stdin (the CLI then exits once idle) and stops the child if it has
   * not exited within the grace period. Resolves with its exit.
   */
  release(reason?: unknown): Promise<CliExit> {
    void this.#writing.then(() => this.#stdin.close()).catch(() => {});
    const timer = setTimeout(() => void this.stop(reason), this.#killGraceMs);
    return this.exited.finally(() => clearTimeout(timer));
  }

  /**
   * Stops the child: closes stdin, sends SIGTERM (to its group when
   * possible), and SIGKILL after the grace period. Resolves with its exit
   * once it is gone. Safe to call repeatedly.
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

  #signal(signal: "SIGTERM" | "SIGKILL"): void {
    if (this.#done) return;
    // The group (and what the CLI started), and the child itself in case the reaper cannot.
    this.#groups?.signal(this.pid, signal);
    try {
      this.#child.kill(signal);
      if (signal === "SIGTERM") childProcessCounts.sigterm++;
      else childProcessCounts.sigkill++;
    } catch {
      // Already exited.
    }
  }

  /** Stops the child (if still running) and waits for it. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop(new DOMException("disposed", "AbortError"));
  }
}
