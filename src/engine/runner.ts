/**
 * Starts CLI runs: a concurrency slot, a fresh workspace, the child process in
 * it, the prompt on stdin, and one owner for their lifetime. A run stops its
 * child when the caller's signal aborts (client gone, timeout) or when a
 * streaming run's model stays silent past the first-event timeout; once the
 * child has exited it removes the workspace and frees the slot, whatever
 * happened. {@linkcode Runner.close} drains everything for shutdown.
 *
 * @module
 */
import { buildArgs, runEnv, type RunSpec, stdinFor, userMessageLine } from "../claude/args.ts";
import { ClaudeProcess, type CliExit } from "../claude/process.ts";
import { HttpError } from "../http/http_error.ts";
import type { Limiter, Permit } from "./limiter.ts";
import type { Prompt } from "./prompt.ts";
import type { Launched, WarmPool } from "./warm_pool.ts";
import { Workspace } from "../claude/workspace.ts";

/** Settings shared by every run. */
export interface RunnerOptions {
  /** The CLI binary (`CLAUDE_BIN`). */
  claudeBin: string;
  /** Parent directory of per-run workspaces. */
  workspaceRoot: string;
  /** Milliseconds between SIGTERM and SIGKILL when stopping a child. */
  killGraceMs?: number;
  /** Longest stdout line kept, in characters. */
  maxLineLength?: number;
  /** Variables set for every child, over the inherited environment and {@linkcode runEnv}. */
  childEnv?: Record<string, string>;
  /** Pre-started processes to use when one matches the run (see {@linkcode WarmPool.take}). */
  pool?: WarmPool;
  /** The `MAX_CONCURRENT` gate; every child holds one of its permits while it runs. */
  limiter?: Limiter;
  /** Longest a stream-json run may wait for its first model event (ms); default: no limit. */
  firstEventTimeoutMs?: number;
  /** Where warnings (such as dropped stdout lines) go; default `console.warn`. */
  warn?: (message: string, fields: Record<string, unknown>) => void;
}

/** stdout line types that are the CLI's own housekeeping, not the model at work. */
const HOUSEKEEPING = new Set(["system", "control_response"]);

/** True for a stdout line that shows the model at work: any JSON event but housekeeping. */
function isModelEvent(line: string): boolean {
  try {
    const value = JSON.parse(line);
    return typeof value === "object" && value !== null && !HOUSEKEEPING.has(value.type);
  } catch {
    return false;
  }
}

/**
 * Stops `process` with a 504 unless a model event arrives within `ms`.
 * Returns a function that ends the watch.
 */
function watchFirstEvent(process: ClaudeProcess, ms: number): () => void {
  const timer = setTimeout(() => {
    void process.stop(
      new HttpError(
        504,
        "timeout",
        `The Claude Code CLI produced no model output within FIRST_EVENT_TIMEOUT_MS (${ms} ms); retry, or raise the limit.`,
      ),
    );
  }, ms);
  const unobserve = process.observe((line) => {
    if (isModelEvent(line)) done();
  });
  const done = () => {
    clearTimeout(timer);
    unobserve();
  };
  return done;
}

/** The error for a request that gave up before its run began (client gone, or out of time). */
function notStarted(reason: unknown): unknown {
  if (reason instanceof DOMException && reason.name === "TimeoutError") {
    return new HttpError(
      504,
      "timeout",
      "No CLI slot became free within REQUEST_TIMEOUT_MS; retry later, or raise MAX_CONCURRENT.",
    );
  }
  if (reason instanceof DOMException && reason.name === "AbortError") {
    return new HttpError(
      499,
      "client closed request",
      "The client went away before the run began.",
    );
  }
  return reason;
}

/** One running CLI invocation. Disposing it stops the child and cleans up. */
export class Run implements AsyncDisposable {
  /** The child process. */
  readonly process: ClaudeProcess;
  /** Resolves once the child has exited and the workspace is removed. */
  readonly finished: Promise<CliExit>;
  /** Milliseconds the run waited for a free slot (for the request log). */
  queueWaitMs = 0;
  /** True when a warm pool process served the run. */
  warm = false;
  #signal: AbortSignal;
  #onAbort: () => void;

