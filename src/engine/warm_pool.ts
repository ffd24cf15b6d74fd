/**
 * A warm pool of Claude Code CLI sessions, so a conversation's first turn
 * skips the CLI's ~1 s start-up.
 *
 * Each pooled process is started with an agent's fixed argv (stream-json in
 * and out) in its own workspace and waits on stdin. The pool probes it with
 * `get_binary_version`, which the CLI answers without initializing the
 * session, and counts it ready once answered: the request that takes it still
 * sets the system prompt, output schema and tools of its own (`initialize`),
 * and the turn's limits. From then on the request's run owns the session, its
 * workspace and its concurrency slot.
 *
 * The pool refills in the background after a take, replaces processes that
 * die, recycles idle ones after a maximum age, backs off (doubling, capped)
 * when processes keep failing, holds one `MAX_CONCURRENT` slot per process
 * (and gives idle ones up when requests need the slots), and stops
 * everything on dispose.
 *
 * @module
 */
import { buildArgs, processEnv, type ProcessSpec } from "../claude/args.ts";
import type { Agent } from "../claude/agents.ts";
import type { Limiter, Permit } from "./limiter.ts";
import type { Session } from "./session.ts";

/** Starts one session for `spec` holding `permit` (the engine's cold-start path). */
export type LaunchSession = (spec: ProcessSpec, permit: Permit) => Promise<Session>;

/** Options for {@linkcode WarmPool}. */
export interface WarmPoolOptions {
  /** The agent whose processes are pooled (the streaming agent). */
  agent: Agent;
  /** Processes to keep per model alias, e.g. `{ sonnet: 2, haiku: 1 }`. */
  sizes: Readonly<Record<string, number>>;
  /** An idle process older than this (ms) is stopped and replaced. */
  maxAgeMs: number;
  /** Starts one session. */
  launch: LaunchSession;
  /** The `MAX_CONCURRENT` gate the processes count against; without one, nothing limits them. */
  limiter?: Pick<Limiter, "tryAcquire">;
  /** Delay (ms) before replacing a process that failed; doubles per failure in a row (default 1000). */
  backoffMs?: number;
  /** Longest backoff delay (ms, default 60 000). */
  maxBackoffMs?: number;
  /** Delay (ms) before trying again when the limiter had no free slot (default 1000). */
  retryMs?: number;
  /** Delay (ms) between a take and the refill, so the new start does not slow the taken process's first token (default 250). */
  refillDelayMs?: number;
  /** Told about processes that failed to start or died while waiting. */
  onFailure?: (model: string, reason: string) => void;
}

/** The pool's state for one model. */
export interface PoolModelStatus {
  /** Processes the pool keeps for it. */
  target: number;
  /** Waiting processes that answered the probe. */
  ready: number;
  /** Processes being started, or started and not yet ready. */
  starting: number;
}

/** A snapshot of the pool, for readiness checks and metrics. */
export interface PoolStatus {
  /** The pooled agent. */
  agent: string;
  models: Record<string, PoolModelStatus>;
  /** Processes started so far. */
  spawned: number;
  /** Processes handed to runs so far. */
  taken: number;
  /** Processes that failed to start or died while waiting, so far. */
  failed: number;
  /** Idle processes stopped for age or to free a slot, so far. */
  retired: number;
  /** Failures in a row since the last take or full-lived process (drives the backoff). */
  failuresInRow: number;
  /** Delay before the next start after those failures (ms; 0 without failures). */
  backoffMs: number;
  /** The last failure's description, if any. */
  lastFailure?: string;
}

/** The permit used without a limiter: nothing to give back. */
const UNLIMITED: Permit = { release() {}, [Symbol.dispose]() {} };

/** What a process is started with, as a string: a run may take a pooled one only when it would start the same. */
function launchKey(spec: ProcessSpec): string {
  const { name, template } = spec.agent;
  return JSON.stringify([name, template ?? null, buildArgs(spec), processEnv(spec)]);
}

/** One pooled session. */
class Entry {
  state: "starting" | "ready" = "starting";
  timer: ReturnType<typeof setTimeout> | undefined;

