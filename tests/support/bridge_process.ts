/**
 * The bridge as a real child process (`main.ts` by default, or another entry
 * such as the benchmark's `bench/serve.ts`): its stdout read line by line
 * (always, so the bridge never blocks on a full pipe), its stderr collected
 * or inherited, its base URL taken from the line that announces it, and
 * waits that resolve on events (a new line, the exit), never by polling.
 *
 * @example
 * ```ts
 * await using bridge = new BridgeProcess({ env: { API_KEYS: "k" } });
 * const url = await bridge.listening();
 * const line = await bridge.line(/"msg":"request"/);
 * ```
 * @module
 */

/** `main.ts` at the repository root. */
export const MAIN = new URL("../../main.ts", import.meta.url).pathname;
/** The repository root. */
export const ROOT = new URL("../..", import.meta.url).pathname;

/** What a test changes in the start task's permission lists. */
export interface StartTaskChanges {
  /** Runs this binary instead of `claude` (e.g. the stand-in CLI). */
  claude?: string;
  /** Added to `--allow-read`. */
  read?: string[];
  /** Added to `--allow-write`. */
  write?: string[];
  /** Added to `--allow-run`. */
  run?: string[];
}

/**
 * The permission flags of `deno task start`, read from deno.json, with
 * `changes` applied to their lists: what the bridge runs with when started
 * the way the README says.
 */
export async function startTaskFlags(changes: StartTaskChanges = {}): Promise<string[]> {
  const { tasks } = JSON.parse(await Deno.readTextFile(`${ROOT}/deno.json`));
  const added: Record<string, string[] | undefined> = {
    "--allow-read": changes.read,
    "--allow-write": changes.write,
    "--allow-run": changes.run,
  };
  return (tasks.start as string).split(/\s+/).filter((word) => word.startsWith("--allow-"))
    .map((flag) => {
      const [name, list] = flag.split("=", 2) as [string, string | undefined];
      if (list === undefined) return flag;
      let items = list.split(",");
      if (name === "--allow-run" && changes.claude) {
        items = items.map((item) => item === "claude" ? changes.claude! : item);
      }
      items.push(...(added[name] ?? []).filter((item) => !items.includes(item)));
      return `${name}=${items.join(",")}`;
    });
}

/** How to start a bridge process. */
export interface BridgeProcessOptions {
  /** The entry point (default {@linkcode MAIN}). */
  script?: string;
  /** `deno run` flags before the script (default `["-A"]`). */
  flags?: string[];
  /** Environment variables, added to this process's unless `clearEnv`. */
  env?: Record<string, string>;
  /** Start from an empty environment (default false). */
  clearEnv?: boolean;
  /** Working directory (default: the repository root). */
  cwd?: string;
  /** Collect stderr (default) or let it through to the test's own. */
  stderr?: "piped" | "inherit";
  /** The signal that stops it on dispose (default SIGTERM). */
  stopSignal?: Deno.Signal;
  /**
   * The base URL announced by a stdout line, if it is that line (default:
   * the `url` of the `"msg":"listening"` log line).
   */
  urlFrom?: (line: string) => string | undefined;
}

/** The `url` of the bridge's `listening` log line. */
export function listeningUrl(line: string): string | undefined {
  if (!line.includes('"msg":"listening"')) return undefined;
  return JSON.parse(line).url;
}

/** A bridge child process; see the module documentation. */
export class BridgeProcess implements AsyncDisposable {
  readonly child: Deno.ChildProcess;
  readonly pid: number;
  /** Every complete stdout line so far. */
  readonly stdout: string[] = [];
  /** All of stderr once the process ends ("" when inherited). */
  readonly stderr: Promise<string>;
  /** The exit status. */
  readonly status: Promise<Deno.CommandStatus>;
  #options: BridgeProcessOptions;
  #url = Promise.withResolvers<string>();
  #resolvedUrl: string | undefined;
  #waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  #ended = Promise.withResolvers<void>();
  #reading: Promise<void>;

  /** Starts the process; see {@linkcode BridgeProcess.start} to also wait until it listens. */
  constructor(options: BridgeProcessOptions = {}) {
    this.#options = options;
    this.child = new Deno.Command(Deno.execPath(), {
      args: ["run", ...(options.flags ?? ["-A"]), options.script ?? MAIN],
      cwd: options.cwd ?? ROOT,
      env: options.env,
      clearEnv: options.clearEnv ?? false,
      stdin: "null",
      stdout: "piped",
      stderr: options.stderr ?? "piped",
    }).spawn();
    this.pid = this.child.pid;
    this.status = this.child.status;
    this.stderr = options.stderr === "inherit"
      ? Promise.resolve("")
      : new Response(this.child.stderr).text();
    this.#url.promise.catch(() => {}); // read by listening(); never an unhandled rejection
    this.#reading = this.#read();
  }

  /** Starts the process and waits until it listens. */
  static async start(options: BridgeProcessOptions = {}): Promise<BridgeProcess> {
    const bridge = new BridgeProcess(options);
    await bridge.listening();
    return bridge;
  }

  async #read(): Promise<void> {
    const urlFrom = this.#options.urlFrom ?? listeningUrl;
    let buffer = "";
    for await (const chunk of this.child.stdout.pipeThrough(new TextDecoderStream())) {
      const lines = (buffer + chunk).split("\n");
      buffer = lines.pop()!;
      for (const line of lines) {
        this.stdout.push(line);
        if (this.#resolvedUrl === undefined) {
          const url = urlFrom(line);
          if (url !== undefined) {
            this.#resolvedUrl = url;
            this.#url.resolve(url);
          }
        }
        for (const waiter of [...this.#waiters]) {
          if (waiter.pattern.test(line)) {
            this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
            waiter.resolve(line);
          }
        }
      }
    }
    this.#url.reject(
      new Error(`the bridge ended before listening; stdout:\n${this.stdout.join("\n")}`),
    );
    this.#ended.resolve();
  }

  /** The base URL, once the bridge announced it (rejects if it ends first). */
  listening(): Promise<string> {
    return this.#url.promise;
  }

  /** The base URL; only after {@linkcode BridgeProcess.listening} resolved. */
  get url(): string {
    if (this.#resolvedUrl === undefined) throw new Error("the bridge is not listening yet");
    return this.#resolvedUrl;
  }

  /** The first stdout line matching `pattern`, waiting up to `ms` (default 10 s) or until stdout ends. */
  line(pattern: RegExp, ms = 10_000): Promise<string> {
    const found = this.stdout.find((line) => pattern.test(line));
    if (found !== undefined) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const fail = (why: string) => {
        const at = this.#waiters.indexOf(waiter);
        if (at < 0) return;
        this.#waiters.splice(at, 1);
        clearTimeout(timer);
        reject(
          new Error(
            `no stdout line matched ${pattern} (${why}); stdout:\n${this.stdout.join("\n")}`,
          ),
        );
      };
      const waiter = {
        pattern,
        resolve: (line: string) => (clearTimeout(timer), resolve(line)),
      };
      const timer = setTimeout(() => fail(`waited ${ms} ms`), ms);
      this.#waiters.push(waiter);
      void this.#ended.promise.then(() => fail("stdout ended"));
    });
  }

  /** Sends `signal`, if the process still runs. */
  kill(signal: Deno.Signal = "SIGTERM"): void {
    try {
      this.child.kill(signal);
    } catch {
      // Already exited.
    }
  }

  /** Stops the process (with the stop signal) and waits until it and its output are done. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.kill(this.#options.stopSignal ?? "SIGTERM");
    await this.status;
    await this.#reading;
    await this.stderr;
  }
}
