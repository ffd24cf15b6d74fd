/**
 * The confinement policy the bridge's PreToolUse hook applies to every tool
 * call a run makes: a run may read, list, search and write only inside its
 * own workspace directory (the CLI's working directory).
 *
 * The CLI already refuses file tools outside its working directory when it
 * runs with `--permission-mode acceptEdits` and no bare allow rules, except
 * for `Glob` with an absolute pattern (measured with 2.1.197). This policy is
 * the second, independent check: every path a tool names is resolved against
 * the workspace, `.` and `..` are applied, and symlinks along its existing
 * part are followed, both in the kernel's order and after lexical
 * normalisation (as Node's `path.resolve` does); every result must stay
 * inside the workspace. So `/proc`, the CLI's `~/.claude`, other runs'
 * workspaces, the agents folder and the bridge's own source are all outside.
 * Glob patterns that are absolute, start with `~` or contain a `..` segment
 * are refused. Tools that cannot be confined (Bash, WebFetch, subagents, any
 * tool this file does not know) are refused outright; the client's own tools
 * (`mcp__bridge__*`) and tools without path semantics pass.
 *
 * Resolving symlinks needs read permission on the workspace root; when a
 * path inside it cannot be resolved for any reason other than not existing,
 * the call is refused (fail closed).
 *
 * @module
 */

/** The directory a run is confined to. */
export interface WorkspaceRoots {
  /** The run's working directory as the CLI sees it (its cwd); relative paths resolve here. */
  root: string;
  /** The same directory with every symlink resolved (`Deno.realPath`). */
  realRoot: string;
}

/** File tools and the input fields that name a path (checked against the workspace). */
const PATH_FIELDS: Readonly<Record<string, { field: string; required: boolean }>> = {
  Read: { field: "file_path", required: true },
  Write: { field: "file_path", required: true },
  Edit: { field: "file_path", required: true },
  MultiEdit: { field: "file_path", required: true },
  NotebookRead: { field: "notebook_path", required: true },
  NotebookEdit: { field: "notebook_path", required: true },
  LS: { field: "path", required: true },
  Glob: { field: "path", required: false },
  Grep: { field: "path", required: false },
};

/** Input fields holding a glob pattern that must stay relative to the workspace. */
const PATTERN_FIELDS: Readonly<Record<string, string>> = { Glob: "pattern", Grep: "glob" };

/** The file tools this policy confines to the workspace. */
export const FILE_TOOLS: ReadonlySet<string> = new Set(Object.keys(PATH_FIELDS));

/**
 * Tools with no path and no access to the host, which pass: the task list
 * the CLI keeps for the model (`TaskCreate`, `TaskGet`, `TaskList`,
 * `TaskUpdate` in 2.1.197; `TodoWrite` before), and `WebSearch`, which runs
 * on Anthropic's side (a server tool), not on this machine.
 */
export const PATHLESS_TOOLS: ReadonlySet<string> = new Set([
  "TaskCreate",
  "TaskGet",
  "TaskList",
  "TaskUpdate",
  "TodoWrite",
  "WebSearch",
]);

/** The prefix of the client's own tools, which the bridge answers itself. */
export const CLIENT_TOOL_PREFIX = "mcp__bridge__";

/** True for a built-in tool this policy can confine (a file tool or a pathless one). */
export function isConfinable(toolName: string): boolean {
  return FILE_TOOLS.has(toolName) || PATHLESS_TOOLS.has(toolName);
}

/** `path` without `.`, `..` and repeated slashes; `path` must be absolute. */
function normalize(path: string): string {
  const parts: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") parts.pop();
    else parts.push(part);
  }
  return "/" + parts.join("/");
}

/** True when `text` holds a character below U+0020 (NUL, newline, …). */
function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) < 0x20) return true;
  return false;
}

function parentOf(path: string): string {
  const index = path.lastIndexOf("/");
  return index <= 0 ? "/" : path.slice(0, index);
}

function isInside(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir === "/" ? "/" : `${dir}/`);
}

/** Thrown inside this module when a path cannot be resolved. */
class Unresolvable extends Error {
  constructor(message: string, readonly outside: boolean) {
    super(message);
  }
}

