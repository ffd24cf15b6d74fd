/**
 * Soak, bounded: a few hundred streams against the stand-in, more at once
 * than MAX_CONCURRENT, a third of them aborted at random points. Afterwards
 * no CLI child is left but the parked live sessions, no other slot or
 * workspace is held, no promise rejection
 * went unhandled, and the server's heap is back near where it started.
 */
import assert from "node:assert/strict";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import {
  AUTH,
  sseData,
  startServer,
  steer,
  streamedText,
  type TestServer,
} from "../support/harness.ts";
import { cliChildren, waitFor } from "../support/processes.ts";

const STREAMS = 210;
const CLIENTS = 16;
const MAX_CONCURRENT = 6;

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

/** Heap in use after a full collection. */
function heapUsed(): number {
  gc();
  gc();
  return Deno.memoryUsage().heapUsed;
}

/** A small seeded generator, so a failing run can be replayed. */
function generator(seed: number) {
  let state = seed;
  return (min: number, max: number) => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return min + Math.floor((state / 2 ** 31) * (max - min + 1));
  };
}

type Outcome = "completed" | "aborted" | "refused";

/** One stream: read it whole, or abort it after `abortAfter` chunks (0: before the first). */
async function oneStream(
  server: TestServer,
  words: string[],
  delayMs: number,
  abortAfter: number | undefined,
  abortDelayMs: number,
): Promise<Outcome> {
  const controller = new AbortController();
  const timer = abortAfter === 0 ? setTimeout(() => controller.abort(), abortDelayMs) : undefined;
  try {
    const response = await fetch(server.url + "/v1/chat/completions", {
      method: "POST",
      headers: { "content-type": "application/json", ...AUTH },
      body: JSON.stringify({
        model: "haiku",
        stream: true,
        messages: [steer({ say: words, delayMs })],
      }),
      signal: controller.signal,
    });
    if (response.status === 429) {
      await response.body?.cancel();
      return "refused";
    }
    assert.equal(response.status, 200);
    if (abortAfter === undefined) {
      const events = sseData(await response.text());
      assert.equal(events.at(-1), "[DONE]");
      assert.equal(streamedText(events), words.join(""));
      return "completed";
    }
    const reader = response.body!.getReader();
    for (let i = 0; i < abortAfter; i++) {
      if ((await reader.read()).done) break;
    }
    controller.abort();
    await reader.closed.catch(() => {});
    return "aborted";
  } catch (error) {
    if (controller.signal.aborted) return "aborted";
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

Deno.test(`soak: ${STREAMS} streams, a third aborted, ${CLIENTS} at once over MAX_CONCURRENT=${MAX_CONCURRENT}: nothing leaks`, async () => {
  const rejections: unknown[] = [];
  const onRejection = (event: PromiseRejectionEvent) => {
    rejections.push(event.reason);
    event.preventDefault();
  };
  globalThis.addEventListener("unhandledrejection", onRejection);
  try {
    await using server = await startServer({
      MAX_CONCURRENT: String(MAX_CONCURRENT),
      MAX_QUEUE: "1000",
      LOG_LEVEL: "error",
    });
    const random = generator(0xc0ffee);
    const plan = (index: number) => {
      const words = Array.from({ length: random(1, 25) }, (_, i) => `w${index}.${i} `);
      const aborted = random(0, 2) === 0;
      return {
        words,
        delayMs: random(0, 15),
        abortAfter: aborted ? random(0, words.length + 1) : undefined,
        abortDelayMs: random(0, 150),
      };
    };
    const run = async (count: number) => {
      const outcomes: Outcome[] = [];
      let next = 0;
      const client = async () => {
        while (next < count) {
          const { words, delayMs, abortAfter, abortDelayMs } = plan(next++);
          outcomes.push(await oneStream(server, words, delayMs, abortAfter, abortDelayMs));
        }
      };
      await Promise.all(Array.from({ length: CLIENTS }, client));
      return outcomes;
    };
    // Nothing is left but the idle live sessions parked for a next turn (each
    // holds its process, its slot and its workspace).
    const parked = () => server.app.engine.live.status().idle;
    const settled = async () => {
      await waitFor(() => cliChildren().length === parked(), 5000, "CLI children left running");
      await waitFor(
        () => server.app.limiter.active === parked(),
        2000,
        "concurrency slots still held",
      );
      await waitFor(
        () => [...Deno.readDirSync(server.workspaceRoot)].length === parked(),
        2000,
        "workspaces left behind",
      );
    };

    await run(CLIENTS * 2); // warm-up: caches, JIT, connection pools
    await settled();
    const before = heapUsed();

    const outcomes = await run(STREAMS);
    await settled();
    assert.equal(server.app.limiter.queued, 0);
    const after = heapUsed();

    const count = (outcome: Outcome) => outcomes.filter((o) => o === outcome).length;
    assert.equal(outcomes.length, STREAMS);
    assert.equal(count("refused"), 0);
    assert.ok(count("aborted") > STREAMS / 5, `aborted: ${count("aborted")}`);
    assert.ok(count("completed") > STREAMS / 2, `completed: ${count("completed")}`);
    assert.deepEqual(rejections, []);
    const grownMiB = (after - before) / 2 ** 20;
    assert.ok(grownMiB < 2, `heap grew by ${grownMiB.toFixed(1)} MiB over the soak`);
  } finally {
    globalThis.removeEventListener("unhandledrejection", onRejection);
  }
});
