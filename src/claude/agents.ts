/**
 * Agents are defined in files: `agents/<name>/agent.json` sets the CLI's tools,
 * permission mode, turn limit and system prompt; an optional
 * `agents/<name>/workspace/` directory is the template copied into every run's
 * fresh working directory.
 *
 * Loading refuses an agent that could reach outside its run's workspace: a
 * run is confined by `--permission-mode acceptEdits` (or a stricter mode),
 * the CLI's working directory and no allow rules for file tools, plus the
 * bridge's PreToolUse check (`confinement.ts`). So `tools` may name only
 * tools that check can confine, `allowedTools` may name no file tool and no
 * `Bash`, and `permissionMode` may not be `bypassPermissions`.
 *
 * @module
 */
import { z } from "zod";
import { describeIssues } from "../http/validate.ts";
import { CLIENT_TOOL_PREFIX, FILE_TOOLS, isConfinable, PATHLESS_TOOLS } from "./confinement.ts";

/** The schema of `agent.json`. */
export const agentFileSchema = z.object({
  description: z.string().default(""),
  systemPrompt: z.string().min(1).optional().describe(
    "Replaces Claude Code's own system prompt (`--system-prompt`).",
  ),
  tools: z.array(z.string().min(1)).default([]).describe(
    "Built-in tools available to the agent (`--tools`); [] means none. Only tools the bridge can " +
      "confine to the run's workspace: file tools (Read, Write, Edit, Glob, Grep, …), the task " +
      "list tools and WebSearch.",
  ),
  allowedTools: z.array(z.string().min(1)).default([]).describe(
    "Tool rules that run without asking (`--allowedTools`). Never file tools or Bash: with " +
      "`acceptEdits`, file tools already work inside the run's workspace, and nowhere else.",
  ),
  permissionMode: z.enum(["default", "acceptEdits", "plan", "dontAsk", "bypassPermissions"])
    .default("default").describe("`--permission-mode`; `bypassPermissions` is refused."),
  maxTurns: z.number().int().min(1).optional(),
}).strict();

/** One loaded agent. */
export interface Agent {
  name: string;
  /** Template directory copied into each run's working directory, if the agent has one. */
  template?: string;
  settings: z.output<typeof agentFileSchema>;
}

/** Why each well-known tool cannot be confined to a run's workspace. */
const UNCONFINABLE: Readonly<Record<string, string>> = {
  bash: "runs any command on the host, outside any workspace",
  default: 'means every built-in tool, "Bash" and "WebFetch" included',
  webfetch:
    "fetches any URL the bridge's host can reach (loopback services and cloud metadata included)",
  agent: "starts subagents, whose tool calls this check does not see",
  task: "starts subagents, whose tool calls this check does not see",
};

/** Splits `--allowedTools`/`--tools` entries into single rules (commas and spaces outside parentheses). */
function splitRules(entries: string[]): string[] {
  const rules: string[] = [];
  for (const entry of entries) {
    let depth = 0;
    let rule = "";
    for (const char of entry) {
      if (char === "(") depth++;
      if (char === ")") depth = Math.max(0, depth - 1);
      if (depth === 0 && (char === "," || /\s/.test(char))) {
        if (rule !== "") rules.push(rule);
        rule = "";
      } else {
        rule += char;
      }
    }
    if (rule !== "") rules.push(rule);
  }
  return rules;
}

/** The tool a rule names: `Bash(git status)` → `Bash`. */
function ruleTool(rule: string): string {
  const index = rule.indexOf("(");
  return (index === -1 ? rule : rule.slice(0, index)).trim();
}

/** The built-in tool named `name` in any letter case, e.g. `read` → `Read`. */
function knownTool(name: string): string | undefined {
  const lower = name.toLowerCase();
  return [...FILE_TOOLS, ...PATHLESS_TOOLS].find((tool) => tool.toLowerCase() === lower);
}

/**
 * Every way `settings` could let a run reach outside its workspace, each as
 * a sentence naming the setting and the fix; empty when there is none.
 */
function confinementProblems(settings: z.output<typeof agentFileSchema>): string[] {
  const problems: string[] = [];
  if (settings.permissionMode === "bypassPermissions") {
    problems.push(
      'permissionMode "bypassPermissions" lets every tool run on any path without a check; ' +
        'use "acceptEdits" instead: file tools then work inside the run\'s own workspace and ' +
        "nowhere else",
    );
  }
  for (const tool of splitRules(settings.tools)) {
    if (isConfinable(tool)) continue;
    const why = UNCONFINABLE[tool.toLowerCase()] ??
      (knownTool(tool)
        ? `is spelled differently from the CLI's "${knownTool(tool)}"`
        : "is not a tool the bridge can confine to the run's workspace");
    problems.push(
      `tools lists "${tool}", which ${why}; remove it (allowed: ${
        [...FILE_TOOLS, ...PATHLESS_TOOLS].join(", ")
      })`,
    );
  }
  for (const rule of splitRules(settings.allowedTools)) {
    const tool = ruleTool(rule);
    const lower = tool.toLowerCase();
    if (lower === "bash") {
      problems.push(
        `allowedTools has the rule "${rule}", which lets commands run on the host outside any ` +
          "workspace; remove it (Bash cannot be confined, so agents cannot have it)",
      );
    } else if ([...FILE_TOOLS].some((file) => file.toLowerCase() === lower)) {
      problems.push(
        `allowedTools has the rule "${rule}", which lets ${tool} reach paths outside the run's ` +
          "workspace; remove it: with permissionMode acceptEdits, file tools already work inside " +
          "the run's own workspace and nowhere else",
      );
    } else if (!PATHLESS_TOOLS.has(tool) && !tool.startsWith(CLIENT_TOOL_PREFIX)) {
      problems.push(
        `allowedTools has the rule "${rule}" for a tool the bridge cannot confine to the run's ` +
          "workspace; remove it",
      );
    }
  }
  return problems;
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
 * @throws {TypeError} when `agent.json` is missing or invalid, or could let a
 *   run reach outside its workspace, naming the file, the setting and the fix.
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
  const problems = confinementProblems(parsed.data);
  if (problems.length > 0) {
    throw new TypeError(
      `Agent "${name}": ${file} could reach outside its run's workspace: ${problems.join("; ")}.`,
    );
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
