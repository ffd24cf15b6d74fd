/**
 * The warm pool with a fake launcher: filling to its targets, ready (probe
 * answered) before starting, refilling after a take, recycling at the maximum
 * age, replacing a process that dies, backing off (doubling, capped, never a
 * respawn storm), holding `MAX_CONCURRENT` slots without taking a queued
 * request's, shedding, and disposing. Waits are on launches and exits, never
 * on sleeps; the pool's own delays are a few milliseconds.
 */
import assert from "node:assert/strict";
import type { Agent } from "../../src/claude/agents.ts";
import type { ProcessSpec } from "../../src/claude/args.ts";
import type { CliExit } from "../../src/claude/process.ts";
import { Limiter, type Permit } from "../../src/engine/limiter.ts";
import type { Session } from "../../src/engine/session.ts";
import { WarmPool, type WarmPoolOptions } from "../../src/engine/warm_pool.ts";
import { testAgent } from "../support/cli_driver.ts";

/** What the pool uses of a Session: probe, close, closed, process.exited, warm. */
class FakeSession {
  warm = false;
  /** Why the pool closed it, once it did. */
  closeReason: unknown;
  readonly closed: Promise<void>;
  readonly process: { exited: Promise<CliExit> };
  #probe = Promise.withResolvers<void>();
  #exited = Promise.withResolvers<CliExit>();
  #closed = Promise.withResolvers<void>();
  #dead = false;

