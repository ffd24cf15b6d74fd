import assert from "node:assert/strict";
import { checkToolUse, isConfinable, type WorkspaceRoots } from "../../src/claude/confinement.ts";

const MODULE = new URL("../../src/claude/confinement.ts", import.meta.url).href;
const AGENTS = new URL("../../agents/workspace/agent.json", import.meta.url).pathname;
const SOURCE = new URL("../../src/claude/confinement.ts", import.meta.url).pathname;

/**
 * A workspace root with two runs and things outside them:
 *
 * ```
 * base/secret.txt, base/outside/
 * base/runs/run-a/work/      ← the run's workspace (notes.txt, sub/inner.txt, symlinks)
 * base/runs/run-a/private/session.jsonl
 * base/runs/run-b/work/other.txt
 * base/alias → base/runs     (the workspace as the CLI may see it, through a symlink)
 * ```
 */
async function layout(): Promise<{ base: string; roots: WorkspaceRoots; alias: WorkspaceRoots }> {
  const base = await Deno.realPath(await Deno.makeTempDir({ prefix: "confinement-" }));
  const work = `${base}/runs/run-a/work`;
  await Deno.mkdir(`${work}/sub`, { recursive: true });
  await Deno.mkdir(`${base}/runs/run-a/private`);
  await Deno.mkdir(`${base}/runs/run-b/work`, { recursive: true });
  await Deno.mkdir(`${base}/outside`);
  await Deno.writeTextFile(`${base}/secret.txt`, "secret");
  await Deno.writeTextFile(`${base}/runs/run-a/private/session.jsonl`, "{}");
  await Deno.writeTextFile(`${base}/runs/run-b/work/other.txt`, "other run");
  await Deno.writeTextFile(`${work}/notes.txt`, "notes");
  await Deno.writeTextFile(`${work}/sub/inner.txt`, "inner");
  await Deno.symlink(`${base}/secret.txt`, `${work}/link-out`);
  await Deno.symlink(`${base}/outside`, `${work}/link-dir-out`);
  await Deno.symlink("../../../run-b/work", `${work}/sub/link-sibling`);
  await Deno.symlink(`${base}/outside/created-by-write.txt`, `${work}/dangling-out`);
  await Deno.symlink("missing.txt", `${work}/dangling-in`);
  await Deno.symlink("notes.txt", `${work}/link-in`);
  await Deno.symlink("loop", `${work}/loop`);
  await Deno.symlink(`${base}/runs`, `${base}/alias`);
  return {
    base,
    roots: { root: work, realRoot: work },
    alias: { root: `${base}/alias/run-a/work`, realRoot: work },
  };
}

function allowed(tool: string, input: unknown, roots: WorkspaceRoots): void {
  assert.equal(checkToolUse(tool, input, roots), undefined, `${tool} ${JSON.stringify(input)}`);
}

function refused(tool: string, input: unknown, roots: WorkspaceRoots, reason: RegExp): void {
  const objection = checkToolUse(tool, input, roots);
  assert.ok(objection, `${tool} ${JSON.stringify(input)} was allowed`);
  assert.match(objection, reason);
}

const OUTSIDE = /outside your workspace/;

