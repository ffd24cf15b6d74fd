/**
 * Relay cost (issue 14 item 8), with the stand-in CLI
 * (`tests/support/fake_claude.ts`) steered to stream deltas, each stamped
 * with its send time:
 *
 * - **end to end**: a flood of 20,000 deltas, timed from the start to the
 *   last byte of the answer — through the bridge (HTTP request, a CLI
 *   spawned for it, the SSE response read to `[DONE]`), and from a raw pipe
 *   (spawn the stand-in with the same argv, write the same stdin the bridge
 *   writes, read every stdout line and `JSON.parse` it, up to the `result`
 *   line). Warm-up runs first, then interleaved runs (the order rotating
 *   each round); the medians are compared. The same runs give the bridge
 *   process's CPU time per delta (`/proc/<pid>/stat` utime + stime, before
 *   and after each bridged run, once its CLI has exited) — and the
 *   stand-in's (the parent's cutime + cstime once it was reaped) and the
 *   reader's (this process) for both ways, which show where the time goes
 *   on two shared cores — and, as a diagnostic, the same flood through a
 *   bridge served by a plain `Deno.serve` instead of the guarded server.
 * - **paced**: 1,000 deltas 2 ms apart, latency stand-in → reader of each
 *   delta (arrival minus stamp), raw and through the bridge; the bridge's
 *   added latency is the difference of their p50 and p99.
 *
 * @module
 */
import type { Agent } from "../src/claude/agents.ts";
import { buildArgs, processEnv, type ProcessSpec } from "../src/claude/args.ts";
import { initializeRequest, userMessage } from "../src/claude/control.ts";
import { ToolNames } from "../src/claude/tool_names.ts";
import { systemPromptOf } from "../src/engine/engine.ts";
import { FAKE_CLAUDE } from "../tests/support/harness.ts";
import { BenchBridge } from "./bridge_process.ts";
import { own } from "./cleanup.ts";
import { childrenOf, commandOf, cpuTimes } from "./procfs.ts";
import { assertComplete, streamChat } from "./sse_client.ts";
import { median, round, sleep, type Summary, summary, wallNow } from "./stats.ts";

/** How the relay section runs. */
export interface RelayOptions {
  agent: Agent;
  model: string;
  /** Interleaved measured runs per variant (at least 7). */
  runs: number;
  log: (message: string) => void;
}

/** One run: its end-to-end time and the deltas it saw. */
export interface DeltaRun {
  /** Milliseconds from the start (request or spawn) to the end of the answer. */
  totalMs: number;
  /** Deltas received (text_delta events on the raw pipe, stamps through the bridge). */
  count: number;
  /** Deltas per second between the first and the last arrival. */
  perSecond: number;
  /** Arrival minus send time of each delta (ms). */
  latencies: number[];
  /**
   * CPU time over the run (ms): the stand-in's, the reader's (this
   * process: the raw reader or the HTTP client), and the bridge's (bridged
   * runs only).
   */
  cpuMs: { cli: number; reader: number; bridge?: number };
}

/** What the relay section measured. */
export interface RelayResults {
  deltas: number;
  runs: number;
  /** Median end-to-end ms: raw pipe, through the bridge, through a bridge without the guarded server. */
  endToEndMs: { raw: number; bridge: number; bridgePlainServe: number };
  /** bridge / raw of the medians (target ≤ 1.5). */
  ratio: number;
  ratioPlainServe: number;
  /** Every run's end-to-end ms, in order. */
  samplesMs: { raw: number[]; bridge: number[]; bridgePlainServe: number[] };
  /** Median deltas per second between first and last arrival. */
  perSecond: { raw: number; bridge: number; bridgePlainServe: number };
  /** Bridge CPU per delta over the flood, µs (median of the runs). */
  bridgeCpuPerDeltaUs: number;
  bridgePlainServeCpuPerDeltaUs: number;
  /**
   * CPU per delta of each process taking part, µs (medians): the stand-in,
   * the reader (raw reader or HTTP client) and the bridge.
   */
  cpuPerDeltaUs: {
    raw: { cli: number; reader: number };
    bridge: { cli: number; reader: number; bridge: number };
  };
  pacedDeltas: number;
  pacedIntervalMs: number;
  rawLatencyMs: Summary;
  bridgeLatencyMs: Summary;
  addedLatencyMs: { p50: number; p99: number };
}

const FLOOD = { say: ["x"], repeat: 20_000, stamp: true };
const PACED = { say: ["x"], repeat: 1000, stamp: true, delayMs: 2 };

/** The user message that steers the stand-in. */
export const steer = (script: Record<string, unknown>): string =>
  `bench [[fake:${JSON.stringify(script)}]]`;

