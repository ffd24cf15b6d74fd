/**
 * Process checks for lifecycle tests, read from Linux's /proc: is a pid still
 * running, which processes are children of a pid, and bounded polling until
 * a condition holds. Also a reader for the stand-in's `FAKE_CLAUDE_RECORD`
 * directory (which pids ran, and what they started).
 *
 * @module
 */
import { REAPER_SCRIPT } from "../../src/claude/reaper.ts";

/** The state letter and parent pid of `pid`, or `undefined` when it is gone. */
function stat(pid: number): { state: string; ppid: number } | undefined {
  try {
    const text = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // "pid (comm) S ppid ...": comm may contain spaces, so split after its ")".
    const [state, ppid] = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return { state: state ?? "?", ppid: Number(ppid) };
  } catch {
    return undefined;
  }
}

/** True while `pid` runs (a zombie, waiting to be reaped, counts as gone). */
export function isRunning(pid: number): boolean {
  const s = stat(pid);
  return s !== undefined && s.state !== "Z" && s.state !== "X";
}

/** True for the bridge's process-group reaper (`sh -c <REAPER_SCRIPT>`), which lives as long as the bridge. */
export function isReaper(pid: number): boolean {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/cmdline`).includes(REAPER_SCRIPT.trim());
  } catch {
    return false;
  }
}

/** Running CLI children of `parent` (default: this process): its children but the reaper. */
export function cliChildren(parent: number = Deno.pid): number[] {
  return childrenOf(parent).filter((pid) => !isReaper(pid));
}

/** Running children of `parent` (default: this process). */
export function childrenOf(parent: number = Deno.pid): number[] {
  const pids: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    const pid = Number(entry.name);
    if (!Number.isInteger(pid)) continue;
    const s = stat(pid);
    if (s && s.ppid === parent && s.state !== "Z" && s.state !== "X") pids.push(pid);
  }
  return pids;
}

/**
 * Polls `condition` every 20 ms until it holds, failing with `message` once
 * `ms` have passed. Returns how long it took.
 */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  ms: number,
  message: string,
): Promise<number> {
  const start = performance.now();
  for (;;) {
    if (await condition()) return performance.now() - start;
    if (performance.now() - start > ms) throw new Error(`${message} (waited ${ms} ms)`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Waits until none of `pids` runs, failing after `ms` (default 2000). */
export async function waitGone(pids: number[], ms = 2000): Promise<void> {
  await waitFor(
    () => pids.every((pid) => !isRunning(pid)),
    ms,
    `processes still running: ${pids.filter(isRunning).join(", ")}`,
  );
}

/** Pids of the stand-in runs recorded in `dir` so far. */
export function recordedPids(dir: string): number[] {
  return [...Deno.readDirSync(dir)]
    .map((entry) => /^(\d+)\.json$/.exec(entry.name)?.[1])
    .filter((pid) => pid !== undefined)
    .map(Number);
}

/** One stand-in run as it recorded itself (see `fake_claude.ts`). */
export interface RecordedRun {
  pid: number;
  argv: string[];
  /** Every stdin line it read, each with its newline. */
  stdin: string;
  cwd: string;
  /** The files in its working directory when it started its first turn. */
  files: string[];
  env: Record<string, string | undefined>;
  /** The `--resume` file's text, or null. */
  resume: string | null;
  /** The first `initialize` request, or null. */
  // deno-lint-ignore no-explicit-any
  initialize: Record<string, any> | null;
  /** How it ended by itself (`reason` "stdin closed", or "directive"); null while running or when killed. */
  exited: { code: number; reason: string } | null;
  /** Per turn: the user text, the system prompt and the settings the API would get. */
  // deno-lint-ignore no-explicit-any
  turns: { prompt: string; system: string; settings: Record<string, any> }[];
}

/** The stand-in runs recorded in `dir` so far, in pid order. */
export async function recordedRuns(dir: string): Promise<RecordedRun[]> {
  const runs: RecordedRun[] = [];
  for (const pid of recordedPids(dir).sort((a, b) => a - b)) {
    runs.push({ ...JSON.parse(await Deno.readTextFile(`${dir}/${pid}.json`)), pid });
  }
  return runs;
}

/** Pids of the grandchildren recorded in `dir` (the stand-in's `grandchild` directive). */
export function grandchildPids(dir: string): number[] {
  return [...Deno.readDirSync(dir)]
    .filter((entry) => entry.name.startsWith("grandchild-"))
    .map((entry) => Number(Deno.readTextFileSync(`${dir}/${entry.name}`)));
}

/** Waits for the first stand-in run to record itself in `dir`, and returns its pid. */
export async function firstRecordedPid(dir: string, ms = 5000): Promise<number> {
  await waitFor(() => recordedPids(dir).length > 0, ms, `no stand-in run recorded in ${dir}`);
  return recordedPids(dir)[0]!;
}

/** Running (non-zombie) processes whose process group is `pgid`, from /proc. */
export function groupMembers(pgid: number): number[] {
  const pids: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    const pid = Number(entry.name);
    if (!Number.isInteger(pid)) continue;
    try {
      const text = Deno.readTextFileSync(`/proc/${pid}/stat`);
      // "pid (comm) S ppid pgrp ...": comm may contain spaces, so split after its ")".
      const [state, , pgrp] = text.slice(text.lastIndexOf(")") + 2).split(" ");
      if (Number(pgrp) === pgid && state !== "Z" && state !== "X") pids.push(pid);
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}
