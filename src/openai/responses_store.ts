/**
 * `ResponsesStore`: the bounded, in-memory store behind the Responses API's
 * `previous_response_id` and `item_reference`.
 *
 * A stored response keeps the items a follow-up needs to rebuild its whole
 * conversation: the input items it was answered from (the previous
 * response's items included, item references resolved) and its own output
 * items. Entries are bounded by count (`RESPONSES_STORE_MAX`, oldest dropped
 * first; 0 turns the store off) and by age (`RESPONSES_STORE_TTL_MS`). They
 * live only in this process: another replica, or this one after a restart,
 * does not know them.
 *
 * @module
 */

/** Bounds of a {@linkcode ResponsesStore}. */
export interface ResponsesStoreOptions {
  /** Most responses kept; 0 turns the store off. */
  maxEntries: number;
  /** Milliseconds a response stays retrievable after it was stored. */
  ttlMs: number;
  /** The clock, in milliseconds (default `Date.now`). */
  now?: () => number;
}

interface Entry<T> {
  items: readonly T[];
  expiresAt: number;
  /** The entry's items that carry an `id`, by id (for `item_reference`). */
  byId: Map<string, T>;
}

/** Past responses' conversations by response id; see the module documentation. */
export class ResponsesStore<T extends object = Record<string, unknown>> {
  #options: Required<ResponsesStoreOptions>;
  /** In insertion order, which is also expiry order (one TTL for all). */
  #entries = new Map<string, Entry<T>>();

  /** @param options the count and age bounds. */
  constructor(options: ResponsesStoreOptions) {
    this.#options = { now: Date.now, ...options };
  }

  /** False when `maxEntries` is 0: nothing is ever kept. */
  get enabled(): boolean {
    return this.#options.maxEntries > 0;
  }

  /** Responses currently kept (expired ones may still count until the next write). */
  get size(): number {
    return this.#entries.size;
  }

  /** Keeps `items` as the conversation of response `id`, dropping expired and the oldest entries. */
  put(id: string, items: readonly T[]): void {
    if (!this.enabled) return;
    this.#sweep();
    this.#entries.delete(id);
    const byId = new Map<string, T>();
    for (const item of items) {
      const itemId = (item as { id?: unknown }).id;
      if (typeof itemId === "string" && itemId !== "") byId.set(itemId, item);
    }
    this.#entries.set(id, { items, expiresAt: this.#options.now() + this.#options.ttlMs, byId });
    while (this.#entries.size > this.#options.maxEntries) {
      this.#entries.delete(this.#entries.keys().next().value!);
    }
  }

  /** The items of response `id`, or `undefined` when unknown or expired. */
  get(id: string): readonly T[] | undefined {
    const entry = this.#entries.get(id);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.#options.now()) {
      this.#entries.delete(id);
      return undefined;
    }
    return entry.items;
  }

  /** The newest live stored item whose `id` is `itemId`, or `undefined`. */
  findItem(itemId: string): T | undefined {
    const now = this.#options.now();
    for (const entry of [...this.#entries.values()].reverse()) {
      if (entry.expiresAt <= now) break;
      const item = entry.byId.get(itemId);
      if (item) return item;
    }
    return undefined;
  }

  /** Drops the expired entries (they are the oldest ones). */
  #sweep(): void {
    const now = this.#options.now();
    for (const [id, entry] of this.#entries) {
      if (entry.expiresAt > now) break;
      this.#entries.delete(id);
    }
  }
}
