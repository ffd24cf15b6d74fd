/**
 * Starts CLI runs: a fresh workspace, the child process in it, the prompt on
 * stdin, and one owner for their lifetime. A run stops its child when the
 * caller's signal aborts (client gone, timeout), and removes its workspace
 * once the child has exited, whatever happened.
 *
 * @module
 */
import { buildArgs, CLI_ENV, type RunSpec, stdinFor } from "./claude_args.ts";
import { ClaudeProcess, type CliExit } from "./claude_process.ts";
import type { Prompt } from "./prompt.ts";
import { Workspace } from "./workspace.ts";

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
}

/** One running CLI invocation. Disposing it stops the child and cleans up. */
export class Run implements AsyncDisposable {
  /** The child process. */
  readonly process: ClaudeProcess;
  /** Resolves once the child has exited and the workspace is removed. */
  readonly finished: Promise<CliExit>;
  #signal: AbortSignal;
  #onAbort: () => void;

  /** @internal Use {@linkcode Runner.start}. */
  constructor(process: ClaudeProcess, workspace: Workspace, signal: AbortSignal) {
    this.process = process;
    this.#signal = signal;
    this.#onAbort = () => void process.stop(signal.reason);
    signal.addEventListener("abort", this.#onAbort, { once: true });
    this.finished = process.exited.then(async (exit) => {
      signal.removeEventListener("abort", this.#onAbort);
      await workspace.remove();
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

  /** @param options settings shared by every run. */
  constructor(options: RunnerOptions) {
    this.#options = options;
  }

  /**
   * Starts one run and writes the prompt to its stdin.
   *
   * @throws {HttpError} 503 when the CLI cannot be started.
   * @throws the signal's reason when it is already aborted.
   */
  async start(spec: RunSpec, prompt: Prompt, signal: AbortSignal): Promise<Run> {
    signal.throwIfAborted();
    const workspace = await Workspace.create(this.#options.workspaceRoot, spec.agent);
    let process: ClaudeProcess;
    try {
      process = ClaudeProcess.spawn({
        bin: this.#options.claudeBin,
        args: buildArgs(spec),
        cwd: workspace.path,
        env: CLI_ENV,
        killGraceMs: this.#options.killGraceMs,
        maxLineLength: this.#options.maxLineLength,
      });
    } catch (error) {
      await workspace.remove();
      throw error;
    }
    const run = new Run(process, workspace, signal);
    if (signal.aborted) void process.stop(signal.reason);
    void process.send(stdinFor(prompt, spec.output));
    return run;
  }
}
