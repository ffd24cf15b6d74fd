/**
 * A concurrency gate with a bounded waiting queue: at most `maxActive`
 * holders at once, at most `maxQueue` waiting in line (first come, first
 * served), and a clear HTTP error for everyone else.
 *
 * Every CLI process the bridge owns holds one {@linkcode Permit} for its
 * lifetime, whether a request started it or a warm pool pre-started it, so
 * `MAX_CONCURRENT` bounds all of them together.
 *
 * @module
 */
import { HttpError } from "../http/http_error.ts";

/** A held slot. Releasing it (or disposing it) more than once is harmless. */
export interface Permit extends Disposable {
  /** Frees the slot for the next waiter. */
  release(): void;
}

/** Options for {@linkcode Limiter}. */
export interface LimiterOptions {
  /** Most slots held at once (`MAX_CONCURRENT`). */
  maxActive: number;
  /** Most requests waiting for a slot (`MAX_QUEUE`); 0 means no waiting. */
  maxQueue: number;
  /** Seconds a rejected client is told to wait (`Retry-After`). Default 5. */
  retryAfterSeconds?: number;
}

interface Waiter {
  resolve(permit: Permit): void;
  reject(reason: unknown): void;
}

/** Bounds concurrent work; see the module documentation. */
export class Limiter {
  #maxActive: number;
  #maxQueue: number;
  #retryAfter: number;
  #active = 0;
  #queue: Waiter[] = [];
  #closed: unknown = undefined;
  #idle: (() => void)[] = [];

  /** Makes a gate with `options.maxActive` slots. */
  constructor(options: LimiterOptions) {
    this.#maxActive = options.maxActive;
    this.#maxQueue = options.maxQueue;
    this.#retryAfter = options.retryAfterSeconds ?? 5;
  }

  /** Slots held right now. */
  get active(): number {
    return this.#active;
  }

  /** Requests waiting for a slot right now. */
  get queued(): number {
    return this.#queue.length;
  }

  /**
   * Takes a slot if one is free and nobody is waiting (for background work
   * such as pre-starting processes, which must never delay a request).
   */
  tryAcquire(): Permit | undefined {
    if (this.#closed !== undefined) return undefined;
    if (this.#active >= this.#maxActive || this.#queue.length > 0) return undefined;
    return this.#grant();
  }

  /**
   * Waits for a slot.
   *
   * @throws {HttpError} 429 with `Retry-After` when the queue is full.
   * @throws the signal's reason when it aborts before a slot is free (the
   * waiter leaves the queue), or the reason given to {@linkcode close}.
   */
  acquire(signal?: AbortSignal): Promise<Permit> {
    if (this.#closed !== undefined) return Promise.reject(this.#closed);
    if (signal?.aborted) return Promise.reject(signal.reason);
    const permit = this.tryAcquire();
    if (permit) return Promise.resolve(permit);
    if (this.#queue.length >= this.#maxQueue) return Promise.reject(this.#full());
    return new Promise<Permit>((resolve, reject) => {
      const onAbort = () => {
        this.#queue.splice(this.#queue.indexOf(waiter), 1);
        reject(signal!.reason);
      };
      const waiter: Waiter = {
        resolve: (permit) => {
          signal?.removeEventListener("abort", onAbort);
          resolve(permit);
        },
        reject: (reason) => {
          signal?.removeEventListener("abort", onAbort);
          reject(reason);
        },
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#queue.push(waiter);
    });
  }

  /**
   * Refuses all further acquisitions with `reason` and rejects everyone
   * waiting with it. Held permits stay valid until released.
   */
  close(reason: unknown): void {
    this.#closed ??= reason;
    for (const waiter of this.#queue.splice(0)) waiter.reject(reason);
  }

  /** Resolves once no slot is held. */
  idle(): Promise<void> {
    if (this.#active === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  #full(): HttpError {
    return new HttpError(
      429,
      "too many requests",
      `The bridge is at capacity (MAX_CONCURRENT=${this.#maxActive} running, MAX_QUEUE=${this.#maxQueue} waiting); retry after ${this.#retryAfter} seconds.`,
      { headers: { "retry-after": String(this.#retryAfter) } },
    );
  }

  #grant(): Permit {
    this.#active++;
    let held = true;
    const release = () => {
      if (!held) return;
      held = false;
      this.#handOn();
    };
    return { release, [Symbol.dispose]: release };
  }

  /** A released slot goes straight to the first waiter, or back to the pool. */
  #handOn(): void {
    this.#active--;
    const next = this.#queue.shift();
    if (next) {
      next.resolve(this.#grant());
    } else if (this.#active === 0) {
      for (const resolve of this.#idle.splice(0)) resolve();
    }
  }
}