Deno.test("file tools work on paths inside the workspace, relative or absolute", async () => {
  const { base, roots, alias } = await layout();
  try {
    const work = roots.root;
    for (const path of ["notes.txt", "./sub/../notes.txt", `${work}/sub/inner.txt`, "link-in"]) {
      allowed("Read", { file_path: path }, roots);
    }
    allowed("Write", { file_path: "new/deep/file.txt", content: "x" }, roots);
    allowed("Edit", { file_path: `${work}/notes.txt`, old_string: "a", new_string: "b" }, roots);
    allowed("MultiEdit", { file_path: "notes.txt", edits: [] }, roots);
    allowed("NotebookEdit", { notebook_path: "book.ipynb", new_source: "" }, roots);
    allowed("LS", { path: work }, roots);
    allowed("Glob", { pattern: "**/*.txt" }, roots);
    allowed("Glob", { pattern: "*.txt", path: "sub" }, roots);
    allowed("Glob", { pattern: "a..b*", path: work }, roots);
    allowed("Grep", { pattern: "secret", glob: "*.{md,txt}" }, roots);
    allowed("Grep", { pattern: "x", path: "sub/inner.txt", output_mode: "content" }, roots);
    // The same directory named through a symlinked parent, and by its real path.
    allowed("Read", { file_path: `${alias.root}/notes.txt` }, alias);
    allowed("Read", { file_path: `${alias.realRoot}/notes.txt` }, alias);
    allowed("Write", { file_path: "fresh.txt" }, alias);
  } finally {
    await Deno.remove(base, { recursive: true });
  }
});

Deno.test("absolute paths and ../ traversal out of the workspace are refused", async () => {
  const { base, roots, alias } = await layout();
  try {
    const home = Deno.env.get("HOME") ?? "/root";
    const outsidePaths = [
      `${base}/secret.txt`,
      "../private/session.jsonl",
      "../../run-b/work/other.txt",
      "sub/../../work-not/x",
      "../../../secret.txt",
      "/proc/self/environ",
      "/proc/1/environ",
      `/proc/${Deno.pid}/environ`,
      `${home}/.claude/.credentials.json`,
      "/etc/passwd",
      AGENTS,
      SOURCE,
      "/",
    ];
    for (const path of outsidePaths) {
      for (const tool of ["Read", "Write", "Edit", "MultiEdit"]) {
        refused(tool, { file_path: path }, roots, OUTSIDE);
      }
      refused("NotebookEdit", { notebook_path: path }, roots, OUTSIDE);
      refused("LS", { path }, roots, OUTSIDE);
      refused("Glob", { pattern: "*", path }, roots, OUTSIDE);
      refused("Grep", { pattern: "API_KEYS=", path }, roots, OUTSIDE);
    }
    refused("Read", { file_path: "../secret.txt" }, alias, OUTSIDE);
    refused("Read", { file_path: `${alias.root}/../run-b/work/other.txt` }, alias, OUTSIDE);
  } finally {
    await Deno.remove(base, { recursive: true });
  }
});

Deno.test("~ paths are refused: the CLI would expand them to its home", async () => {
  const { base, roots } = await layout();
  try {
    for (const path of ["~/.claude/.credentials.json", "~", "~root/x", "~/notes.txt"]) {
      refused("Read", { file_path: path }, roots, OUTSIDE);
      refused("Grep", { pattern: "x", path }, roots, OUTSIDE);
    }
  } finally {
    await Deno.remove(base, { recursive: true });
  }
});

Deno.test("symlinks cannot lead out of the workspace, whatever the order of .. and links", async () => {
  const { base, roots } = await layout();
  try {
    for (
      const path of [
        "link-out",
        "sub/../link-out",
        "link-dir-out",
        "link-dir-out/new-file.txt",
        "link-dir-out/deeper/new-file.txt",
        "sub/link-sibling/other.txt",
        // The kernel follows the link before "..": base/outside/.. is base.
        "link-dir-out/../secret.txt",
        // Lexically "link-out/x/.." is "link-out": a path the CLI might normalise first.
        "nope/../link-out",
        // A Write through a dangling link would create its target outside.
        "dangling-out",
      ]
    ) {
      refused("Read", { file_path: path }, roots, OUTSIDE);
      refused("Write", { file_path: path }, roots, OUTSIDE);
    }
    refused("Glob", { pattern: "*", path: "link-dir-out" }, roots, OUTSIDE);
    refused("Read", { file_path: "loop" }, roots, /could not be checked/);
    refused("Write", { file_path: "dangling-in" }, roots, /could not be checked/);
  } finally {
    await Deno.remove(base, { recursive: true });
  }
});