/** Adds the stamps in a chunk of streamed text (`x<ms>;` per delta) to `latencies`. */
function addStamps(text: string, receivedAt: number, latencies: number[]): void {
  let start = 0;
  let end: number;
  while ((end = text.indexOf(";", start)) >= 0) {
    latencies.push(receivedAt - Number(text.slice(start + 1, end)));
    start = end + 1;
  }
}

/** A stand-in CLI spawned and read directly: the raw pipe the bridge is compared with. */
export class RawPipe {
  readonly #args: string[];
  readonly #env: Record<string, string>;
  readonly #systemPrompt: string | undefined;

  constructor(agent: Agent, model: string) {
    const spec: ProcessSpec = { agent, model, clientTools: false };
    this.#args = buildArgs(spec);
    this.#env = processEnv(spec);
    this.#systemPrompt = systemPromptOf(agent, []);
  }

  /** The stdin the bridge writes for a first turn of `text` (default settings: it writes none). */
  stdin(text: string): string {
    return initializeRequest("bridge-1", {
      systemPrompt: this.#systemPrompt,
      clientTools: false,
      guard: false,
    }) + userMessage([{ type: "text", text }], new ToolNames([]));
  }

  /**
   * Spawns the stand-in steered by `script`, writes the bridge's stdin and
   * closes it, reads and parses every line; timed up to the `result` line.
   */
  async run(script: Record<string, unknown>): Promise<DeltaRun> {
    const cwd = await Deno.makeTempDir({ prefix: "bridge-bench-raw-" });
    const latencies: number[] = [];
    let first = 0;
    let last = 0;
    let resultAt = 0;
    let count = 0;
    const before = await cpuTimes("self");
    const started = wallNow();
    const child = new Deno.Command(FAKE_CLAUDE, {
      args: this.#args,
      cwd,
      env: this.#env,
      stdin: "piped",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    own(child);
    try {
      const writer = child.stdin.getWriter();
      await writer.write(new TextEncoder().encode(this.stdin(steer(script))));
      await writer.close();
      const decoder = new TextDecoder();
      let buffer = "";
      for await (const bytes of child.stdout) {
        const at = wallNow();
        buffer += decoder.decode(bytes, { stream: true });
        let start = 0;
        let end: number;
        while ((end = buffer.indexOf("\n", start)) >= 0) {
          const event = JSON.parse(buffer.slice(start, end));
          start = end + 1;
          if (event.type === "stream_event" && event.event?.delta?.type === "text_delta") {
            if (count++ === 0) first = at;
            last = at;
            addStamps(event.event.delta.text, at, latencies);
          } else if (event.type === "result") {
            resultAt = at;
          }
        }
        buffer = buffer.slice(start);
      }
    } finally {
      await child.status;
      await Deno.remove(cwd, { recursive: true }).catch(() => {});
    }
    const after = await cpuTimes("self");
    if (resultAt === 0) throw new Error("the stand-in's output had no result line");
    return {
      totalMs: resultAt - started,
      count,
      perSecond: ((count - 1) / Math.max(1e-9, last - first)) * 1000,
      latencies,
      cpuMs: { cli: after.children - before.children, reader: after.self - before.self },
    };
  }
}

/** Waits (up to `ms`) until the bridge runs no CLI process. */
async function noCli(bridge: BenchBridge, ms = 10_000): Promise<void> {
  const deadline = performance.now() + ms;
  // An exited child the bridge has not reaped yet (its cmdline reads "") is not in its cutime yet.
  const waiting = async () =>
    (await bridge.cliPids()).length > 0 ||
    (await Promise.all((await childrenOf(bridge.pid)).map(commandOf))).includes("");
  while (await waiting() && performance.now() < deadline) await sleep(10);
}

/** The same stand-in through the bridge, read by an HTTP client, with the bridge's CPU time. */
export async function bridgedRun(
  bridge: BenchBridge,
  model: string,
  script: Record<string, unknown>,
): Promise<DeltaRun> {
  const latencies: number[] = [];
  let first = 0;
  let last = 0;
  const bridgeBefore = await bridge.cpuTimes();
  const selfBefore = await cpuTimes("self");
  const started = wallNow();
  const outcome = await streamChat(
    bridge.url,
    { model, messages: [{ role: "user", content: steer(script) }] },
    (text, at) => {
      if (latencies.length === 0) first = at;
      last = at;
      addStamps(text, at, latencies);
    },
  );
  const totalMs = wallNow() - started;
  const selfAfter = await cpuTimes("self");
  assertComplete(outcome, "relay request");
  await noCli(bridge);
  const bridgeAfter = await bridge.cpuTimes();
  return {
    totalMs,
    count: latencies.length,
    perSecond: ((latencies.length - 1) / Math.max(1e-9, last - first)) * 1000,
    latencies,
    cpuMs: {
      cli: bridgeAfter.children - bridgeBefore.children,
      reader: selfAfter.self - selfBefore.self,
      bridge: bridgeAfter.self - bridgeBefore.self,
    },
  };
}

/** Runs the relay section; see the module documentation. */
export async function relaySection(options: RelayOptions): Promise<RelayResults> {
  const { agent, model, log } = options;
  const runs = Math.max(7, options.runs);
  const root = await Deno.makeTempDir({ prefix: "bridge-bench-root-" });
  try {
    const env = { CLAUDE_BIN: FAKE_CLAUDE, WORKSPACE_ROOT: root, WARM_POOL: "off" };
    await using bridge = await BenchBridge.launch({ ...env, LIVE_SESSIONS: "0" });
    await using plain = await BenchBridge.launch({
      ...env,
      LIVE_SESSIONS: "0",
      BENCH_SERVER: "plain",
    });
    const raw = new RawPipe(agent, model);
    type Variant = "raw" | "bridge" | "bridgePlainServe";
    const run = (variant: Variant, script: Record<string, unknown>) =>
      variant === "raw"
        ? raw.run(script)
        : bridgedRun(variant === "bridge" ? bridge : plain, model, script);
    const order: Variant[] = ["raw", "bridge", "bridgePlainServe"];
    log("  warm-up");
    for (let i = 0; i < 2; i++) for (const variant of order) await run(variant, FLOOD);
    const floods: Record<Variant, DeltaRun[]> = { raw: [], bridge: [], bridgePlainServe: [] };
    log(`  ${runs} interleaved rounds of ${FLOOD.repeat} deltas`);
    for (let i = 0; i < runs; i++) {
      const rotated = [...order.slice(i % 3), ...order.slice(0, i % 3)];
      for (const variant of rotated) {
        const result = await run(variant, FLOOD);
        if (result.count !== FLOOD.repeat) {
          throw new Error(`${variant} run got ${result.count} of ${FLOOD.repeat} deltas`);
        }
        floods[variant].push(result);
      }
    }
    log(`  paced: ${PACED.repeat} deltas ${PACED.delayMs} ms apart, 3 runs each`);
    const paced = { raw: [] as number[], bridge: [] as number[] };
    for (let i = 0; i < 3; i++) {
      paced.raw.push(...(await raw.run(PACED)).latencies);
      paced.bridge.push(...(await bridgedRun(bridge, model, PACED)).latencies);
    }
    const med = (variant: Variant, pick: (run: DeltaRun) => number) =>
      median(floods[variant].map(pick));
    const total = (variant: Variant) => med(variant, (run) => run.totalMs);
    const perDelta = (variant: Variant, party: "cli" | "reader" | "bridge") =>
      round(med(variant, (run) => ((run.cpuMs[party] ?? NaN) * 1000) / FLOOD.repeat), 2);
    const cpu = (variant: Variant) => perDelta(variant, "bridge");
    const rawLatency = summary(paced.raw, 3);
    const bridgeLatency = summary(paced.bridge, 3);
    return {
      deltas: FLOOD.repeat,
      runs,
      endToEndMs: {
        raw: round(total("raw")),
        bridge: round(total("bridge")),
        bridgePlainServe: round(total("bridgePlainServe")),
      },
      ratio: round(total("bridge") / total("raw"), 2),
      ratioPlainServe: round(total("bridgePlainServe") / total("raw"), 2),
      samplesMs: {
        raw: floods.raw.map((run) => round(run.totalMs)),
        bridge: floods.bridge.map((run) => round(run.totalMs)),
        bridgePlainServe: floods.bridgePlainServe.map((run) => round(run.totalMs)),
      },
      perSecond: {
        raw: Math.round(med("raw", (run) => run.perSecond)),
        bridge: Math.round(med("bridge", (run) => run.perSecond)),
        bridgePlainServe: Math.round(med("bridgePlainServe", (run) => run.perSecond)),
      },
      bridgeCpuPerDeltaUs: cpu("bridge"),
      bridgePlainServeCpuPerDeltaUs: cpu("bridgePlainServe"),
      cpuPerDeltaUs: {
        raw: { cli: perDelta("raw", "cli"), reader: perDelta("raw", "reader") },
        bridge: {
          cli: perDelta("bridge", "cli"),
          reader: perDelta("bridge", "reader"),
          bridge: perDelta("bridge", "bridge"),
        },
      },
      pacedDeltas: PACED.repeat,
      pacedIntervalMs: PACED.delayMs,
      rawLatencyMs: rawLatency,
      bridgeLatencyMs: bridgeLatency,
      addedLatencyMs: {
        p50: round(bridgeLatency.p50 - rawLatency.p50, 3),
        p99: round(bridgeLatency.p99 - rawLatency.p99, 3),
      },
    };
  } finally {
    await Deno.remove(root, { recursive: true }).catch(() => {});
  }
}