/** The target of `path` when it is a symlink (whose target does not exist), else `undefined`. */
function danglingTarget(path: string): string | undefined {
  try {
    return Deno.lstatSync(path).isSymlink ? Deno.readLinkSync(path) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Resolves `path` (absolute) the way the kernel does: component by
 * component, following each symlink that exists before applying the next
 * `..`. Components that do not exist (yet) are taken as they are; a dangling
 * symlink is not (a Write would create its target). A path
 * that starts with the workspace (`root` or `realRoot`) is resolved from
 * `realRoot` on, so only the workspace itself needs read permission.
 *
 * @throws {Unresolvable} when a component exists but cannot be resolved
 *   (no permission, a symlink loop).
 */
function physical(path: string, root: string, realRoot: string): string {
  let current = "/";
  let rest = path;
  for (const base of [root, realRoot]) {
    if (isInside(path, base)) {
      current = realRoot;
      rest = path.slice(base.length);
      break;
    }
  }
  for (const part of rest.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      current = parentOf(current);
      continue;
    }
    const next = current === "/" ? `/${part}` : `${current}/${part}`;
    try {
      current = Deno.realPathSync(next);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
        const target = danglingTarget(next);
        if (target !== undefined) {
          // Writing through a dangling symlink would create its target, wherever it is.
          const resolved = normalize(target.startsWith("/") ? target : `${current}/${target}`);
          throw new Unresolvable(`a symlink to ${target}`, !isInside(resolved, realRoot));
        }
        current = next;
      } else {
        const message = error instanceof Error ? error.message : String(error);
        throw new Unresolvable(message, !isInside(next, realRoot));
      }
    }
  }
  return current;
}

function outside(tool: string, shown: string, root: string): string {
  return `${tool} refused: ${JSON.stringify(shown)} is outside your workspace. You may only ` +
    `read, list, search and write inside your working directory ${root}; use paths inside it.`;
}

/** The objection to `tool` touching `value` (a path from its input), or `undefined`. */
function checkPath(tool: string, value: string, workspace: WorkspaceRoots): string | undefined {
  const root = normalize(workspace.root);
  const realRoot = normalize(workspace.realRoot);
  if (value === "" || hasControlCharacter(value)) {
    return `${tool} refused: the path ${JSON.stringify(value)} is empty or has control characters.`;
  }
  if (value.startsWith("~")) return outside(tool, value, root);
  const absolute = value.startsWith("/") ? value : `${root}/${value}`;
  const lexical = normalize(absolute);
  if (!isInside(lexical, root) && !isInside(lexical, realRoot)) {
    return outside(tool, value, root);
  }
  try {
    for (const path of [absolute, lexical]) {
      if (!isInside(physical(path, root, realRoot), realRoot)) return outside(tool, value, root);
    }
  } catch (error) {
    if (!(error instanceof Unresolvable) || error.outside) return outside(tool, value, root);
    return `${tool} refused: ${JSON.stringify(value)} could not be checked (${error.message}); ` +
      `use another path inside your working directory ${root}.`;
  }
  return undefined;
}

/** The objection to a glob pattern that could reach outside the workspace, or `undefined`. */
function checkPattern(tool: string, field: string, pattern: string): string | undefined {
  // Backslash escapes could hide a "/" or ".." from the checks below: judge the pattern without them.
  const plain = pattern.replaceAll("\\", "");
  if (
    hasControlCharacter(plain) ||
    /(^|[{,])\s*[/~]/.test(plain) ||
    /(^|[/{,])\s*\.\.\s*($|[/},])/.test(plain)
  ) {
    return `${tool} refused: the ${field} ${JSON.stringify(pattern)} could reach outside your ` +
      `workspace (absolute, "~" and ".." patterns are not allowed). Use a pattern relative to ` +
      `your working directory, and the path parameter for a subdirectory.`;
  }
  return undefined;
}

/**
 * Judges one tool call before the CLI runs it.
 *
 * @param toolName The tool's name as the CLI reports it (`Read`, `mcp__bridge__x`, …).
 * @param toolInput The tool's input object.
 * @param workspace The run's working directory.
 * @returns `undefined` when the policy has no objection (the CLI's own
 *   permission checks still apply), else the reason for a denial, written
 *   for the model to read.
 */
export function checkToolUse(
  toolName: string,
  toolInput: unknown,
  workspace: WorkspaceRoots,
): string | undefined {
  if (toolName.startsWith(CLIENT_TOOL_PREFIX) || PATHLESS_TOOLS.has(toolName)) return undefined;
  const spec = PATH_FIELDS[toolName];
  if (!spec) {
    return `${toolName} is not available here: the bridge cannot confine it to your workspace. ` +
      `Use the file tools on paths inside your working directory instead.`;
  }
  if (typeof toolInput !== "object" || toolInput === null || Array.isArray(toolInput)) {
    return `${toolName} refused: its input must be an object.`;
  }
  const input = toolInput as Record<string, unknown>;
  const path = input[spec.field];
  if (path === undefined || path === null) {
    if (spec.required) return `${toolName} refused: ${spec.field} is missing.`;
  } else if (typeof path !== "string") {
    return `${toolName} refused: ${spec.field} must be a string.`;
  } else {
    const objection = checkPath(toolName, path, workspace);
    if (objection) return objection;
  }
  const patternField = PATTERN_FIELDS[toolName];
  if (patternField !== undefined) {
    const pattern = input[patternField];
    if (pattern !== undefined && pattern !== null) {
      if (typeof pattern !== "string") {
        return `${toolName} refused: ${patternField} must be a string.`;
      }
      return checkPattern(toolName, patternField, pattern);
    }
  }
  return undefined;
}