  constructor(readonly spec: ProcessSpec, readonly permit: Permit) {
    this.closed = this.#closed.promise;
    this.process = { exited: this.#exited.promise };
    this.#probe.promise.catch(() => {});
  }

  probe(): Promise<void> {
    return this.#probe.promise;
  }

  /** The CLI answers the readiness probe. */
  async ready(): Promise<void> {
    this.#probe.resolve();
    // The pool's reaction was registered first, so it has run once this one has.
    await this.#probe.promise;
  }

  close(reason?: unknown): Promise<void> {
    this.closeReason ??= reason ?? "closed";
    this.die(143);
    return this.closed;
  }

  /** The process exits: the slot is released, then `closed` resolves (as a Session does). */
  die(code = 1, stderr = ""): void {
    if (this.#dead) return;
    this.#dead = true;
    this.#probe.reject(new Error("exited"));
    this.#exited.resolve({ code, signal: null, stderr });
    this.permit.release();
    this.#closed.resolve();
  }
}

interface Attempt {
  model: string;
  at: number;
  session?: FakeSession;
}

/** A fake `launch`: records each attempt, and starts, fails or holds as told. */
class Launcher {
  attempts: Attempt[] = [];
  /** ok: a live session; reject: the launch fails; die: a session that exits at once; hold: wait for `resolveHeld`. */
  mode: "ok" | "reject" | "die" | "hold" = "ok";
  #waiters: { count: number; resolve: () => void }[] = [];
  #held: (() => void)[] = [];

  launch = (spec: ProcessSpec, permit: Permit): Promise<Session> => {
    const attempt: Attempt = { model: spec.model, at: performance.now() };
    this.attempts.push(attempt);
    const settle = () => {
      for (const waiter of [...this.#waiters]) {
        if (this.attempts.length >= waiter.count) {
          this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
          waiter.resolve();
        }
      }
    };
    if (this.mode === "reject") {
      settle();
      return Promise.reject(new Error("spawn failed: claude not found"));
    }
    const session = new FakeSession(spec, permit);
    attempt.session = session;
    if (this.mode === "die") queueMicrotask(() => session.die(1, "crashed"));
    settle();
    if (this.mode === "hold") {
      return new Promise((resolve) =>
        this.#held.push(() => resolve(session as unknown as Session))
      );
    }
    return Promise.resolve(session as unknown as Session);
  };

  /** Resolves once `count` launches were attempted in all; fails (instead of hanging) after 10 s. */
  async until(count: number): Promise<void> {
    if (this.attempts.length >= count) return;
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    this.#waiters.push({ count, resolve });
    const bound = setTimeout(
      () =>
        reject(new Error(`gave up waiting for launch ${count} (${this.attempts.length} so far)`)),
      10_000,
    );
    try {
      await promise;
    } finally {
      clearTimeout(bound);
    }
  }

  /** The session of attempt `index`. */
  session(index: number): FakeSession {
    const session = this.attempts[index]?.session;
    assert.ok(session, `attempt ${index} started a session`);
    return session;
  }

  releaseHeld(): void {
    for (const resolve of this.#held.splice(0)) resolve();
  }
}

const agent: Agent = testAgent({ systemPrompt: "Pooled." });

/** Failure reports, with a way to wait for the nth. */
class Failures extends Array<string> {
  #waiters: { count: number; resolve: () => void }[] = [];

  report(text: string): void {
    this.push(text);
    for (const waiter of [...this.#waiters]) {
      if (this.length >= waiter.count) {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
  }

  /** Resolves once `count` failures were reported in all. */
  until(count: number): Promise<void> {
    if (this.length >= count) return Promise.resolve();
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#waiters.push({ count, resolve });
    return promise;
  }
}

function testPool(options: Partial<WarmPoolOptions> = {}, mode: Launcher["mode"] = "ok") {
  const launcher = new Launcher();
  launcher.mode = mode;
  const failures = new Failures();
  const pool = new WarmPool({
    agent,
    sizes: { sonnet: 1 },
    maxAgeMs: 600_000,
    backoffMs: 5,
    refillDelayMs: 0,
    retryMs: 5,
    launch: launcher.launch,
    onFailure: (model, reason) => failures.report(`${model}: ${reason}`),
    ...options,
  });
  return { pool, launcher, failures };
}

const spec = (model = "sonnet", fields: Partial<ProcessSpec> = {}): ProcessSpec => ({
  agent,
  model,
  clientTools: false,
  ...fields,
});

Deno.test("the pool fills every model to its target; a process is ready once it answers the probe", async () => {
  const { pool, launcher } = testPool({ sizes: { sonnet: 1, haiku: 2 } });
  await launcher.until(3);
  assert.deepEqual(launcher.attempts.map((attempt) => attempt.model).sort(), [
    "haiku",
    "haiku",
    "sonnet",
  ]);
  assert.deepEqual(pool.status().models, {
    sonnet: { target: 1, ready: 0, starting: 1 },
    haiku: { target: 2, ready: 0, starting: 2 },
  });
  await launcher.session(launcher.attempts.findIndex((a) => a.model === "haiku")).ready();
  assert.deepEqual(pool.status().models.haiku, { target: 2, ready: 1, starting: 1 });
  assert.equal(pool.status().spawned, 3);
  assert.equal(pool.status().agent, agent.name);
  await pool[Symbol.asyncDispose]();
});

Deno.test("take prefers a ready process over one still starting, and marks it warm", async () => {
  const { pool, launcher } = testPool({ sizes: { sonnet: 2 }, refillDelayMs: 60_000 });
  await launcher.until(2);
  await launcher.session(1).ready();
  const taken = pool.take(spec()) as unknown as FakeSession;
  assert.equal(taken, launcher.session(1));
  assert.equal(taken.warm, true);
  assert.equal(pool.take(spec()) as unknown, launcher.session(0), "then the starting one");
  assert.equal(pool.take(spec()), undefined, "then none");
  assert.equal(pool.status().taken, 2);
  await pool[Symbol.asyncDispose]();
  assert.equal(taken.closeReason, undefined, "a taken process belongs to its run, not the pool");
  for (const session of [launcher.session(0), launcher.session(1)]) void session.close();
});

Deno.test("the pool refills in the background after a take", async () => {
  const { pool, launcher } = testPool();
  await launcher.until(1);
  await launcher.session(0).ready();
  const taken = pool.take(spec()) as unknown as FakeSession;
  assert.ok(taken);
  assert.equal(pool.status().models.sonnet!.ready, 0);
  await launcher.until(2);
  await launcher.session(1).ready();
  assert.deepEqual(pool.status().models.sonnet, { target: 1, ready: 1, starting: 0 });
  assert.equal(pool.status().spawned, 2);
  await pool[Symbol.asyncDispose]();
  void taken.close();
});

Deno.test("take refuses another agent, an unpooled model, a different argv and a resume", async () => {
  const { pool, launcher } = testPool();
  await launcher.until(1);
  await launcher.session(0).ready();
  const other = testAgent({ systemPrompt: "Pooled." });
  other.name = "other";
  assert.equal(pool.take(spec("sonnet", { agent: other })), undefined);
  assert.equal(pool.take(spec("haiku")), undefined);
  const withTools = testAgent({ systemPrompt: "Pooled.", tools: ["Read"] });
  assert.equal(pool.take(spec("sonnet", { agent: withTools })), undefined);
  assert.equal(pool.take(spec("sonnet", { resumeFile: "/tmp/s.jsonl" })), undefined);
  assert.equal(pool.status().models.sonnet!.ready, 1);
  await pool[Symbol.asyncDispose]();
});

Deno.test("a request with client tools takes a process of an agent without tools", async () => {
  const { pool, launcher } = testPool();
  await launcher.until(1);
  assert.equal(pool.take(spec("sonnet", { clientTools: true })) as unknown, launcher.session(0));
  await pool[Symbol.asyncDispose]();
  void launcher.session(0).close();
});

Deno.test("an idle process is recycled after the maximum age and replaced", async () => {
  const { pool, launcher } = testPool({ maxAgeMs: 20 });
  await launcher.until(1);
  const first = launcher.session(0);
  await first.closed;
  assert.ok(first.closeReason instanceof DOMException);
  assert.match((first.closeReason as DOMException).message, /retired/);
  await launcher.until(2);
  assert.ok(pool.status().retired >= 1);
  assert.equal(pool.status().failed, 0, "age is not a failure");
  await pool[Symbol.asyncDispose]();
});

Deno.test("a process that dies while waiting is replaced, and the failure is reported", async () => {
  const { pool, launcher, failures } = testPool();
  await launcher.until(1);
  launcher.session(0).die(1, "Error: boom");
  await launcher.until(2);
  const status = pool.status();
  assert.equal(status.failed, 1);
  assert.equal(status.failuresInRow, 1);
  assert.equal(status.lastFailure, "sonnet: exited while waiting (code 1): Error: boom");
  assert.deepEqual([...failures], ["sonnet: exited while waiting (code 1): Error: boom"]);
  await pool[Symbol.asyncDispose]();
});

Deno.test("a launch that keeps failing is retried with a doubling, capped backoff", async () => {
  const { pool, launcher, failures } = testPool({ backoffMs: 8, maxBackoffMs: 32 }, "reject");
  const delays = [8, 16, 32, 32];
  for (const [index, delay] of delays.entries()) {
    await failures.until(index + 1);
    const status = pool.status();
    assert.equal(status.failed, index + 1);
    assert.equal(status.failuresInRow, index + 1);
    assert.equal(status.backoffMs, delay);
    await launcher.until(index + 2);
    const gap = launcher.attempts[index + 1]!.at - launcher.attempts[index]!.at;
    assert.ok(
      gap >= delay - 1,
      `attempt ${index + 2} came ${gap} ms after the last, before ${delay}`,
    );
  }
  assert.match(pool.status().lastFailure ?? "", /sonnet: spawn failed/);
  assert.equal(pool.status().models.sonnet!.ready, 0);
  await pool[Symbol.asyncDispose]();
});

Deno.test("no respawn storm: processes that die at once are restarted one at a time, after the backoff", async () => {
  const { pool, launcher, failures } = testPool({ backoffMs: 10, maxBackoffMs: 1000 }, "die");
  await failures.until(4);
  const status = pool.status();
  await pool[Symbol.asyncDispose]();
  assert.equal(status.spawned, 4, "one start per failure, nothing in between");
  assert.equal(status.failed, 4);
  assert.equal(status.backoffMs, 80);
  const delays = [10, 20, 40];
  for (const [index, delay] of delays.entries()) {
    const gap = launcher.attempts[index + 1]!.at - launcher.attempts[index]!.at;
    assert.ok(
      gap >= delay - 1,
      `restart ${index + 1} after ${gap} ms, before the ${delay} ms backoff`,
    );
  }
});

Deno.test("a take resets the failure count", async () => {
  const { pool, launcher } = testPool({ backoffMs: 5, refillDelayMs: 60_000 });
  await launcher.until(1);
  launcher.session(0).die(1);
  await launcher.until(2);
  assert.equal(pool.status().failuresInRow, 1);
  const taken = pool.take(spec()) as unknown as FakeSession;
  assert.equal(pool.status().failuresInRow, 0);
  assert.equal(pool.status().backoffMs, 0);
  await pool[Symbol.asyncDispose]();
  void taken.close();
});

Deno.test("warm processes hold MAX_CONCURRENT slots and never take a queued request's", async () => {
  const limiter = new Limiter({ maxActive: 2, maxQueue: 4 });
  const { pool, launcher } = testPool({ limiter, sizes: { sonnet: 2, haiku: 1 } });
  await launcher.until(2);
  assert.equal(limiter.active, 2);
  assert.equal(pool.status().spawned, 2, "the third process waits for a slot");
  const request = limiter.acquire();
  assert.equal(limiter.queued, 1);
  assert.equal(pool.shed(), true, "an idle process gives its slot up");
  const permit = await request;
  assert.equal(pool.status().retired, 1);
  assert.equal(limiter.active, 2);
  assert.equal(pool.status().spawned, 2, "the freed slot went to the request, not the pool");
  permit.release();
  await launcher.until(3);
  assert.equal(limiter.active, 2, "the pool takes a slot again once one is free");
  await pool[Symbol.asyncDispose]();
  assert.equal(limiter.active, 0, "dispose gives every slot back");
});

Deno.test("a launch that fails gives its slot back", async () => {
  const limiter = new Limiter({ maxActive: 1, maxQueue: 1 });
  const { pool, launcher } = testPool({ limiter, backoffMs: 60_000 }, "reject");
  await launcher.until(1);
  assert.equal(pool.status().failed, 1);
  assert.equal(limiter.active, 0);
  await pool[Symbol.asyncDispose]();
});

Deno.test("shed stops the oldest idle process of the model with the most, and reports when none is idle", async () => {
  const { pool, launcher } = testPool({ sizes: { haiku: 1, sonnet: 2 }, retryMs: 60_000 });
  await launcher.until(3);
  const sonnets = launcher.attempts.filter((attempt) => attempt.model === "sonnet");
  assert.equal(pool.shed(), true);
  await sonnets[0]!.session!.closed;
  assert.equal(sonnets[1]!.session!.closeReason, undefined);
  await pool[Symbol.asyncDispose]();
  assert.equal(pool.shed(), false);
  const { pool: empty } = testPool({ sizes: {} });
  assert.equal(empty.shed(), false);
  await empty[Symbol.asyncDispose]();
});

Deno.test("dispose stops every waiting process, and one still launching once it lands", async () => {
  const { pool, launcher } = testPool({ sizes: { sonnet: 2, haiku: 1 } });
  await launcher.until(3);
  launcher.mode = "hold";
  launcher.session(0).die(1); // Its replacement is held mid-launch.
  await launcher.until(4);
  const disposed = pool[Symbol.asyncDispose]();
  launcher.releaseHeld();
  await disposed;
  for (const index of [0, 1, 2, 3]) {
    const session = launcher.session(index);
    await session.closed;
  }
  const late = launcher.session(3).closeReason;
  assert.ok(late instanceof DOMException);
  assert.match(late.message, /disposed/);
  assert.equal(pool.take(spec()), undefined);
  assert.equal(pool.status().spawned, 4, "nothing starts after dispose");
});
