/**
 * Runs the bridge ({@link ./serve.ts}) as a separate process for a
 * benchmark, so its memory is its own and measurable from `/proc`.
 *
 * @module
 */
import type { PoolStatus } from "../src/engine/warm_pool.ts";

const SERVE = new URL("./serve.ts", import.meta.url).pathname;
const CONFIG = new URL("../deno.json", import.meta.url).pathname;

/** The bearer key benchmark bridges accept. */
export const BENCH_KEY = "bench-key";

/** Memory figures of one process, in MiB. */
export interface Memory {
  /** Resident set size now. */
  rssMiB: number;
  /** Peak resident set size so far (`VmHWM`). */
  peakMiB: number;
}

/** Reads a process's resident memory from `/proc/<pid>/status`. */
export async function memoryOf(pid: number): Promise<Memory> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const kib = (field: string) =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1]);
  return { rssMiB: kib("VmRSS") / 1024, peakMiB: kib("VmHWM") / 1024 };
}

/** A bridge process on a loopback port. */
export class BridgeProcess implements AsyncDisposable {
  readonly url: string;
  readonly pid: number;
  #child: Deno.ChildProcess;
  #drained: Promise<unknown>;

  private constructor(child: Deno.ChildProcess, url: string, drained: Promise<unknown>) {
    this.#child = child;
    this.pid = child.pid;
    this.url = url;
    this.#drained = drained;
  }

  /** Starts the bridge with `env` (on top of this process's environment) and waits until it listens. */
  static async start(env: Record<string, string>): Promise<BridgeProcess> {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", `--config=${CONFIG}`, SERVE],
      env: { API_KEYS: BENCH_KEY, LOG_LEVEL: "warn", ...env },
      stdin: "null",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("\n")) {
      const { done, value } = await lines.read();
      if (done) throw new Error(`the bridge exited before listening: ${text}`);
      text += value;
    }
    const { port } = JSON.parse(text.slice(0, text.indexOf("\n")));
    const drained = (async () => {
      while (!(await lines.read()).done) { /* keep stdout flowing */ }
    })();
    return new BridgeProcess(child, `http://127.0.0.1:${port}`, drained);
  }

  /** The warm pool's status, or `null` without a pool. */
  async pool(): Promise<PoolStatus | null> {
    return await (await fetch(`${this.url}/bench/pool`)).json();
  }

  /** Waits until the pool has `count` ready processes for `model`. */
  async poolReady(model: string, count = 1, timeoutMs = 60_000): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while ((await this.pool())?.models[model]?.ready !== count) {
      if (performance.now() > deadline) {
        throw new Error(`the warm pool did not get ${count} ready "${model}" in ${timeoutMs} ms`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** The bridge process's memory now. */
  memory(): Promise<Memory> {
    return memoryOf(this.pid);
  }

  /** Stops the bridge (SIGTERM: it stops its pool) and waits for it. */
  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.#child.kill("SIGTERM");
    } catch {
      // Already gone.
    }
    await this.#child.status;
    await this.#drained;
  }
}
