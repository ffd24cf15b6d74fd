/**
 * What `/proc` says about a process: its memory (RSS, peak, PSS), its CPU
 * time, and its descendants — so a benchmark can weigh a CLI process with
 * everything it started, and charge the bridge for the CPU it used.
 *
 * Linux only (the benchmark's platform).
 *
 * @module
 */

/** Memory figures of one process, in MiB. */
export interface Memory {
  /** Resident set size now. */
  rssMiB: number;
  /** Peak resident set size so far (`VmHWM`). */
  peakMiB: number;
}

/** Clock ticks per second of `/proc/<pid>/stat` times (`getconf CLK_TCK`; 100 on Linux). */
export const CLOCK_TICKS = 100;

/** Reads a process's resident memory from `/proc/<pid>/status`. */
export async function memoryOf(pid: number): Promise<Memory> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const kib = (field: string) =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1]);
  return { rssMiB: kib("VmRSS") / 1024, peakMiB: kib("VmHWM") / 1024 };
}

/** The fields of `/proc/<pid>/stat` after the command name (field 3 is index 0). */
async function statFields(pid: number | "self"): Promise<string[]> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  // The command name (field 2) is parenthesized and may hold spaces or parentheses.
  return stat.slice(stat.lastIndexOf(")") + 2).trim().split(" ");
}

/** CPU time (user + system) a process has used so far, in milliseconds. */
export async function cpuTimeMs(pid: number | "self"): Promise<number> {
  return (await cpuTimes(pid)).self;
}

/**
 * CPU time (user + system, ms) of a process so far, and of its children it
 * has waited for (the ones that exited and were reaped).
 */
export async function cpuTimes(pid: number | "self"): Promise<{ self: number; children: number }> {
  const fields = await statFields(pid);
  // utime, stime, cutime, cstime are fields 14–17 (1-based).
  const ms = (i: number) => Number(fields[i]) * (1000 / CLOCK_TICKS);
  return { self: ms(11) + ms(12), children: ms(13) + ms(14) };
}

/** Every live process's parent, by pid. */
async function parents(): Promise<Map<number, number>> {
  const map = new Map<number, number>();
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      map.set(Number(entry.name), Number((await statFields(Number(entry.name)))[1]));
    } catch {
      // Exited meanwhile.
    }
  }
  return map;
}

/** The direct children of `pid`. */
export async function childrenOf(pid: number): Promise<number[]> {
  return [...(await parents())].filter(([, parent]) => parent === pid).map(([child]) => child);
}

/** `pid` and all its descendants. */
export async function processTree(pid: number): Promise<number[]> {
  const map = await parents();
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) {
    for (const [child, parent] of map) if (parent === tree[i]) tree.push(child);
  }
  return tree;
}

/** The command line of `pid` (arguments joined by spaces), or "" once it has exited. */
export async function commandOf(pid: number): Promise<string> {
  try {
    return (await Deno.readTextFile(`/proc/${pid}/cmdline`)).split("\0").join(" ").trim();
  } catch {
    return "";
  }
}

/** Memory of a process with all its descendants, in MiB. */
export interface TreeMemory {
  /** Processes counted. */
  processes: number;
  /** Sum of their resident set sizes (shared pages counted in each). */
  rssMiB: number;
  /** Sum of their proportional set sizes (shared pages split among their users). */
  pssMiB: number;
}

/** RSS and PSS of `pid` and its descendants. */
export async function treeMemory(pid: number): Promise<TreeMemory> {
  let rss = 0;
  let pss = 0;
  let processes = 0;
  for (const member of await processTree(pid)) {
    try {
      const rollup = await Deno.readTextFile(`/proc/${member}/smaps_rollup`);
      const kib = (field: string) =>
        Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(rollup)?.[1] ?? 0);
      rss += kib("Rss");
      pss += kib("Pss");
      processes++;
    } catch {
      // Exited meanwhile.
    }
  }
  return { processes, rssMiB: rss / 1024, pssMiB: pss / 1024 };
}
