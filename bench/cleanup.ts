/**
 * The processes a benchmark started and has not yet stopped, so that a
 * section that times out, a failure or a Ctrl-C leaves nothing running:
 * {@linkcode stopAll} stops every process still registered — bridges with
 * SIGTERM first (a bridge stops its own CLI processes on SIGTERM), the rest
 * with SIGKILL.
 *
 * @module
 */

/** A started process the benchmark owns. */
interface Owned {
  kill(signal: Deno.Signal): void;
  status: Promise<Deno.CommandStatus>;
  /** Stopped politely first (SIGTERM, then SIGKILL after a grace period). */
  graceful: boolean;
}

const owned = new Set<Owned>();

/** Registers `child` until it exits. */
export function own(
  child: { kill(signal: Deno.Signal): void; status: Promise<Deno.CommandStatus> },
  graceful = false,
): void {
  const entry: Owned = { kill: (signal) => child.kill(signal), status: child.status, graceful };
  owned.add(entry);
  void child.status.finally(() => owned.delete(entry));
}

function kill(entry: Owned, signal: Deno.Signal): void {
  try {
    entry.kill(signal);
  } catch {
    // Already gone.
  }
}

/** Stops every registered process; bridges get `graceMs` to stop their CLIs. */
export async function stopAll(graceMs = 10_000): Promise<void> {
  const entries = [...owned];
  for (const entry of entries) kill(entry, entry.graceful ? "SIGTERM" : "SIGKILL");
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    Promise.allSettled(entries.map((entry) => entry.status)),
    new Promise((resolve) => timer = setTimeout(resolve, graceMs)),
  ]);
  clearTimeout(timer);
  for (const entry of owned) kill(entry, "SIGKILL");
}

/** How many registered processes still run. */
export function running(): number {
  return owned.size;
}