  /**
   * @internal Use {@linkcode Runner.start}. `permit`, the concurrency slot the
   * child holds, is released once the child has exited and the workspace is
   * removed. With `firstEventTimeoutMs`, the child is stopped with a 504 when
   * no model event arrives in time.
   */
  constructor(
    process: ClaudeProcess,
    workspace: Workspace,
    signal: AbortSignal,
    permit?: Permit,
    firstEventTimeoutMs?: number,
  ) {
    this.process = process;
    this.#signal = signal;
    this.#onAbort = () => void process.stop(signal.reason);
    signal.addEventListener("abort", this.#onAbort, { once: true });
    if (signal.aborted) this.#onAbort();
    const unwatch = firstEventTimeoutMs === undefined
      ? () => {}
      : watchFirstEvent(process, firstEventTimeoutMs);
    this.finished = process.exited.then(async (exit) => {
      signal.removeEventListener("abort", this.#onAbort);
      unwatch();
      await workspace.remove();
      permit?.release();
      return exit;
    });
  }

  /** Stops the child if it still runs and waits for the cleanup. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.#signal.removeEventListener("abort", this.#onAbort);
    await this.process.stop(new DOMException("run disposed", "AbortError"));
    await this.finished;
  }
}

/** Starts runs of the Claude Code CLI. */
export class Runner {
  #options: RunnerOptions;
  #runs = new Set<Run>();
  #closed: HttpError | undefined;

  /** @param options settings shared by every run. */
  constructor(options: RunnerOptions) {
    this.#options = options;
  }

  /**
   * Starts one run and writes the prompt to its stdin.
   *
   * @throws {HttpError} 503 when the CLI cannot be started or the runner is
   * closed, 429 when the limiter's queue is full, 504 when `signal` times out
   * and 499 when it aborts (the client left) before the run begins.
   */
  async start(spec: RunSpec, prompt: Prompt, signal: AbortSignal): Promise<Run> {
    if (this.#closed) throw this.#closed;
    if (signal.aborted) throw notStarted(signal.reason);
    const firstEventTimeoutMs = spec.output === "stream-json"
      ? this.#options.firstEventTimeoutMs
      : undefined;
    // A warm process speaks stream-json, which a json-output caller reads just as well.
    const warm = this.#options.pool?.take(spec);
    if (warm) {
      const run = this.#track(
        new Run(warm.process, warm.workspace, signal, warm.permit, firstEventTimeoutMs),
      );
      run.warm = true;
      void warm.process.send(userMessageLine(prompt));
      return run;
    }
    const queuedAt = performance.now();
    const permit = await this.#acquire(signal).catch((error) => {
      throw error === signal.reason ? notStarted(error) : error;
    });
    let launched: Launched;
    try {
      launched = await launch(this.#options, spec);
    } catch (error) {
      permit?.release();
      throw error;
    }
    const { process, workspace } = launched;
    const run = this.#track(new Run(process, workspace, signal, permit, firstEventTimeoutMs));
    run.queueWaitMs = performance.now() - queuedAt;
    void process.send(stdinFor(prompt, spec.output));
    return run;
  }

  /** Runs whose child has not exited yet. */
  get running(): number {
    return this.#runs.size;
  }

  /**
   * Shuts down: refuses new runs (and everyone waiting for a slot) with 503,
   * stops the warm pool, lets running runs finish for up to `graceMs`, then
   * stops the rest and waits until every child has exited.
   */
  async close(graceMs: number): Promise<void> {
    this.#closed ??= new HttpError(
      503,
      "shutting down",
      "The bridge is shutting down; retry in a moment (or on another instance).",
      { headers: { "retry-after": "5" } },
    );
    const reason = this.#closed;
    this.#options.limiter?.close(reason);
    const pool = this.#options.pool?.[Symbol.asyncDispose]();
    const all = () => Promise.all([...this.#runs].map((run) => run.finished));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const grace = new Promise<void>((resolve) => timer = setTimeout(resolve, graceMs));
    await Promise.race([all(), grace]);
    clearTimeout(timer);
    for (const run of this.#runs) void run.process.stop(reason);
    await Promise.all([all(), pool]);
  }

  #track(run: Run): Run {
    this.#runs.add(run);
    void run.finished.finally(() => this.#runs.delete(run));
    // A start that was already under way when close() began must not outlive it.
    if (this.#closed) void run.process.stop(this.#closed);
    return run;
  }

  /** A slot for a cold start; when none is free, an idle warm process gives up its own. */
  async #acquire(signal: AbortSignal): Promise<Permit | undefined> {
    const { limiter, pool } = this.#options;
    if (!limiter) return undefined;
    const free = limiter.tryAcquire();
    if (free) return free;
    pool?.shed();
    return await limiter.acquire(signal);
  }
}

/**
 * Starts a CLI child for `spec` in a fresh workspace, with nothing written to
 * its stdin yet (the cold start, also used to fill the warm pool).
 *
 * @throws {HttpError} 503 when the CLI cannot be started.
 */
export async function launch(options: RunnerOptions, spec: RunSpec): Promise<Launched> {
  const workspace = await Workspace.create(options.workspaceRoot, spec.agent);
  try {
    const process = ClaudeProcess.spawn({
      bin: options.claudeBin,
      args: buildArgs(spec),
      cwd: workspace.path,
      env: { ...runEnv(spec), ...options.childEnv },
      killGraceMs: options.killGraceMs,
      maxLineLength: options.maxLineLength,
      onLineDropped: (length) =>
        (options.warn ?? console.warn)("dropped a CLI output line longer than MAX_LINE_CHARS", {
          length,
          limit: options.maxLineLength,
        }),
    });
    return { process, workspace };
  } catch (error) {
    await workspace.remove();
    throw error;
  }
}
