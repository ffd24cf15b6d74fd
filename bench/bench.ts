/**
 * `deno task bench`: the bridge's performance, measured end to end.
 *
 * 1. **TTFT** with the real Claude Code CLI against a fake Anthropic API that
 *    answers at once: request sent → first content chunk received over HTTP,
 *    cold start vs warm pool, and the CLI's own warm floor (a pre-started CLI
 *    fed directly, no bridge).
 * 2. **Relay cost** with the stand-in CLI: deltas per second through the
 *    bridge vs the stand-in piped straight to a reader (a flood of deltas),
 *    and per-delta latency stand-in → client (paced deltas, each stamped
 *    with its send time) through the bridge and through the raw pipe.
 * 3. **Concurrency**: simultaneous streams against the stand-in with
 *    realistic pacing: all complete, total time, bridge memory peak.
 * 4. **Memory** of the bridge process: idle, peak under (3), after.
 *
 * The bridge runs as a separate process ({@link ./serve.ts}). Prints a table
 * and writes `bench/results.json` (a partial run replaces only its own
 * sections there). Options: `--only=ttft,relay,concurrency`,
 * `--requests=N` (TTFT samples per variant, default 20), `--streams=N`
 * (default 100). The real CLI is `CLAUDE_E2E_BIN`, else `claude` on `PATH`.
 *
 * @module
 */
import { loadAgent } from "../src/claude/agents.ts";
import { buildArgs, runEnv, type RunSpec, userMessageLine } from "../src/claude/args.ts";
import { flattenMessages } from "../src/engine/prompt.ts";
import { startFakeAnthropic } from "../tests/support/fake_anthropic.ts";
import { FAKE_CLAUDE } from "../tests/support/harness.ts";
import { fakeApiEnv, realClaude } from "../tests/support/real_cli.ts";
import { BridgeProcess, type Memory } from "./bridge_process.ts";
import { DirectCli } from "./direct_cli.ts";
import { streamChat } from "./sse_client.ts";
import { percentile, round, summary } from "./stats.ts";

const AGENTS_DIR = new URL("../agents", import.meta.url).pathname;
const RESULTS = new URL("./results.json", import.meta.url).pathname;
const MODEL = "sonnet";

const options = Object.fromEntries(
  Deno.args.map((arg) => arg.replace(/^--/, "").split("=") as [string, string]),
);
const only = options.only?.split(",");
const wanted = (section: string) => !only || only.includes(section);
const requests = Number(options.requests ?? 20);
const streams = Number(options.streams ?? 100);

const agent = await loadAgent(AGENTS_DIR, "conversational");
const spec: RunSpec = { agent, model: MODEL, output: "stream-json" };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const isTextDelta = (line: string) => line.includes('"text_delta"');

/** A chat request body with one user message. */
const chat = (content: string) => ({ model: MODEL, messages: [{ role: "user", content }] });

/** A user message steering the stand-in CLI. */
const steer = (script: Record<string, unknown>) => `bench [[fake:${JSON.stringify(script)}]]`;

/** The stdin line the bridge writes for `content`. */
const stdinLine = (content: string) =>
  userMessageLine(flattenMessages([{ role: "user", content }]));

async function tempDir(): Promise<string> {
  return await Deno.makeTempDir({ prefix: "bridge-bench-" });
}

// ---------------------------------------------------------------- 1. TTFT

