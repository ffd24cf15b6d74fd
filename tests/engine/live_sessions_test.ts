/**
 * LiveSessions: parked sessions found again by key and kind, bounded by
 * count (least recently parked idle one first), idle time and tool-result
 * time; dropped when their tool calls are answered elsewhere, shed for a
 * slot, and all stopped on close. Sessions are small fakes; timeouts are
 * awaited through the fake's release/close promise.
 */
import assert from "node:assert/strict";
import {
  LiveSessions,
  type LiveSessionsOptions,
  type ParkedKind,
} from "../../src/engine/live_sessions.ts";
import type { Session, SessionState } from "../../src/engine/session.ts";

/** What LiveSessions uses of a Session, and how it was stopped. */
class FakeSession {
  state: SessionState;
  pendingCalls: string[];
  /** How the session was stopped, once it was. */
  stopped: { how: "close" | "release"; reason?: unknown } | undefined;
  readonly closed: Promise<void>;
  #exit = Promise.withResolvers<void>();

  constructor(readonly name: string, state: SessionState = "idle", pendingCalls: string[] = []) {
    this.state = state;
    this.pendingCalls = pendingCalls;
    this.closed = this.#exit.promise;
  }

  close(reason?: unknown): Promise<void> {
    return this.#stop({ how: "close", reason });
  }

  release(): Promise<void> {
    return this.#stop({ how: "release" });
  }

  /** The process exits on its own. */
  exit(): Promise<void> {
    this.state = "closed";
    this.#exit.resolve();
    return this.closed;
  }

  #stop(how: { how: "close" | "release"; reason?: unknown }): Promise<void> {
    this.stopped ??= how;
    return this.exit();
  }
}

const asSession = (fake: FakeSession) => fake as unknown as Session;

type Eviction = [ParkedKind, string];

function liveSessions(options: Partial<LiveSessionsOptions> = {}) {
  const evicted: Eviction[] = [];
  const live = new LiveSessions({
    maxIdle: 4,
    idleMs: 60_000,
    toolResultMs: 60_000,
    onEvict: (kind, reason) => evicted.push([kind, reason]),
    ...options,
  });
  return { live, evicted };
}

Deno.test("a parked session is handed out once, by its key and kind", async () => {
  const { live } = liveSessions();
  const idle = new FakeSession("idle");
  const suspended = new FakeSession("suspended", "suspended", ["call_1"]);
  assert.equal(live.park("k1", "idle", asSession(idle)), true);
  assert.equal(live.park("k2", "suspended", asSession(suspended)), true);
  assert.deepEqual(live.status(), { idle: 1, suspended: 1, maxIdle: 4 });
  assert.equal(live.take("k1", "suspended"), undefined, "the kind must match");
  assert.equal(live.take("k3", "idle"), undefined);
  assert.equal(live.take("k1", "idle"), asSession(idle));
  assert.equal(live.take("k1", "idle"), undefined, "handed to exactly one request");
  assert.equal(live.take("k2", "suspended"), asSession(suspended));
  assert.deepEqual(live.status(), { idle: 0, suspended: 0, maxIdle: 4 });
  assert.equal(idle.stopped, undefined, "a taken session is the caller's, not stopped");
  await live.close();
});

Deno.test("a closed session is not parked, and one that closed while parked is not handed out", async () => {
  const { live } = liveSessions();
  assert.equal(live.park("k", "idle", asSession(new FakeSession("x", "closed"))), false);
  const session = new FakeSession("y");
  live.park("k", "idle", asSession(session));
  session.state = "closed";
  assert.equal(live.take("k", "idle"), undefined);
  await live.close();
});

Deno.test("a parked session whose process exits on its own is forgotten", async () => {
  const { live, evicted } = liveSessions();
  const session = new FakeSession("x");
  live.park("k", "idle", asSession(session));
  await session.exit();
  assert.equal(live.status().idle, 0);
  assert.deepEqual(evicted, [], "an exit is not an eviction");
  await live.close();
});

Deno.test("beyond maxIdle the least recently parked idle session is released", async () => {
  const { live, evicted } = liveSessions({ maxIdle: 2 });
  const [a, b, c] = ["a", "b", "c"].map((name) => new FakeSession(name));
  const waiting = new FakeSession("w", "suspended", ["t"]);
  live.park("w", "suspended", asSession(waiting));
  live.park("a", "idle", asSession(a!));
  live.park("b", "idle", asSession(b!));
  assert.deepEqual(evicted, [], "suspended sessions do not count against maxIdle");
  live.park("c", "idle", asSession(c!));
  await a!.closed;
  assert.deepEqual(a!.stopped, { how: "release" });
  assert.deepEqual(evicted, [["idle", "count"]]);
  assert.equal(live.take("a", "idle"), undefined);
  assert.deepEqual(live.status(), { idle: 2, suspended: 1, maxIdle: 2 });
  assert.equal(waiting.stopped, undefined);
  await live.close();
});

Deno.test("taking and parking again makes a session the most recently used", async () => {
  const { live } = liveSessions({ maxIdle: 2 });
  const [a, b, c] = ["a", "b", "c"].map((name) => new FakeSession(name));
  live.park("a", "idle", asSession(a!));
  live.park("b", "idle", asSession(b!));
  live.park("a2", "idle", live.take("a", "idle")!);
  live.park("c", "idle", asSession(c!));
  await b!.closed;
  assert.equal(a!.stopped, undefined);
  assert.equal(live.take("a2", "idle"), asSession(a!));
  await live.close();
});

