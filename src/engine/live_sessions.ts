/**
 * Sessions parked between two requests of their conversation, found again
 * by the conversation they hold.
 *
 * - **Idle** sessions finished a turn and wait for the next user message.
 *   They are bounded by count (`LIVE_SESSIONS`, least recently used evicted
 *   first) and by idle time (`LIVE_SESSION_IDLE_MS`), and give their slot up
 *   when a request would otherwise wait for one ({@linkcode LiveSessions.shed}).
 * - **Suspended** sessions wait, mid-turn, for the results of the client tool
 *   calls their last reply ended with. They are bounded by
 *   `TOOL_RESULT_TIMEOUT_MS`.
 *
 * A parked session is keyed by {@linkcode conversationKey} of its setup and
 * turns; {@linkcode LiveSessions.take} hands it to exactly one request. Every
 * parked session is stopped on {@linkcode LiveSessions.close}.
 *
 * @module
 */
import type { Session } from "./session.ts";

/** Why a session is parked. */
export type ParkedKind = "idle" | "suspended";

/** Options for {@linkcode LiveSessions}. */
export interface LiveSessionsOptions {
  /** Most idle sessions kept (0 keeps none). */
  maxIdle: number;
  /** An idle session unused this long (ms) is stopped. */
  idleMs: number;
  /** A suspended session whose tool results have not come this long (ms) is stopped. */
  toolResultMs: number;
  /** Told when a parked session is stopped without being used, and why. */
  onEvict?: (kind: ParkedKind, reason: "count" | "idle" | "timeout" | "shed" | "replaced") => void;
}

interface Parked {
  key: string;
  kind: ParkedKind;
  session: Session;
  timer: ReturnType<typeof setTimeout>;
}

/** The counts of parked sessions, for `/metrics` and `/readyz`. */
export interface LiveSessionsStatus {
  idle: number;
  suspended: number;
  /** Most idle sessions kept. */
  maxIdle: number;
}

/** Parked sessions by conversation; see the module documentation. */
export class LiveSessions {
  #options: LiveSessionsOptions;
  /** In least-recently-parked order (a Map keeps insertion order). */
  #parked = new Map<string, Parked>();
  #closed = false;

  /** @param options bounds and timeouts. */
  constructor(options: LiveSessionsOptions) {
    this.#options = options;
  }

  /**
   * Parks `session` under `key`. An idle session beyond `maxIdle` evicts
   * the least recently parked idle one (or is not kept at all when
   * `maxIdle` is 0). Returns false when the session was not kept: the
   * caller then releases it.
   */
  park(key: string, kind: ParkedKind, session: Session): boolean {
    if (this.#closed || session.state === "closed") return false;
    if (kind === "idle" && this.#options.maxIdle === 0) return false;
    const existing = this.#parked.get(key);
    if (existing) this.#evict(existing, "replaced");
    if (kind === "idle") {
      const idle = [...this.#parked.values()].filter((entry) => entry.kind === "idle");
      for (const entry of idle.slice(0, Math.max(0, idle.length - this.#options.maxIdle + 1))) {
        this.#evict(entry, "count");
      }
    }
    const ms = kind === "idle" ? this.#options.idleMs : this.#options.toolResultMs;
    const entry: Parked = {
      key,
      kind,
      session,
      timer: setTimeout(() => this.#evict(entry, kind === "idle" ? "idle" : "timeout"), ms),
    };
    this.#parked.set(key, entry);
    void session.closed.then(() => {
      if (this.#parked.get(key) === entry) this.#remove(entry);
    });
    return true;
  }

  /** Hands the session parked under `key` (of `kind`) to the caller, or `undefined`. */
  take(key: string, kind: ParkedKind): Session | undefined {
    const entry = this.#parked.get(key);
    if (!entry || entry.kind !== kind || entry.session.state === "closed") return undefined;
    this.#remove(entry);
    return entry.session;
  }

  /**
   * Stops every suspended session waiting on any of `toolUseIds` — a request
   * that answers its calls in a way the fast path cannot take (a different
   * history, extra user text) makes it useless.
   */
  dropSuspended(toolUseIds: readonly string[]): void {
    const ids = new Set(toolUseIds);
    for (const entry of [...this.#parked.values()]) {
      if (entry.kind === "suspended" && entry.session.pendingCalls.some((id) => ids.has(id))) {
        this.#evict(entry, "replaced");
      }
    }
  }

  /** Stops the least recently parked idle session to free its slot; false when there is none. */
  shed(): boolean {
    for (const entry of this.#parked.values()) {
      if (entry.kind === "idle") {
        this.#evict(entry, "shed");
        return true;
      }
    }
    return false;
  }

  /** Counts, for metrics and readiness. */
  status(): LiveSessionsStatus {
    let idle = 0;
    let suspended = 0;
    for (const entry of this.#parked.values()) {
      if (entry.kind === "idle") idle++;
      else suspended++;
    }
    return { idle, suspended, maxIdle: this.#options.maxIdle };
  }

  /** Stops every parked session and parks no more; resolves once all have exited. */
  async close(reason?: unknown): Promise<void> {
    this.#closed = true;
    const sessions = [...this.#parked.values()].map((entry) => entry.session);
    for (const entry of [...this.#parked.values()]) this.#remove(entry);
    await Promise.all(sessions.map((session) => session.close(reason)));
  }

  #remove(entry: Parked): void {
    clearTimeout(entry.timer);
    if (this.#parked.get(entry.key) === entry) this.#parked.delete(entry.key);
  }

  #evict(entry: Parked, reason: "count" | "idle" | "timeout" | "shed" | "replaced"): void {
    this.#remove(entry);
    this.#options.onEvict?.(entry.kind, reason);
    void (entry.kind === "idle" ? entry.session.release() : entry.session.close(
      new DOMException(`tool results did not come (${reason})`, "AbortError"),
    ));
  }
}
