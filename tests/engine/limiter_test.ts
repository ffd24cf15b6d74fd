/**
 * The concurrency gate: at most MAX_CONCURRENT holders, a bounded FIFO queue,
 * 429 with Retry-After past it, waiters dropped when their client leaves, and
 * the same behaviour seen through HTTP.
 */
import assert from "node:assert/strict";
import { HttpError } from "../../src/http/http_error.ts";
import { Limiter } from "../../src/engine/limiter.ts";
import { AUTH, startServer, steer } from "../support/harness.ts";
import { recordedPids, waitFor } from "../support/processes.ts";

Deno.test("no more than maxActive permits are held; releases hand slots to waiters in order", async () => {
  const limiter = new Limiter({ maxActive: 2, maxQueue: 5 });
  const a = await limiter.acquire();
  const b = await limiter.acquire();
  const order: string[] = [];
  const c = limiter.acquire().then((permit) => (order.push("c"), permit));
  const d = limiter.acquire().then((permit) => (order.push("d"), permit));
  await Promise.resolve();
  assert.deepEqual([limiter.active, limiter.queued, order], [2, 2, []]);
  a.release();
  a.release(); // a second release frees nothing more
  const permitC = await c;
  assert.deepEqual([limiter.active, limiter.queued, order], [2, 1, ["c"]]);
  b[Symbol.dispose]();
  const permitD = await d;
  assert.deepEqual(order, ["c", "d"]);
  permitC.release();
  permitD.release();
  assert.equal(limiter.active, 0);
});

Deno.test("a full queue is refused at once with 429 and a Retry-After header", async () => {
  const limiter = new Limiter({ maxActive: 1, maxQueue: 1, retryAfterSeconds: 7 });
  const held = await limiter.acquire();
  const waiting = limiter.acquire();
  const error = await limiter.acquire().catch((error) => error);
  assert.ok(error instanceof HttpError);
  assert.equal(error.status, 429);
  assert.equal(new Headers(error.headers).get("retry-after"), "7");
  assert.match(error.message, /MAX_CONCURRENT=1.*MAX_QUEUE=1/);
  held.release();
  (await waiting).release();
});

Deno.test("a waiter whose signal aborts leaves the queue and never gets a slot", async () => {
  const limiter = new Limiter({ maxActive: 1, maxQueue: 2 });
  const held = await limiter.acquire();
  const controller = new AbortController();
  const leaving = limiter.acquire(controller.signal);
  const staying = limiter.acquire();
  assert.equal(limiter.queued, 2);
  controller.abort(new DOMException("client gone", "AbortError"));
  assert.equal((await leaving.catch((error) => error)).message, "client gone");
  assert.equal(limiter.queued, 1);
  held.release();
  const permit = await staying;
  assert.equal(limiter.active, 1);
  permit.release();
  assert.equal(limiter.active, 0);
});

Deno.test("an already aborted signal is refused without queueing", async () => {
  const limiter = new Limiter({ maxActive: 0, maxQueue: 5 });
  const error = await limiter.acquire(AbortSignal.abort(new Error("gone"))).catch((e) => e);
  assert.equal(error.message, "gone");
  assert.equal(limiter.queued, 0);
});

Deno.test("tryAcquire never waits and never jumps the queue", async () => {
  const limiter = new Limiter({ maxActive: 1, maxQueue: 1 });
  const first = limiter.tryAcquire();
  assert.ok(first);
  assert.equal(limiter.tryAcquire(), undefined);
  const waiting = limiter.acquire();
  first.release();
  assert.equal(limiter.tryAcquire(), undefined, "the slot went to the waiter");
  (await waiting).release();
  const again = limiter.tryAcquire();
  assert.ok(again);
  again.release();
});

Deno.test("close rejects waiters and later requests with its reason; held permits stay valid", async () => {
  const limiter = new Limiter({ maxActive: 1, maxQueue: 1 });
  const held = await limiter.acquire();
  const waiting = limiter.acquire();
  const idle = limiter.idle();
  const reason = new HttpError(503, "shutting down", "bye");
  limiter.close(reason);
  assert.equal(await waiting.catch((error) => error), reason);
  assert.equal(await limiter.acquire().catch((error) => error), reason);
  assert.equal(limiter.tryAcquire(), undefined);
  held.release();
  await idle;
  assert.equal(limiter.active, 0);
});

Deno.test("over HTTP: beyond MAX_CONCURRENT requests queue, past MAX_QUEUE they get 429, a queued client that leaves is dropped", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bridge-record-" });
  try {
    await using server = await startServer(
      { MAX_CONCURRENT: "1", MAX_QUEUE: "1", LOG_LEVEL: "error" },
      { FAKE_CLAUDE_RECORD: dir },
    );
    const send = (script: Record<string, unknown>, signal?: AbortSignal) =>
      fetch(server.url + "/v1/chat/completions", {
        method: "POST",
        headers: { "content-type": "application/json", ...AUTH },
        body: JSON.stringify({ model: "haiku", messages: [steer(script)] }),
        signal,
      });
    const release = new AbortController();
    const running = send({ hang: true }, release.signal).catch((error) => error);
    await waitFor(() => recordedPids(dir).length === 1, 5000, "first run not started");
    const leaving = new AbortController();
    const queued = send({ say: ["never"] }, leaving.signal).catch((error) => error);
    await waitFor(() => server.app.limiter.queued === 1, 5000, "second request not queued");
    const refused = await send({ say: ["refused"] });
    assert.equal(refused.status, 429);
    assert.ok(Number(refused.headers.get("retry-after")) > 0);
    assert.equal((await refused.json()).error, "too many requests");
    leaving.abort();
    assert.equal((await queued).name, "AbortError");
    await waitFor(() => server.app.limiter.queued === 0, 2000, "the leaving request stayed queued");
    release.abort();
    await running;
    const response = await send({ say: ["served"] });
    assert.equal(response.status, 200);
    assert.equal((await response.json()).choices[0].message.content, "served");
    assert.equal(recordedPids(dir).length, 2, "the dropped request never spawned");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
