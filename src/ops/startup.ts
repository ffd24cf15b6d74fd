/**
 * Start-up checks: what the configuration names must be usable before the
 * bridge reports itself listening, and a failure names the variable, the
 * actual cause and the fix (usually a permission flag of `deno task start`).
 *
 * - `WORKSPACE_ROOT` must be a directory the bridge may and can work in (it
 *   is made if missing, and a trial workspace is made and removed in it).
 * - `AGENTS_DIR` must be a directory the bridge may read.
 * - Listening on `HOST:PORT`: a missing `--allow-net` host, a port in use or
 *   an address the machine does not have each get their own message.
 *
 * @module
 */

/** A start-up problem; its message says what to change. The process exits 1 with it. */
export class StartupError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "StartupError";
  }
}

/** Where the permission flags live. */
const IN_DENO_JSON =
  "in deno.json (the flags of `deno task start`; `deno task compile` and the Dockerfile carry the same ones, see the README's Permissions)";

function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Makes a directory in `root` and removes it again. */
async function makeAndRemove(root: string): Promise<void> {
  const trial = await Deno.makeTempDir({ dir: root, prefix: ".startup-check-" });
  await Deno.remove(trial);
}

/**
 * Checks that `root` (`WORKSPACE_ROOT`) is a directory runs can work in,
 * making it if it is missing. `trial` does there what a run does (make a
 * workspace and remove it); by default a directory is made and removed.
 *
 * @throws {StartupError} naming WORKSPACE_ROOT, the cause and the fix.
 */
export async function checkWorkspaceRoot(
  root: string,
  trial: (root: string) => Promise<void> = makeAndRemove,
): Promise<void> {
  const problem = (cause: string, fix: string, error: unknown) =>
    new StartupError(`WORKSPACE_ROOT="${root}" ${cause}: ${fix}.`, { cause: error });
  try {
    await Deno.mkdir(root, { recursive: true });
    await trial(root);
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) {
      const kind = /requires (read|write) access/i.exec(error.message)?.[1]?.toLowerCase() ??
        "write";
      throw problem(
        `is outside the bridge's ${kind} permission`,
        `add it to --allow-${kind} ${IN_DENO_JSON}, or point WORKSPACE_ROOT at a directory it allows`,
        error,
      );
    }
    if (error instanceof Deno.errors.PermissionDenied) {
      throw problem(
        "is not writable by the user the bridge runs as",
        "make it writable (chown or chmod), or point WORKSPACE_ROOT at a directory that is",
        error,
      );
    }
    if (
      error instanceof Deno.errors.AlreadyExists || error instanceof Deno.errors.NotADirectory
    ) {
      throw problem(
        "is not a directory",
        "point WORKSPACE_ROOT at a directory (it is made if missing)",
        error,
      );
    }
    throw problem(`cannot be used (${reason(error)})`, "point WORKSPACE_ROOT elsewhere", error);
  }
}

/**
 * Checks that `dir` (`AGENTS_DIR`) is a directory the bridge may read.
 *
 * @throws {StartupError} naming AGENTS_DIR, the cause and the fix.
 */
export async function checkAgentsDir(dir: string): Promise<void> {
  try {
    for await (const _ of Deno.readDir(dir)) break;
  } catch (error) {
    const cause = error instanceof Deno.errors.NotCapable
      ? `is outside the bridge's read permission: add it to --allow-read ${IN_DENO_JSON}`
      : error instanceof Deno.errors.NotFound
      ? "does not exist: set AGENTS_DIR to a directory of agents (each `<name>/agent.json`)"
      : error instanceof Deno.errors.NotADirectory
      ? "is not a directory: set AGENTS_DIR to a directory of agents (each `<name>/agent.json`)"
      : error instanceof Deno.errors.PermissionDenied
      ? "is not readable by the user the bridge runs as: fix its owner or mode"
      : `cannot be read (${reason(error)}): set AGENTS_DIR to a readable directory of agents`;
    throw new StartupError(`AGENTS_DIR="${dir}" ${cause}.`, { cause: error });
  }
}

/** `host` as `--allow-net` spells it (IPv6 addresses in brackets). */
function netHost(host: string): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}

/**
 * Turns a failure to listen on `host:port` into a message naming HOST or
 * PORT and the fix. Anything else is returned unchanged.
 */
export function listenError(error: unknown, host: string, port: number): unknown {
  if (error instanceof Deno.errors.NotCapable && error.message.includes(netHost(host))) {
    return new StartupError(
      `HOST="${host}" is outside the bridge's net permission: add ${
        netHost(host)
      } to --allow-net ${IN_DENO_JSON}, or set HOST to an address it allows. (Deno: ${error.message}.)`,
      { cause: error },
    );
  }
  if (error instanceof Deno.errors.NotCapable) {
    return new StartupError(`${error.message}; the flags are ${IN_DENO_JSON}.`, { cause: error });
  }
  if (error instanceof Deno.errors.AddrInUse) {
    return new StartupError(
      `PORT=${port} is already in use on ${host}: stop what listens there, or set PORT to a free port.`,
      { cause: error },
    );
  }
  if (error instanceof Deno.errors.AddrNotAvailable) {
    return new StartupError(
      `HOST="${host}" is not an address of this machine: set HOST to one of its addresses (or 0.0.0.0 for all).`,
      { cause: error },
    );
  }
  return error;
}