async function ttft() {
  const bin = await realClaude();
  await using api = startFakeAnthropic();
  const home = await tempDir();
  const root = await tempDir();
  const cliEnv = fakeApiEnv(api.url, home);
  const bridgeEnv = { ...cliEnv, CLAUDE_BIN: bin, WORKSPACE_ROOT: root };
  const prompt = "Say ok.";
  const settle = 200; // ms a warm process idles before its request, in both warm variants

  const sample = async (bridge: BridgeProcess, before?: () => Promise<void>) => {
    const samples: number[] = [];
    for (let i = 0; i < requests; i++) {
      await before?.();
      const outcome = await streamChat(bridge.url, chat(prompt));
      if (!outcome.complete) throw new Error(`TTFT request failed (HTTP ${outcome.status})`);
      samples.push(outcome.ttftMs);
    }
    return samples;
  };

  let cold: number[];
  {
    await using bridge = await BridgeProcess.start({ ...bridgeEnv, WARM_POOL: "off" });
    await streamChat(bridge.url, chat(prompt)); // warm the page cache; not counted
    cold = await sample(bridge);
  }
  let warm: number[];
  {
    await using bridge = await BridgeProcess.start({ ...bridgeEnv, WARM_POOL: `${MODEL}=1` });
    warm = await sample(bridge, async () => {
      await bridge.poolReady(MODEL);
      await sleep(settle);
    });
  }
  const floor: number[] = [];
  for (let i = 0; i < requests; i++) {
    const cwd = await tempDir();
    {
      await using cli = new DirectCli(bin, buildArgs(spec), cwd, { ...runEnv(spec), ...cliEnv });
      await cli.write(
        JSON.stringify({
          type: "control_request",
          request_id: "b",
          request: { subtype: "initialize" },
        }) +
          "\n",
      );
      await cli.next((line) => line.includes('"control_response"'));
      await sleep(settle);
      const sent = performance.timeOrigin + performance.now();
      await cli.write(stdinLine(prompt));
      await cli.close();
      floor.push((await cli.next(isTextDelta)).receivedAt - sent);
    }
    await Deno.remove(cwd, { recursive: true });
  }
  await Deno.remove(home, { recursive: true });
  await Deno.remove(root, { recursive: true });
  return { cold: summary(cold), warm: summary(warm), floor: summary(floor) };
}

// ---------------------------------------------------------- 2. relay cost

/** Delta stamps and arrival times from one run. */
interface DeltaRun {
  count: number;
  /** Deltas per second between the first and the last arrival. */
  perSecond: number;
  /** Arrival minus send time of each delta (ms). */
  latencies: number[];
}

function deltaRecorder() {
  const latencies: number[] = [];
  let first = 0;
  let last = 0;
  return {
    add(text: string, receivedAt: number) {
      if (latencies.length === 0) first = receivedAt;
      last = receivedAt;
      latencies.push(receivedAt - Number(text.slice(1, -1)));
    },
    result(): DeltaRun {
      const count = latencies.length;
      return { count, perSecond: ((count - 1) / (last - first)) * 1000, latencies };
    },
  };
}

/** The stand-in piped straight into a reader that parses every line. */
async function rawPipe(script: Record<string, unknown>): Promise<DeltaRun> {
  const cwd = await tempDir();
  const recorder = deltaRecorder();
  {
    await using cli = new DirectCli(FAKE_CLAUDE, buildArgs(spec), cwd, runEnv(spec));
    await cli.write(stdinLine(steer(script)));
    await cli.close();
    for await (const { line, receivedAt } of cli.lines) {
      const event = JSON.parse(line);
      if (event.event?.delta?.type === "text_delta") {
        recorder.add(event.event.delta.text, receivedAt);
      }
    }
  }
  await Deno.remove(cwd, { recursive: true });
  return recorder.result();
}

/** The same stand-in through the bridge, read by an HTTP client. */
async function throughBridge(
  bridge: BridgeProcess,
  script: Record<string, unknown>,
): Promise<DeltaRun> {
  const recorder = deltaRecorder();
  const outcome = await streamChat(bridge.url, chat(steer(script)), recorder.add);
  if (!outcome.complete) throw new Error(`relay request failed (HTTP ${outcome.status})`);
  return recorder.result();
}

