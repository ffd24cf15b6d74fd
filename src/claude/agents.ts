/**
 * Agents are defined in files: `agents/<name>/agent.json` sets the CLI's tools,
 * permission mode, turn limit and system prompt; an optional
 * `agents/<name>/workspace/` directory is the template copied into every run's
 * fresh working directory.
 *
 * @module
 */
import { z } from "zod";
import { describeIssues } from "../openai/chat_request.ts";

/** The schema of `agent.json`. */
export const agentFileSchema = z.object({
  description: z.string().default(""),
  systemPrompt: z.string().min(1).optional().describe(
    "Replaces Claude Code's own system prompt (`--system-prompt`).",
  ),
  tools: z.array(z.string().min(1)).default([]).describe(
    "Built-in tools available to the agent (`--tools`); [] means none.",
  ),
  allowedTools: z.array(z.string().min(1)).default([]).describe(
    "Tool rules that run without asking (`--allowedTools`), e.g. `Edit` or `Bash(git status)`.",
  ),
  permissionMode: z.enum(["default", "acceptEdits", "plan", "dontAsk", "bypassPermissions"])
    .default("default"),
  maxTurns: z.number().int().min(1).optional(),
}).strict();

/** One loaded agent. */
export interface Agent {
  name: string;
  /** Template directory copied into each run's working directory, if the agent has one. */
  template?: string;
  settings: z.output<typeof agentFileSchema>;
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch {
    return false;
  }
}

/**
 * Loads one agent from `<dir>/<name>/`.
 *
 * @throws {TypeError} when `agent.json` is missing or invalid, naming the file.
 */
export async function loadAgent(dir: string, name: string): Promise<Agent> {
  const file = `${dir}/${name}/agent.json`;
  let raw: unknown;
  try {
    raw = JSON.parse(await Deno.readTextFile(file));
  } catch (error) {
    throw new TypeError(
      `Agent "${name}": cannot read ${file} (${
        error instanceof Error ? error.message : error
      }); create it or fix AGENTS_DIR.`,
    );
  }
  const parsed = agentFileSchema.safeParse(raw);
  if (!parsed.success) {
    throw new TypeError(`Agent "${name}": ${file} is invalid: ${describeIssues(parsed.error)}.`);
  }
  const template = `${dir}/${name}/workspace`;
  return {
    name,
    settings: parsed.data,
    ...(await isDirectory(template) ? { template } : {}),
  };
}

/**
 * Loads every agent directory under `dir` that has an `agent.json`.
 *
 * @throws {TypeError} when `dir` cannot be read or an agent is invalid.
 */
export async function loadAgents(dir: string): Promise<Map<string, Agent>> {
  const agents = new Map<string, Agent>();
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(dir));
  } catch (error) {
    throw new TypeError(
      `Cannot read the agents directory ${dir} (${
        error instanceof Error ? error.message : error
      }); set AGENTS_DIR to a directory of agents.`,
    );
  }
  for (const entry of entries) {
    if (!entry.isDirectory) continue;
    try {
      await Deno.stat(`${dir}/${entry.name}/agent.json`);
    } catch {
      continue;
    }
    agents.set(entry.name, await loadAgent(dir, entry.name));
  }
  return agents;
}
