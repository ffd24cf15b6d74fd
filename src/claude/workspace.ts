/**
 * Per-run directories. Every CLI process gets its own run directory under
 * the workspace root, removed when the run ends:
 *
 * ```
 * <root>/run-<agent>-<16 hex digits>/   mode 0700
 *   .lock      held (exclusive flock) by the bridge while the run lives
 *   work/      the CLI's working directory: a copy of the agent's template
 *   private/   mode 0700: the run's session files, outside the CLI's reach
 * ```
 *
 * The name pattern ({@linkcode RUN_DIRECTORY_PATTERN}) is what lets a bridge
 * recognise directories it made: on start, {@linkcode sweepWorkspaces}
 * removes those that a crash left behind, and only those: the name must
 * match, the directory must be ours (same owner as a file we create there)
 * and its lock must be free (a live bridge holds the lock of each run it
 * serves, and the kernel drops it when that bridge dies, even by SIGKILL).
 * A run directory is made under a hidden name and renamed only once its lock
 * is held, so a sweep never sees a live directory unlocked.
 *
 * @module
 */
import type { Agent } from "./agents.ts";

/**
 * The names of run directories: `run-`, the agent's name (characters other
 * than letters, digits, `.`, `_` and `-` replaced by `_`, at most 64), `-`
 * and 16 lowercase hex digits.
 */
export const RUN_DIRECTORY_PATTERN = /^run-[A-Za-z0-9._-]{1,64}-[0-9a-f]{16}$/;

const LOCK_FILE = ".lock";

/** 16 random lowercase hex digits. */
function randomHex(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** `name` reduced to the characters a run directory's name allows. */
function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 64) || "_";
}

/** Copies a directory tree (files and folders; symlinks are skipped). */
async function copyTree(from: string, to: string): Promise<void> {
  for await (const entry of Deno.readDir(from)) {
    const source = `${from}/${entry.name}`;
    const target = `${to}/${entry.name}`;
    if (entry.isDirectory) {
      await Deno.mkdir(target);
      await copyTree(source, target);
    } else if (entry.isFile) {
      await Deno.copyFile(source, target);
    }
  }
}

/**
 * One run's directory (see the module comment for its layout). Remove it
 * with {@linkcode Workspace.remove} or `await using`.
 */
export class Workspace implements AsyncDisposable {
  /** Absolute path of the run directory. */
  readonly path: string;
  /** The CLI's working directory (`<path>/work`), filled from the agent's template. */
  readonly workDir: string;
  /** Private files of the run such as session files (`<path>/private`, mode 0700). */
  readonly privateDir: string;
  /** {@linkcode workDir} with every symlink resolved: the root confinement checks against. */
  readonly realWorkDir: string;
  #lock: Deno.FsFile;
  #removed: Promise<void> | undefined;

  private constructor(path: string, realWorkDir: string, lock: Deno.FsFile) {
    this.path = path;
    this.workDir = `${path}/work`;
    this.privateDir = `${path}/private`;
    this.realWorkDir = realWorkDir;
    this.#lock = lock;
  }

  /**
   * Makes a fresh run directory under `root` (created if missing) for
   * `agent`, with `work/` copied from its template if it has one.
   *
   * @throws the file system's error when the directory cannot be made or
   *   filled; nothing is left behind then.
   */
  static async create(root: string, agent: Pick<Agent, "name" | "template">): Promise<Workspace> {
    await Deno.mkdir(root, { recursive: true });
    const name = `run-${safeName(agent.name)}-${randomHex()}`;
    // Made under a hidden name and locked first, so that a sweep never takes it for a leftover.
    const staging = `${root}/.${name}`;
    await Deno.mkdir(staging, { mode: 0o700 });
    let lock: Deno.FsFile | undefined;
    let path = staging;
    try {
      lock = await Deno.open(`${staging}/${LOCK_FILE}`, { write: true, createNew: true });
      await lock.lock(true);
      path = `${root}/${name}`;
      await Deno.rename(staging, path);
      await Deno.chmod(path, 0o700);
      await Deno.mkdir(`${path}/work`);
      await Deno.mkdir(`${path}/private`, { mode: 0o700 });
      await Deno.chmod(`${path}/private`, 0o700);
      if (agent.template) await copyTree(agent.template, `${path}/work`);
      return new Workspace(path, await Deno.realPath(`${path}/work`), lock);
    } catch (error) {
      await Deno.remove(path, { recursive: true }).catch(() => {});
      lock?.close();
      throw error;
    }
  }

  /** Removes the run directory and everything in it, then lets go of its lock; never throws. */
  remove(): Promise<void> {
    this.#removed ??= (async () => {
      await Deno.remove(this.path, { recursive: true }).catch(() => {});
      try {
        this.#lock.close();
      } catch {
        // Already closed.
      }
    })();
    return this.#removed;
  }

  /** Same as {@linkcode Workspace.remove}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.remove();
  }
}

/** Options for {@linkcode sweepWorkspaces}. */
export interface SweepOptions {
  /**
   * The owner a leftover must have. Default: the owner of a file this
   * process creates in `root` (which needs no permission beyond `root`).
   */
  uid?: number;
}

/** The owner of a file this process creates in `root`. */
async function ownUid(root: string): Promise<number | null> {
  const probe = await Deno.makeTempFile({ dir: root, prefix: ".uid-probe-" });
  try {
    return (await Deno.lstat(probe)).uid;
  } finally {
    await Deno.remove(probe).catch(() => {});
  }
}

/**
 * True when a live process holds the lock of the run directory `path`, or
 * may be about to: a hidden (still being made) directory without its lock
 * file yet counts as locked.
 */
async function isLocked(path: string, hidden: boolean): Promise<boolean> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(`${path}/${LOCK_FILE}`, { read: true });
  } catch {
    return hidden;
  }
  try {
    return !(await file.tryLock(true));
  } finally {
    file.close();
  }
}

/**
 * Removes the run directories a crashed bridge left in `root`: directories
 * (not symlinks) named like {@linkcode RUN_DIRECTORY_PATTERN} (or that name
 * with a leading `.`, a run directory still being made when the bridge
 * died, if its lock file exists), owned by this process's user, whose lock
 * no live process holds. Nothing else in `root` is touched. A missing
 * `root` has nothing to sweep.
 *
 * @returns the paths removed, for the log.
 * @throws {Error} naming `root` when it exists but cannot be read or written.
 */
export async function sweepWorkspaces(root: string, options: SweepOptions = {}): Promise<string[]> {
  let entries: Deno.DirEntry[];
  let uid: number | null;
  try {
    entries = await Array.fromAsync(Deno.readDir(root));
    uid = options.uid ?? await ownUid(root);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw new Error(
      `Cannot sweep the workspace root ${root} (${
        error instanceof Error ? error.message : error
      }): make WORKSPACE_ROOT a directory this user can read and write, and start the bridge ` +
        `with --allow-read and --allow-write for it.`,
      { cause: error },
    );
  }
  const removed: string[] = [];
  for (const entry of entries) {
    const hidden = entry.name.startsWith(".");
    const name = hidden ? entry.name.slice(1) : entry.name;
    if (!entry.isDirectory || !RUN_DIRECTORY_PATTERN.test(name)) continue;
    const path = `${root}/${entry.name}`;
    const info = await Deno.lstat(path).catch(() => undefined);
    if (!info?.isDirectory || info.uid === null || info.uid !== uid) continue;
    if (await isLocked(path, hidden)) continue;
    try {
      await Deno.remove(path, { recursive: true });
      removed.push(path);
    } catch {
      // Gone already, or not ours to remove after all.
    }
  }
  return removed;
}
