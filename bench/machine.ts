/**
 * The machine a benchmark runs on, and a wait for it to be quiet: the
 * benchmark shares two cores with whatever else runs, so each section first
 * waits (a bounded time) for the load average to drop, and records the load
 * it started with.
 *
 * @module
 */
import { round, sleep } from "./stats.ts";

/** What the results say about the machine. */
export interface Machine {
  cpus: number;
  cpu: string | undefined;
  memoryGiB: number;
  deno: string;
  claude?: string;
  os: string;
}

/** The machine's CPU, memory, OS and Deno version. */
export async function machine(): Promise<Machine> {
  const cpu = /model name\s*:\s*(.*)/.exec(await Deno.readTextFile("/proc/cpuinfo"))?.[1];
  const memKiB = Number(/MemTotal:\s+(\d+)/.exec(await Deno.readTextFile("/proc/meminfo"))?.[1]);
  return {
    cpus: navigator.hardwareConcurrency,
    cpu,
    memoryGiB: round(memKiB / 1024 / 1024, 1),
    deno: Deno.version.deno,
    os: `${Deno.build.os} ${Deno.osRelease()}`,
  };
}

/** Jiffies the CPUs spent busy and in total so far (`/proc/stat`'s first line). */
async function cpuJiffies(): Promise<{ busy: number; total: number }> {
  const fields = (await Deno.readTextFile("/proc/stat")).split("\n")[0]!.trim().split(/\s+/)
    .slice(1, 9).map(Number);
  const total = fields.reduce((sum, value) => sum + value, 0);
  const idle = fields[3]! + fields[4]!; // idle + iowait
  return { busy: total - idle, total };
}

/** The share (0–1) of all CPUs' time spent busy over the next `ms`. */
export async function busyShare(ms = 1000): Promise<number> {
  const before = await cpuJiffies();
  await sleep(ms);
  const after = await cpuJiffies();
  return (after.busy - before.busy) / Math.max(1, after.total - before.total);
}

/** How busy the machine was when a section started. */
export interface Quiet {
  /** Share of CPU time busy in the last second checked (0–1, all cores). */
  busy: number;
  /** The 1-minute load average then. */
  load: number;
  /** True when `busy` fell to the threshold in time. */
  quiet: boolean;
  waitedMs: number;
}

/**
 * Waits until the CPUs are at most `maxBusy` (0–1) busy over two seconds in
 * a row, for up to `timeoutMs`, so a section does not start while other
 * work (another test suite, a previous section winding down) shares the two
 * cores; reports how busy it was, so a busy machine is visible in the results.
 */
export async function waitForQuiet(maxBusy: number, timeoutMs: number): Promise<Quiet> {
  const started = performance.now();
  let calm = 0;
  for (;;) {
    const busy = await busyShare(1000);
    calm = busy <= maxBusy ? calm + 1 : 0;
    const waitedMs = Math.round(performance.now() - started);
    const load = round(Deno.loadavg()[0]!, 2);
    if (calm >= 2) return { busy: round(busy, 2), load, quiet: true, waitedMs };
    if (waitedMs >= timeoutMs) return { busy: round(busy, 2), load, quiet: false, waitedMs };
  }
}