Deno.test("glob patterns must stay relative: absolute, ~, .. and escaped forms are refused", async () => {
  const { base, roots } = await layout();
  try {
    const patterns = [
      "/outside/*",
      `${base}/*`,
      "//etc/*",
      "~/.claude/*",
      "../*",
      "sub/../../*",
      "**/..",
      "{/etc/*,x}",
      "{x, ~/y}",
      "{..,x}/secret.txt",
      "\\/etc/*",
      "\\.\\./*",
      "x\n/etc",
    ];
    for (const pattern of patterns) {
      refused("Glob", { pattern }, roots, /could reach outside your workspace/);
      refused("Grep", { pattern: "x", glob: pattern }, roots, /could reach outside your workspace/);
    }
  } finally {
    await Deno.remove(base, { recursive: true });
  }
});

Deno.test("tools that cannot be confined are refused; client and pathless tools pass", () => {
  const roots = { root: "/nonexistent/work", realRoot: "/nonexistent/work" };
  for (
    const tool of ["Bash", "WebFetch", "Task", "Agent", "KillShell", "mcp__other__read", "read"]
  ) {
    refused(tool, { command: "cat /etc/passwd" }, roots, /cannot confine it/);
    assert.equal(isConfinable(tool), false, tool);
  }
  allowed("mcp__bridge__get_weather", { path: "/etc/passwd" }, roots);
  allowed("TodoWrite", { todos: [] }, roots);
  allowed("TaskCreate", { subject: "x", description: "/etc/passwd" }, roots);
  allowed("WebSearch", { query: "x" }, roots);
  for (const tool of ["Read", "Glob", "Grep", "TodoWrite"]) assert.ok(isConfinable(tool), tool);
});

Deno.test("malformed tool input is refused, not trusted", () => {
  const roots = { root: "/nonexistent/work", realRoot: "/nonexistent/work" };
  refused("Read", null, roots, /must be an object/);
  refused("Read", ["notes.txt"], roots, /must be an object/);
  refused("Read", {}, roots, /file_path is missing/);
  refused("Read", { file_path: 42 }, roots, /must be a string/);
  refused("Read", { file_path: "" }, roots, /empty or has control characters/);
  refused("Read", { file_path: "notes\0.txt" }, roots, /control characters/);
  refused("Glob", { pattern: ["*"] }, roots, /pattern must be a string/);
  refused("Glob", { pattern: "*", path: {} }, roots, /path must be a string/);
});

Deno.test("with read permission on the workspace only, checks still work; without it they fail closed", async () => {
  const { base, roots } = await layout();
  try {
    const script = `
      import { checkToolUse } from ${JSON.stringify(MODULE)};
      const roots = ${JSON.stringify(roots)};
      console.log(JSON.stringify(["notes.txt", "new.txt", "link-out", "../private/session.jsonl"]
        .map((file_path) => checkToolUse("Read", { file_path }, roots) ?? "ok")));
    `;
    const run = async (...flags: string[]) => {
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", ...flags, "-"],
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const writer = child.stdin.getWriter();
      await writer.write(new TextEncoder().encode(script));
      await writer.close();
      const output = await child.output();
      assert.ok(output.success, new TextDecoder().decode(output.stderr));
      return JSON.parse(new TextDecoder().decode(output.stdout)) as string[];
    };
    const scoped = await run(`--allow-read=${base}/runs`);
    assert.deepEqual(scoped.slice(0, 2), ["ok", "ok"]);
    assert.match(scoped[2]!, OUTSIDE);
    assert.match(scoped[3]!, OUTSIDE);
    const none = await run("--no-prompt");
    assert.match(none[0]!, /could not be checked/);
    assert.match(none[2]!, /could not be checked/);
    assert.match(none[3]!, OUTSIDE);
  } finally {
    await Deno.remove(base, { recursive: true });
  }
});