  constructor(readonly model: string, readonly session: Session) {}
}

/** Keeps CLI sessions started ahead of requests. */
export class WarmPool implements AsyncDisposable {
  #options: Required<Omit<WarmPoolOptions, "limiter" | "onFailure">> & WarmPoolOptions;
  /** Waiting sessions, oldest first. */
  #idle = new Set<Entry>();
  /** Sessions whose clean-up the pool still owes (idle ones and retired ones). */
  #owned = new Set<Entry>();
  /** The spec each pooled model is started with, and its {@linkcode launchKey}. */
  #specs = new Map<string, { spec: ProcessSpec; key: string }>();
  #launching = new Map<string, number>();
  #pending = new Set<Promise<unknown>>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #backoffUntil = 0;
  #disposed = false;
  #stats = { spawned: 0, taken: 0, failed: 0, retired: 0, failuresInRow: 0 };
  #lastFailure: string | undefined;

  /** Starts filling the pool right away. */
  constructor(options: WarmPoolOptions) {
    this.#options = {
      backoffMs: 1000,
      maxBackoffMs: 60_000,
      retryMs: 1000,
      refillDelayMs: 250,
      ...options,
    };
    for (const model of Object.keys(options.sizes)) {
      const spec: ProcessSpec = { agent: options.agent, model, clientTools: false };
      this.#specs.set(model, { spec, key: launchKey(spec) });
    }
    this.#fill();
  }

  /** The pooled agent's name. */
  get agent(): string {
    return this.#options.agent.name;
  }

  /**
   * Hands over a waiting session that `spec` would start the same (agent,
   * argv, environment), preferring a ready one over one still starting, or
   * returns `undefined`. The caller owns the session from then on.
   */
  take(spec: ProcessSpec): Session | undefined {
    if (this.#disposed || spec.resumeFile !== undefined) return undefined;
    const pooled = this.#specs.get(spec.model);
    if (!pooled || launchKey(spec) !== pooled.key) return undefined;
    let pick: Entry | undefined;
    for (const entry of this.#idle) {
      if (entry.model !== spec.model) continue;
      if (!pick || (pick.state === "starting" && entry.state === "ready")) pick = entry;
    }
    if (!pick) return undefined;
    this.#idle.delete(pick);
    this.#owned.delete(pick);
    clearTimeout(pick.timer);
    this.#stats.taken++;
    this.#stats.failuresInRow = 0;
    this.#schedule(this.#options.refillDelayMs);
    pick.session.warm = true;
    return pick.session;
  }

  /**
   * Stops one idle session to free its concurrency slot for a request that
   * would otherwise wait (the slot comes free once the process has exited).
   * Picks the model with the most idle sessions, its oldest one. Returns
   * false when nothing is idle.
   */
  shed(): boolean {
    const counts = new Map<string, number>();
    for (const entry of this.#idle) counts.set(entry.model, (counts.get(entry.model) ?? 0) + 1);
    let pick: Entry | undefined;
    for (const entry of this.#idle) {
      if (!pick || counts.get(entry.model)! > counts.get(pick.model)!) pick = entry;
    }
    if (!pick) return false;
    this.#retire(pick);
    return true;
  }

  /** Sizes and counters, for `/readyz` and metrics. */
  status(): PoolStatus {
    const models: Record<string, PoolModelStatus> = {};
    for (const [model, target] of Object.entries(this.#options.sizes)) {
      models[model] = { target, ready: 0, starting: this.#launching.get(model) ?? 0 };
    }
    for (const entry of this.#idle) {
      const counts = models[entry.model];
      if (counts) counts[entry.state]++;
    }
    return {
      agent: this.agent,
      models,
      ...this.#stats,
      backoffMs: this.#backoffDelay(),
      ...(this.#lastFailure === undefined ? {} : { lastFailure: this.#lastFailure }),
    };
  }

  /** Stops every waiting session and stops refilling; resolves once all are gone. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.#disposed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const entry of [...this.#idle]) this.#retire(entry);
    while (this.#pending.size > 0 || this.#owned.size > 0) {
      const closed = [...this.#owned].map((entry) => entry.session.closed);
      await Promise.allSettled([...this.#pending, ...closed]);
    }
  }

  /** Runs `promise` to its end before dispose may finish. */
  #track(promise: Promise<unknown>): void {
    this.#pending.add(promise);
    void promise.finally(() => this.#pending.delete(promise));
  }

  #count(model: string): number {
    let count = this.#launching.get(model) ?? 0;
    for (const entry of this.#idle) if (entry.model === model) count++;
    return count;
  }

  /** Calls {@linkcode WarmPool.#fill} after `ms`, unless a fill is already scheduled. */
  #schedule(ms: number): void {
    if (this.#disposed || this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#fill();
    }, ms);
  }

  /** Starts sessions until every model has its target, as slots and backoff allow. */
  #fill(): void {
    if (this.#disposed || this.#timer !== undefined) return;
    const wait = this.#backoffUntil - performance.now();
    if (wait > 0) return this.#schedule(wait);
    for (const [model, target] of Object.entries(this.#options.sizes)) {
      while (this.#count(model) < target) {
        const permit = this.#options.limiter ? this.#options.limiter.tryAcquire() : UNLIMITED;
        if (!permit) return this.#schedule(this.#options.retryMs);
        this.#track(this.#start(model, permit));
      }
    }
  }

  async #start(model: string, permit: Permit): Promise<void> {
    this.#launching.set(model, (this.#launching.get(model) ?? 0) + 1);
    this.#stats.spawned++;
    let session: Session;
    try {
      session = await this.#options.launch(this.#specs.get(model)!.spec, permit);
    } catch (error) {
      permit.release();
      this.#failure(model, error instanceof Error ? error.message : String(error));
      return;
    } finally {
      this.#launching.set(model, this.#launching.get(model)! - 1);
    }
    const entry = new Entry(model, session);
    this.#owned.add(entry);
    void session.closed.then(() => this.#closed(entry));
    if (this.#disposed) {
      void session.close(new DOMException("warm pool disposed", "AbortError"));
      return;
    }
    this.#idle.add(entry);
    const age = this.#options.maxAgeMs * (1 - Math.random() * 0.1);
    entry.timer = setTimeout(() => {
      this.#stats.failuresInRow = 0; // It lived its whole life.
      this.#retire(entry);
    }, age);
    session.probe().then(
      () => {
        if (this.#idle.has(entry)) entry.state = "ready";
      },
      () => {}, // It exited; #closed deals with it.
    );
  }

  /** Stops an idle session on purpose; its exit then releases the slot and workspace. */
  #retire(entry: Entry): void {
    if (!this.#idle.delete(entry)) return;
    clearTimeout(entry.timer);
    this.#stats.retired++;
    void entry.session.close(new DOMException("warm process retired", "AbortError"));
  }

  /** After an owned session's process exits: a failure if it was still waiting; then refill. */
  async #closed(entry: Entry): Promise<void> {
    if (!this.#owned.delete(entry)) return; // Taken: its run cleans up.
    if (this.#idle.delete(entry)) {
      clearTimeout(entry.timer);
      const exit = await entry.session.process.exited;
      const stderr = exit.stderr ? `: ${exit.stderr}` : "";
      this.#failure(entry.model, `exited while waiting (code ${exit.code})${stderr}`);
    }
    this.#schedule(0);
  }

  #backoffDelay(): number {
    const { failuresInRow } = this.#stats;
    if (failuresInRow === 0) return 0;
    const { backoffMs, maxBackoffMs } = this.#options;
    return Math.min(maxBackoffMs, backoffMs * 2 ** (failuresInRow - 1));
  }

  #failure(model: string, reason: string): void {
    this.#stats.failed++;
    this.#stats.failuresInRow++;
    this.#lastFailure = `${model}: ${reason}`;
    const delay = this.#backoffDelay();
    this.#backoffUntil = performance.now() + delay;
    this.#options.onFailure?.(model, reason);
    this.#schedule(delay);
  }
}
