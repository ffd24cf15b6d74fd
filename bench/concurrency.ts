/**
 * Concurrency and the bridge's own memory, with the stand-in CLI: N
 * simultaneous streams with realistic pacing (the first delta after 300 ms,
 * then one every 25 ms) through one bridge (`MAX_CONCURRENT` = N, no warm
 * pool, no live sessions), against the same N stand-ins started and read
 * directly all at once; the bridge's RSS idle, peak (sampled every 20 ms,
 * and `VmHWM`) and after.
 *
 * @module
 */
import type { Agent } from "../src/claude/agents.ts";
import { FAKE_CLAUDE } from "../tests/support/harness.ts";
import { BenchBridge } from "./bridge_process.ts";
import { RawPipe, steer } from "./relay.ts";
import { streamChat } from "./sse_client.ts";
import { round, sleep, type Summary, summary } from "./stats.ts";

/** How the concurrency section runs. */
export interface ConcurrencyOptions {
  agent: Agent;
  model: string;
  streams: number;
  log: (message: string) => void;
}

/** What the concurrency section measured. */
export interface ConcurrencyResults {
  streams: number;
  deltasPerStream: number;
  pacing: string;
  completed: number;
  errors: number;
  totalMs: number;
  directTotalMs: number;
  ttftMs: Summary;
  streamMs: Summary;
  memoryMiB: { atStart: number; idle: number; peak: number; after: number };
}

const SCRIPT = { say: ["word "], repeat: 40, firstDelayMs: 300, delayMs: 25 };

/** Runs the concurrency section; see the module documentation. */
export async function concurrencySection(
  options: ConcurrencyOptions,
): Promise<ConcurrencyResults> {
  const { agent, model, streams, log } = options;
  log(`  ${streams} stand-ins read directly, all at once`);
  const raw = new RawPipe(agent, model);
  const directStarted = performance.now();
  const direct = await Promise.all(Array.from({ length: streams }, () => raw.run(SCRIPT)));
  const directMs = performance.now() - directStarted;
  const lost = direct.filter((run) => run.count !== SCRIPT.repeat).length;
  if (lost > 0) throw new Error(`${lost} of ${streams} direct stand-in runs lost deltas`);
  const root = await Deno.makeTempDir({ prefix: "bridge-bench-root-" });
  try {
    await using bridge = await BenchBridge.launch({
      CLAUDE_BIN: FAKE_CLAUDE,
      WORKSPACE_ROOT: root,
      WARM_POOL: "off",
      LIVE_SESSIONS: "0",
      MAX_CONCURRENT: String(streams),
      MAX_QUEUE: String(streams),
    });
    const chat = { model, messages: [{ role: "user", content: steer(SCRIPT) }] };
    await sleep(500);
    const atStart = await bridge.memory();
    await streamChat(bridge.url, chat); // warm-up, not counted
    await sleep(500);
    const idle = await bridge.memory();
    let sampledPeak = idle.rssMiB;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        sampledPeak = Math.max(sampledPeak, (await bridge.memory()).rssMiB);
        await sleep(20);
      }
    })();
    log(`  ${streams} streams through the bridge`);
    const started = performance.now();
    const outcomes = await Promise.all(
      Array.from({ length: streams }, () => streamChat(bridge.url, chat)),
    );
    const totalMs = performance.now() - started;
    sampling = false;
    await sampler;
    const peak = await bridge.memory();
    await sleep(1000);
    const after = await bridge.memory();
    const ok = outcomes.filter((o) => o.complete && o.text === "word ".repeat(SCRIPT.repeat));
    const mib = (value: number) => round(value, 1);
    return {
      streams,
      deltasPerStream: SCRIPT.repeat,
      pacing: `first delta after ${SCRIPT.firstDelayMs} ms, then one every ${SCRIPT.delayMs} ms`,
      completed: ok.length,
      errors: streams - ok.length,
      totalMs: Math.round(totalMs),
      directTotalMs: Math.round(directMs),
      ttftMs: summary(outcomes.map((o) => o.ttftMs).filter(Number.isFinite)),
      streamMs: summary(outcomes.map((o) => o.totalMs)),
      memoryMiB: {
        atStart: mib(atStart.rssMiB),
        idle: mib(idle.rssMiB),
        peak: mib(Math.max(peak.peakMiB, sampledPeak)),
        after: mib(after.rssMiB),
      },
    };
  } finally {
    await Deno.remove(root, { recursive: true }).catch(() => {});
  }
}