Deno.test("maxIdle 0 keeps no idle session, but still keeps suspended ones", async () => {
  const { live } = liveSessions({ maxIdle: 0 });
  const idle = new FakeSession("i");
  assert.equal(live.park("k", "idle", asSession(idle)), false);
  assert.equal(idle.stopped, undefined, "the caller releases what was not kept");
  assert.equal(live.park("s", "suspended", asSession(new FakeSession("s", "suspended"))), true);
  assert.deepEqual(live.status(), { idle: 0, suspended: 1, maxIdle: 0 });
  await live.close();
});

Deno.test("parking under a key already in use replaces the older session", async () => {
  const { live, evicted } = liveSessions();
  const older = new FakeSession("older");
  const newer = new FakeSession("newer");
  live.park("k", "idle", asSession(older));
  live.park("k", "idle", asSession(newer));
  await older.closed;
  assert.deepEqual(evicted, [["idle", "replaced"]]);
  assert.equal(live.take("k", "idle"), asSession(newer));
  await live.close();
});

Deno.test("an idle session unused for idleMs is released", async () => {
  const { live, evicted } = liveSessions({ idleMs: 20 });
  const session = new FakeSession("x");
  live.park("k", "idle", asSession(session));
  await session.closed;
  assert.deepEqual(session.stopped, { how: "release" });
  assert.deepEqual(evicted, [["idle", "idle"]]);
  assert.equal(live.status().idle, 0);
  await live.close();
});

Deno.test("a suspended session whose results do not come in toolResultMs is stopped", async () => {
  const { live, evicted } = liveSessions({ toolResultMs: 20 });
  const session = new FakeSession("x", "suspended", ["call_1"]);
  live.park("k", "suspended", asSession(session));
  await session.closed;
  assert.equal(session.stopped?.how, "close");
  const reason = session.stopped?.reason;
  assert.ok(reason instanceof DOMException && reason.name === "AbortError");
  assert.match(reason.message, /tool results did not come \(timeout\)/);
  assert.deepEqual(evicted, [["suspended", "timeout"]]);
  await live.close();
});

Deno.test("a taken session is not stopped by its old timer", async () => {
  const { live } = liveSessions({ idleMs: 20 });
  const taken = new FakeSession("taken");
  const witness = new FakeSession("witness");
  live.park("k", "idle", asSession(taken));
  live.take("k", "idle");
  live.park("w", "idle", asSession(witness));
  await witness.closed; // Parked later with the same timeout: its timer fires after the taken one's would.
  assert.equal(taken.stopped, undefined);
  await live.close();
});

Deno.test("dropSuspended stops the suspended sessions waiting on any of the ids", async () => {
  const { live, evicted } = liveSessions();
  const first = new FakeSession("first", "suspended", ["a", "b"]);
  const second = new FakeSession("second", "suspended", ["c"]);
  const idle = new FakeSession("idle");
  live.park("1", "suspended", asSession(first));
  live.park("2", "suspended", asSession(second));
  live.park("3", "idle", asSession(idle));
  live.dropSuspended(["b", "z"]);
  await first.closed;
  assert.equal(first.stopped?.how, "close");
  assert.equal(second.stopped, undefined);
  assert.equal(idle.stopped, undefined);
  assert.deepEqual(evicted, [["suspended", "replaced"]]);
  assert.deepEqual(live.status(), { idle: 1, suspended: 1, maxIdle: 4 });
  await live.close();
});

Deno.test("shed releases the least recently parked idle session, and only idle ones", async () => {
  const { live, evicted } = liveSessions();
  const waiting = new FakeSession("w", "suspended", ["t"]);
  const older = new FakeSession("older");
  const newer = new FakeSession("newer");
  live.park("w", "suspended", asSession(waiting));
  live.park("o", "idle", asSession(older));
  live.park("n", "idle", asSession(newer));
  assert.equal(live.shed(), true);
  await older.closed;
  assert.deepEqual(older.stopped, { how: "release" });
  assert.equal(live.shed(), true);
  await newer.closed;
  assert.equal(live.shed(), false, "a suspended session is never shed");
  assert.equal(waiting.stopped, undefined);
  assert.deepEqual(evicted, [["idle", "shed"], ["idle", "shed"]]);
  await live.close();
});

Deno.test("close stops every parked session with the reason and parks no more", async () => {
  const { live, evicted } = liveSessions();
  const sessions = [new FakeSession("a"), new FakeSession("b", "suspended", ["t"])];
  live.park("a", "idle", asSession(sessions[0]!));
  live.park("b", "suspended", asSession(sessions[1]!));
  const reason = new Error("shutting down");
  await live.close(reason);
  for (const session of sessions) assert.deepEqual(session.stopped, { how: "close", reason });
  assert.deepEqual(evicted, [], "closing is not an eviction");
  assert.deepEqual(live.status(), { idle: 0, suspended: 0, maxIdle: 4 });
  const late = new FakeSession("late");
  assert.equal(live.park("late", "idle", asSession(late)), false);
});
