/**
 * Readiness: is the Claude Code CLI there and answering `--version`, and what
 * do the other parts (the warm pool, shutdown) say about themselves.
 *
 * The CLI probe is cached (30 s after success, 5 s after a failure) and
 * shared by concurrent callers, so `/readyz` stays cheap however often a load
 * balancer asks.
 *
 * @module
 */

/** What the CLI probe found. */
export interface CliStatus {
  /** True when `CLAUDE_BIN --version` exited 0. */
  ok: boolean;
  /** The binary probed (`CLAUDE_BIN`). */
  bin: string;
  /** The version it printed, e.g. `2.1.197`. */
  version?: string;
  /** Why the probe failed. */
  error?: string;
  /** When the probe ran (ISO 8601). */
  checked_at: string;
}

/** Options for {@linkcode CliProbe}. */
export interface CliProbeOptions {
  /** How long a successful probe is reused, in ms (default 30 000). */
  okTtlMs?: number;
  /** How long a failed probe is reused, in ms (default 5000). */
  failTtlMs?: number;
  /** Longest a probe may take before it counts as failed, in ms (default 10 000). */
  timeoutMs?: number;
  /** Told when a probe's outcome differs from the previous one (and after the first). */
  onChange?: (status: CliStatus) => void;
}

/** Runs `CLAUDE_BIN --version`, at most once per cache period. */
export class CliProbe {
  #bin: string;
  #options: Required<Omit<CliProbeOptions, "onChange">>;
  #onChange: ((status: CliStatus) => void) | undefined;
  #cached: { status: CliStatus; expires: number } | undefined;
  #running: Promise<CliStatus> | undefined;

  /** @param bin the CLI binary (`CLAUDE_BIN`). */
  constructor(bin: string, options: CliProbeOptions = {}) {
    this.#bin = bin;
    const { onChange, ...timing } = options;
    this.#options = { okTtlMs: 30_000, failTtlMs: 5000, timeoutMs: 10_000, ...timing };
    this.#onChange = onChange;
  }

  /** The cached status, or a fresh probe when the cache has expired. */
  status(): Promise<CliStatus> {
    if (this.#cached && performance.now() < this.#cached.expires) {
      return Promise.resolve(this.#cached.status);
    }
    this.#running ??= this.#probe().then((status) => {
      const ttl = status.ok ? this.#options.okTtlMs : this.#options.failTtlMs;
      const changed = this.#cached?.status.ok !== status.ok;
      this.#cached = { status, expires: performance.now() + ttl };
      if (changed) this.#onChange?.(status);
      this.#running = undefined;
      return status;
    });
    return this.#running;
  }

  async #probe(): Promise<CliStatus> {
    const checked_at = new Date().toISOString();
    const base = { bin: this.#bin, checked_at };
    try {
      const output = await new Deno.Command(this.#bin, {
        args: ["--version"],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        signal: AbortSignal.timeout(this.#options.timeoutMs),
      }).output();
      const text = new TextDecoder().decode(output.stdout).trim();
      if (!output.success) {
        const stderr = new TextDecoder().decode(output.stderr).trim().slice(0, 500);
        return {
          ...base,
          ok: false,
          error: `"${this.#bin} --version" exited with code ${output.code}${
            stderr ? `: ${stderr}` : ""
          }`,
        };
      }
      return { ...base, ok: true, version: text.split(/\s+/)[0] || text };
    } catch (error) {
      const reason = error instanceof Deno.errors.NotFound
        ? "was not found; install it or set CLAUDE_BIN to its path"
        : error instanceof Deno.errors.NotCapable
        ? `is outside the bridge's --allow-run permission: add it to --allow-run (\`deno task start\` allows only "claude"; its flags are in deno.json), or set CLAUDE_BIN to a CLI the bridge may run`
        : error instanceof Deno.errors.PermissionDenied
        ? "is not executable"
        : `could not be run (${error instanceof Error ? error.message : String(error)})`;
      return { ...base, ok: false, error: `The Claude Code CLI "${this.#bin}" ${reason}.` };
    }
  }
}

/** A part of the server reporting on itself; `ready: false` makes the whole server not ready. */
export type ComponentStatus = { ready?: boolean } & Record<string, unknown>;

/** The `/readyz` answer. */
export interface ReadinessReport {
  ready: boolean;
  body: { status: "ready" | "not ready"; cli: CliStatus } & Record<string, unknown>;
}

/** Combines the CLI probe with components that report their own state. */
export class Readiness {
  #probe: CliProbe;
  #components = new Map<string, () => ComponentStatus>();

  /** @param probe the CLI probe. */
  constructor(probe: CliProbe) {
    this.#probe = probe;
  }

  /**
   * Adds a component (e.g. `"pool"` with the warm pool's status) to the
   * report. Its `status` is called on every `/readyz`, so it must be cheap.
   */
  add(name: string, status: () => ComponentStatus): void {
    this.#components.set(name, status);
  }

  /** Probes (or reuses the cached probe) and asks every component. */
  async report(): Promise<ReadinessReport> {
    const cli = await this.#probe.status();
    let ready = cli.ok;
    const sections: Record<string, unknown> = {};
    for (const [name, status] of this.#components) {
      try {
        const section = status();
        if (section.ready === false) ready = false;
        sections[name] = section;
      } catch (error) {
        ready = false;
        sections[name] = {
          ready: false,
          error: error instanceof Error ? error.message : String(error),
        };
      }
    }
    return { ready, body: { status: ready ? "ready" : "not ready", cli, ...sections } };
  }
}