async function relay() {
  const flood = { say: ["x"], repeat: 20_000, stamp: true };
  const paced = { say: ["x"], repeat: 1000, stamp: true, delayMs: 2 };
  const root = await tempDir();
  await using bridge = await BridgeProcess.start({
    CLAUDE_BIN: FAKE_CLAUDE,
    WORKSPACE_ROOT: root,
    WARM_POOL: "off",
  });
  await throughBridge(bridge, { say: ["x"], repeat: 1000, stamp: true }); // JIT warm-up
  await rawPipe({ say: ["x"], repeat: 1000, stamp: true });
  const rates = { raw: [] as number[], bridge: [] as number[] };
  for (let i = 0; i < 3; i++) {
    const raw = await rawPipe(flood);
    const bridged = await throughBridge(bridge, flood);
    if (raw.count !== flood.repeat || bridged.count !== flood.repeat) {
      throw new Error(`lost deltas: raw ${raw.count}, bridge ${bridged.count}`);
    }
    rates.raw.push(raw.perSecond);
    rates.bridge.push(bridged.perSecond);
  }
  const rawPaced = await rawPipe(paced);
  const bridgePaced = await throughBridge(bridge, paced);
  await Deno.remove(root, { recursive: true });
  const rawRate = percentile(rates.raw, 50);
  const bridgeRate = percentile(rates.bridge, 50);
  const raw = summary(rawPaced.latencies, 3);
  const bridged = summary(bridgePaced.latencies, 3);
  return {
    deltas: flood.repeat,
    rawPerSecond: Math.round(rawRate),
    bridgePerSecond: Math.round(bridgeRate),
    ratio: round(bridgeRate / rawRate, 2),
    pacedDeltas: paced.repeat,
    pacedIntervalMs: paced.delayMs,
    rawLatencyMs: raw,
    bridgeLatencyMs: bridged,
    addedLatencyMs: {
      p50: round(bridged.p50 - raw.p50, 3),
      p99: round(bridged.p99 - raw.p99, 3),
    },
  };
}

// ------------------------------------------------- 3 + 4. concurrency, memory

async function concurrency() {
  const script = { say: ["word "], repeat: 40, firstDelayMs: 300, delayMs: 25 };
  // Baseline: the same stand-ins started and read directly, all at once.
  const directStarted = performance.now();
  const direct = await Promise.all(Array.from({ length: streams }, () => rawPipe(script)));
  const directMs = performance.now() - directStarted;
  if (direct.some((run) => run.count !== script.repeat)) {
    throw new Error("a direct run lost deltas");
  }
  const root = await tempDir();
  await using bridge = await BridgeProcess.start({
    CLAUDE_BIN: FAKE_CLAUDE,
    WORKSPACE_ROOT: root,
    WARM_POOL: "off",
    MAX_CONCURRENT: String(streams),
    MAX_QUEUE: String(streams),
  });
  await sleep(500);
  const idleStart = await bridge.memory();
  await streamChat(bridge.url, chat(steer(script))); // warm-up, not counted
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
  const started = performance.now();
  const outcomes = await Promise.all(
    Array.from({ length: streams }, () => streamChat(bridge.url, chat(steer(script)))),
  );
  const totalMs = performance.now() - started;
  sampling = false;
  await sampler;
  const peak: Memory = await bridge.memory();
  await sleep(1000);
  const after = await bridge.memory();
  await Deno.remove(root, { recursive: true }).catch(() => {});
  const ok = outcomes.filter((o) => o.complete && o.chunks === script.repeat).length;
  const mib = (value: number) => round(value, 1);
  return {
    streams,
    deltasPerStream: script.repeat,
    pacing: `first token after ${script.firstDelayMs} ms, then one every ${script.delayMs} ms`,
    completed: ok,
    errors: streams - ok,
    totalMs: Math.round(totalMs),
    directTotalMs: Math.round(directMs),
    ttftMs: summary(outcomes.map((o) => o.ttftMs).filter(Number.isFinite)),
    streamMs: summary(outcomes.map((o) => o.totalMs)),
    memoryMiB: {
      atStart: mib(idleStart.rssMiB),
      idle: mib(idle.rssMiB),
      peak: mib(Math.max(peak.peakMiB, sampledPeak)),
      after: mib(after.rssMiB),
    },
  };
}

// ------------------------------------------------------------------- main

async function machine() {
  const cpu = /model name\s*:\s*(.*)/.exec(await Deno.readTextFile("/proc/cpuinfo"))?.[1];
  const memKiB = Number(/MemTotal:\s+(\d+)/.exec(await Deno.readTextFile("/proc/meminfo"))?.[1]);
  return {
    cpus: navigator.hardwareConcurrency,
    cpu,
    memoryGiB: round(memKiB / 1024 / 1024, 1),
    loadAverage: Deno.loadavg(),
    deno: Deno.version.deno,
    os: `${Deno.build.os} ${Deno.osRelease()}`,
  };
}

