/**
 * A process-group reaper: one long-lived `sh` per bridge that signals whole
 * process groups for it, and kills every group it was told about once the
 * bridge is gone, even when the bridge was SIGKILLed.
 *
 * Why a shell: each CLI child leads its own process group (it is spawned
 * detached), and the tools it runs (`rg` for Grep and Glob) join that group.
 * Signalling a group needs `kill(-pgid)`, which Deno allows only with
 * unrestricted `--allow-run`; `ChildProcess.kill()` reaches the child alone.
 * With `--allow-run=claude,sh` the bridge may run `sh`, and a POSIX shell's
 * `kill -s TERM -- -PGID` signals a group. The shell runs one fixed script
 * ({@linkcode REAPER_SCRIPT}); the bridge only ever writes lines of the form
 * `add|del|TERM|KILL <pgid>` to its stdin, and the script ignores anything
 * else, signals only groups that were added, and never group 0 or 1.
 *
 * The reaper is itself spawned detached (its own session and group), so a
 * Ctrl-C meant for the bridge does not reach it. When its stdin reaches EOF,
 * which happens when the bridge closes it or dies in any way, it sends
 * SIGTERM to every group still registered, and SIGKILL a second later to
 * whatever is left, then exits.
 *
 * When `sh` may not be run (no permission, not installed, not a Unix), the
 * reaper reports itself unavailable and every method is a harmless no-op
 * returning `false`: callers then signal only their direct child.
 *
 * @module
 */

/** The signals the reaper sends to a group on request. */
export type GroupSignal = "SIGTERM" | "SIGKILL";

/**
 * The POSIX-sh script the reaper runs (`sh -c REAPER_SCRIPT`). It reads lines
 * `add PGID`, `del PGID`, `TERM PGID`, `KILL PGID` from stdin; a PGID is 2 to
 * 7 digits without a leading zero (Linux pids stay below 2^22), and TERM/KILL
 * act only on added groups. Any other line is ignored. On EOF (or a SIGTERM
 * to the reaper itself) every added group gets SIGTERM, and if one is still
 * there, SIGKILL after one second; then the script exits. SIGINT and SIGHUP
 * are ignored: only the bridge going away ends it.
 */
export const REAPER_SCRIPT = `
groups=' '
reap() {
  trap '' TERM
  for g in $groups; do kill -s TERM -- "-$g" 2>/dev/null; done
  for g in $groups; do
    if kill -s 0 -- "-$g" 2>/dev/null; then
      sleep 1
      for g in $groups; do kill -s KILL -- "-$g" 2>/dev/null; done
      break
    fi
  done
  exit 0
}
trap '' INT HUP
trap reap TERM
while read -r cmd pgid rest; do
  case $pgid in ''|0*|*[!0-9]*|????????*) continue ;; esac
  [ -z "$rest" ] && [ "$pgid" -gt 1 ] || continue
  case $cmd in
    add) case $groups in *" $pgid "*) ;; *) groups="$groups$pgid " ;; esac ;;
    del)
      kept=' '
      for g in $groups; do [ "$g" = "$pgid" ] || kept="$kept$g "; done
      groups=$kept ;;
    TERM|KILL) case $groups in *" $pgid "*) kill -s "$cmd" -- "-$pgid" 2>/dev/null ;; esac ;;
  esac
done
reap
`;

/** Options for {@linkcode ProcessGroupReaper.start}. */
export interface ReaperOptions {
  /** The shell to run; default `sh` (found on `PATH`, as `--allow-run=sh` expects). */
  shell?: string;
}

const encoder = new TextEncoder();

