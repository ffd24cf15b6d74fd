/**
 * Runs the bridge ({@link ./serve.ts}) as a separate process for a
 * benchmark, so its memory and CPU time are its own and measurable from
 * `/proc`, and its CLI children can be found and weighed.
 *
 * @module
 */
import type { RunPath } from "../src/engine/engine.ts";
import type { PoolStatus } from "../src/engine/warm_pool.ts";
import { BridgeProcess } from "../tests/support/bridge_process.ts";
import { own } from "./cleanup.ts";
import { childrenOf, commandOf, cpuTimes, type Memory, memoryOf } from "./procfs.ts";

const SERVE = new URL("./serve.ts", import.meta.url).pathname;
const CONFIG = new URL("../deno.json", import.meta.url).pathname;

/** The bearer key benchmark bridges accept. */
export const BENCH_KEY = "bench-key";

/** What `GET /bench/state` reports. */
export interface BridgeState {
  /** The warm pool, or `null` without one. */
  pool: PoolStatus | null;
  /** Requests served so far, by engine path. */
  paths: Record<RunPath, number>;
  /** Parked and running sessions. */
  sessions: { idle: number; suspended: number; maxIdle: number; running: number };
}

/** The Deno cache this process uses, so a bridge started with another `HOME` still finds its modules. */
function denoDir(): string {
  const env = Deno.env.toObject();
  return env.DENO_DIR ?? `${env.XDG_CACHE_HOME ?? `${env.HOME}/.cache`}/deno`;
}

/** A benchmark bridge ({@link ./serve.ts}): the shared bridge process, plus its state, CPU and memory. */
export class BenchBridge extends BridgeProcess {
  /**
   * Starts the bridge with `env` (on top of this process's environment) and
   * waits until it listens. `env.BENCH_SERVER=plain` serves with a plain
   * `Deno.serve` instead of the guarded server (a diagnostic).
   */
  static async launch(env: Record<string, string>): Promise<BenchBridge> {
    const bridge = new BenchBridge({
      script: SERVE,
      flags: ["-A", "--quiet", `--config=${CONFIG}`],
      env: { API_KEYS: BENCH_KEY, LOG_LEVEL: "warn", DENO_DIR: denoDir(), ...env },
      stderr: "inherit",
      // serve.ts prints `{"port": N}` once listening.
      urlFrom: (line) => {
        const port = line.startsWith('{"port":') ? JSON.parse(line).port : undefined;
        return port === undefined ? undefined : `http://127.0.0.1:${port}`;
      },
    });
    own(bridge.child, true);
    try {
      await bridge.listening();
    } catch (error) {
      await bridge[Symbol.asyncDispose]();
      throw error;
    }
    return bridge;
  }

  /** The pool, the paths taken and the sessions, from `GET /bench/state`. */
  async state(): Promise<BridgeState> {
    return await (await fetch(`${this.url}/bench/state`)).json();
  }

  /** Waits until the pool has `count` ready processes for `model`. */
  async poolReady(model: string, count = 1, timeoutMs = 60_000): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while ((await this.state()).pool?.models[model]?.ready !== count) {
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

  /** CPU time (user + system, ms) the bridge process has used so far, and its exited children. */
  cpuTimes(): Promise<{ self: number; children: number }> {
    return cpuTimes(this.pid);
  }

  /** The pids of the CLI processes the bridge runs now (its children started with `--print`). */
  async cliPids(): Promise<number[]> {
    const pids: number[] = [];
    for (const pid of await childrenOf(this.pid)) {
      if ((await commandOf(pid)).includes("--print")) pids.push(pid);
    }
    return pids;
  }
}