/** Earlier results: a partial run (`--only`) replaces just its own sections. */
async function previous(): Promise<Record<string, unknown>> {
  try {
    return JSON.parse(await Deno.readTextFile(RESULTS));
  } catch {
    return {};
  }
}

const results: Record<string, unknown> = {
  ...(await previous()),
  date: new Date().toISOString(),
  machine: await machine(),
};
const rows: [string, string, string][] = [];
const row = (metric: string, value: string, target = "") => rows.push([metric, value, target]);
const check = (ok: boolean) => (ok ? "ok" : "MISSED");

if (wanted("ttft")) {
  console.error(`TTFT with the real CLI (${requests} requests per variant)…`);
  const t = await ttft();
  results.ttft = t;
  const speedup = t.cold.p50 / t.warm.p50;
  const overFloor = t.warm.p50 - t.floor.p50;
  row("TTFT cold start p50 / p90 (ms)", `${t.cold.p50} / ${t.cold.p90}`);
  row("TTFT warm pool p50 / p90 (ms)", `${t.warm.p50} / ${t.warm.p90}`);
  row("CLI warm floor p50 / p90 (ms)", `${t.floor.p50} / ${t.floor.p90}`);
  row("warm vs cold p50", `${round(speedup, 1)}× faster`, `≥ 5× ${check(speedup >= 5)}`);
  row("warm p50 above CLI floor (ms)", `${round(overFloor)}`, `≤ 50 ${check(overFloor <= 50)}`);
}
if (wanted("relay")) {
  console.error("Relay cost with the stand-in CLI…");
  const r = await relay();
  results.relay = r;
  row(`raw pipe (${r.deltas} deltas/s)`, `${r.rawPerSecond}`);
  row(
    "through the bridge (deltas/s)",
    `${r.bridgePerSecond}`,
    `≥ 0.5× raw ${check(r.ratio >= 0.5)}`,
  );
  row(
    "delta latency raw p50 / p99 (ms)",
    `${r.rawLatencyMs.p50} / ${r.rawLatencyMs.p99}`,
  );
  row(
    "delta latency bridge p50 / p99 (ms)",
    `${r.bridgeLatencyMs.p50} / ${r.bridgeLatencyMs.p99}`,
  );
  row(
    "added latency p50 / p99 (ms)",
    `${r.addedLatencyMs.p50} / ${r.addedLatencyMs.p99}`,
    `< 1 / < 5 ${check(r.addedLatencyMs.p50 < 1 && r.addedLatencyMs.p99 < 5)}`,
  );
}
if (wanted("concurrency")) {
  console.error(`${streams} simultaneous streams with the stand-in CLI…`);
  const c = await concurrency();
  results.concurrency = c;
  row(`${c.streams} streams completed`, `${c.completed}`, `all ${check(c.errors === 0)}`);
  row(`${c.streams} streams total time (ms)`, `${c.totalMs}`);
  row(`  same ${c.streams} stand-ins without the bridge (ms)`, `${c.directTotalMs}`);
  row("  their TTFT p50 / p90 (ms)", `${c.ttftMs.p50} / ${c.ttftMs.p90}`);
  row("bridge memory idle (MiB RSS)", `${c.memoryMiB.idle}`);
  row("bridge memory peak under load (MiB)", `${c.memoryMiB.peak}`);
  row("bridge memory after (MiB RSS)", `${c.memoryMiB.after}`);
}

await Deno.writeTextFile(RESULTS, JSON.stringify(results, null, 2) + "\n");
const widths = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i]!.length)));
const m = results.machine as Awaited<ReturnType<typeof machine>>;
console.log(`\n${m.cpus} × ${m.cpu}, ${m.memoryGiB} GiB, load ${m.loadAverage.join(" ")}`);
for (const r of rows) console.log(r.map((cell, i) => cell.padEnd(widths[i]!)).join("  "));
console.log(`\nwritten: ${RESULTS}`);