/** True for a pid that may name a process group here: an integer from 2 to 2^22. */
function isGroupId(pgid: number): boolean {
  return Number.isInteger(pgid) && pgid > 1 && pgid < 10_000_000;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Signals whole process groups through one long-lived `sh`, and kills every
 * watched group when the bridge goes away. Create one per bridge with
 * {@linkcode ProcessGroupReaper.start}; no method ever throws.
 *
 * @example
 * ```ts
 * const reaper = ProcessGroupReaper.start();
 * const child = new Deno.Command("claude", { detached: true }).spawn();
 * reaper.watch(child.pid);
 * // stopping: the group, or the child alone when the reaper is unavailable
 * if (!reaper.signal(child.pid, "SIGTERM")) child.kill("SIGTERM");
 * await child.status;
 * reaper.signal(child.pid, "SIGKILL"); // whatever the child left behind
 * reaper.forget(child.pid);
 * ```
 */
export class ProcessGroupReaper implements AsyncDisposable {
  #child: Deno.ChildProcess | undefined;
  #stdin: WritableStreamDefaultWriter<Uint8Array> | undefined;
  #exited: Promise<void>;
  #unavailable: string | undefined;
  #watched = new Set<number>();
  /** The last command's write: writes complete in order, so this one settles last. */
  #lastWrite: Promise<unknown> = Promise.resolve();

  private constructor(options: ReaperOptions) {
    const shell = options.shell ?? "sh";
    try {
      if (Deno.build.os === "windows") throw new Error("process groups need a Unix system");
      const permission = Deno.permissions.querySync({ name: "run", command: shell });
      if (permission.state !== "granted") {
        throw new Error(
          `running "${shell}" is not allowed (start the bridge with --allow-run=…,sh)`,
        );
      }
      this.#child = new Deno.Command(shell, {
        args: ["-c", REAPER_SCRIPT],
        stdin: "piped",
        stdout: "null",
        stderr: "null",
        detached: true,
      }).spawn();
    } catch (error) {
      this.#unavailable = error instanceof Deno.errors.NotFound
        ? `"${shell}" was not found`
        : describe(error);
      this.#exited = Promise.resolve();
      return;
    }
    // The reaper must never keep the bridge alive: its job starts when the bridge ends.
    this.#child.unref();
    this.#stdin = this.#child.stdin.getWriter();
    this.#exited = this.#child.status.then((status) => {
      this.#unavailable ??= `the reaper exited (code ${status.code})`;
    });
  }

  /**
   * Starts the reaper's `sh`. Never throws: when `sh` cannot be run, the
   * returned reaper is unavailable and {@linkcode unavailableReason} says why.
   */
  static start(options: ReaperOptions = {}): ProcessGroupReaper {
    return new ProcessGroupReaper(options);
  }

  /** True while the reaper runs and takes commands. */
  get available(): boolean {
    return this.#unavailable === undefined;
  }

  /** Why the reaper is unavailable (e.g. no permission to run `sh`), or `undefined`. */
  get unavailableReason(): string | undefined {
    return this.#unavailable;
  }

  /** The reaper shell's process id, if it was started. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /**
   * Registers the process group `pgid` (a detached child's pid): it is
   * killed when the bridge goes away, and may be {@linkcode signal}led.
   * Returns `false` (and does nothing) when the reaper is unavailable or
   * `pgid` cannot be a process group (0, 1, negative, not an integer).
   */
  watch(pgid: number): boolean {
    if (!isGroupId(pgid) || !this.#send(`add ${pgid}\n`)) return false;
    this.#watched.add(pgid);
    return true;
  }

  /**
   * Sends `signal` to every process in the watched group `pgid`. Returns
   * `false` when the reaper is unavailable or `pgid` is not watched: the
   * caller should then signal its child directly. A `true` means the command
   * was handed over; the signal follows within milliseconds.
   */
  signal(pgid: number, signal: GroupSignal): boolean {
    if (!this.#watched.has(pgid)) return false;
    return this.#send(`${signal === "SIGKILL" ? "KILL" : "TERM"} ${pgid}\n`);
  }

  /**
   * Unregisters `pgid` (call it once the child has exited and its leftovers
   * were killed), so that a later process reusing the number is never touched.
   */
  forget(pgid: number): void {
    if (this.#watched.delete(pgid)) this.#send(`del ${pgid}\n`);
  }

  /**
   * Resolves once every command given so far is in the reaper's stdin pipe
   * (commands are written asynchronously, within milliseconds; a bridge
   * killed before that leaves that group unregistered). Never rejects.
   */
  async flush(): Promise<void> {
    await this.#lastWrite;
  }

  /**
   * Closes the reaper's stdin, which makes it SIGTERM every group still
   * watched (SIGKILL a second later if needed) and exit. Resolves once the
   * reaper has exited; never rejects.
   */
  async close(): Promise<void> {
    this.#watched.clear();
    this.#unavailable ??= "the reaper was closed";
    const stdin = this.#stdin;
    this.#stdin = undefined;
    if (stdin) {
      this.#child?.ref();
      await stdin.close().catch(() => {});
    }
    await this.#exited;
  }

  /** Same as {@linkcode close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #send(line: string): boolean {
    if (this.#unavailable !== undefined || !this.#stdin) return false;
    this.#lastWrite = this.#stdin.write(encoder.encode(line)).catch((error) => {
      this.#unavailable ??= `the reaper stopped taking commands (${describe(error)})`;
    });
    return true;
  }
}
