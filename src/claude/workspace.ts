/**
 * Per-run working directories: a fresh temporary directory under the
 * workspace root, filled from the agent's template, removed afterwards.
 *
 * @module
 */
import type { Agent } from "./agents.ts";

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

/** A temporary working directory that removes itself when disposed. */
export class Workspace implements AsyncDisposable {
  /** Absolute path of the directory. */
  readonly path: string;

  private constructor(path: string) {
    this.path = path;
  }

  /** Makes a fresh directory under `root` for `agent`, copied from its template if it has one. */
  static async create(root: string, agent: Agent): Promise<Workspace> {
    await Deno.mkdir(root, { recursive: true });
    const path = await Deno.makeTempDir({ dir: root, prefix: `${agent.name}-` });
    const workspace = new Workspace(path);
    try {
      if (agent.template) await copyTree(agent.template, path);
    } catch (error) {
      await workspace.remove();
      throw error;
    }
    return workspace;
  }

  /** Removes the directory and everything in it; never throws. */
  async remove(): Promise<void> {
    await Deno.remove(this.path, { recursive: true }).catch(() => {});
  }

  /** Same as {@linkcode Workspace.remove}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.remove();
  }
}
