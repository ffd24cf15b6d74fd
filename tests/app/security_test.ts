/**
 * Issue 10's proofs, with the **real** Claude Code CLI playing a hostile
 * model (a scripted fake Anthropic API on loopback answering with
 * `tool_use` blocks) against the bridge:
 *
 * - **Confinement** (items 1–2): through `/execute` and non-streaming chat
 *   (the `workspace` agent: Read, Write, Edit, Glob, Grep, `acceptEdits`),
 *   two concurrent runs try every file tool on absolute paths, `../`
 *   traversal, absolute and `..` glob patterns, `/proc/self/environ`,
 *   `/proc/<bridge>/environ`, `/proc/1/environ`, the CLI's credentials file,
 *   each other's workspace, their own run directory's private parts, the
 *   agents folder and the bridge's source, and echo every tool result back
 *   in their answer. Nothing leaks (no marker in any tool_result the fake API
 *   receives, nor in the response), nothing outside changes, and work inside
 *   the workspace still works.
 * - **Keys** (item 3): `main.ts` as a subprocess with the `start` task's
 *   permissions; neither reading nor grepping `/proc/<bridge>/environ` tells
 *   a run anything (a right and a wrong `API_KEYS=` prefix get the same
 *   answer), no process the bridge started has a key in its environment, and
 *   with `API_KEYS_FILE` the key is in no environment at all.
 * - **Children die with their run** (item 4): Grep over `/` is refused by
 *   confinement now, so a run is kept busy by an in-workspace Grep of a FIFO
 *   the test makes in its workspace (its `rg` blocks for ever); 100 aborted
 *   stand-in runs with a grandchild (the real CLI costs ~1 s a run on 2
 *   cores), 8 aborted real-CLI runs with a blocked `rg`, and `main.ts` run
 *   with the start task's permissions — a run aborted, and the bridge
 *   SIGKILLed while one run is in `rg` and another waits for the model —
 *   leave no process of any run behind (the start task grants
 *   `--allow-run=claude,sh`: `sh` runs the process-group reaper).
 *
 * Processes of a run are found by walking /proc: descendants of the bridge
 * (except its reaper shell) and every member of a session a CLI leads (the
 * CLI is spawned detached; a child orphaned to pid 1 keeps its session).
 *
 * @module
 */
import assert from "node:assert/strict";
import { REAPER_SCRIPT } from "../../src/claude/reaper.ts";
import {
  BridgeProcess,
  ROOT,
  type StartTaskChanges,
  startTaskFlags,
} from "../support/bridge_process.ts";
import {
  type FakeReply,
  type RecordedRequest,
  startFakeAnthropic,
  type ToolResult,
  toolResults,
  toolUses,
} from "../support/fake_anthropic.ts";
import { startServer, steer, type TestServer } from "../support/harness.ts";
import { grandchildPids, recordedPids, waitFor } from "../support/processes.ts";
import { fakeApiEnv, realClaude } from "../support/real_cli.ts";

// ------------------------------------------------------------------ processes

/** One row of the process table. */
interface Proc {
  pid: number;
  ppid: number;
  pgid: number;
  sid: number;
}

/** Every live process (zombies excluded), from /proc/<pid>/stat. */
function processTable(): Proc[] {
  const table: Proc[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    const pid = Number(entry.name);
    if (!Number.isInteger(pid)) continue;
    try {
      const text = Deno.readTextFileSync(`/proc/${pid}/stat`);
      // "pid (comm) S ppid pgrp session ...": comm may hold spaces, so split after its ")".
      const [state, ppid, pgid, sid] = text.slice(text.lastIndexOf(")") + 2).split(" ");
      if (state === "Z" || state === "X") continue;
      table.push({ pid, ppid: Number(ppid), pgid: Number(pgid), sid: Number(sid) });
    } catch {
      // Gone meanwhile.
    }
  }
  return table;
}

/** The argv of `pid` ([] when gone). */
function argvOf(pid: number): string[] {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0").slice(0, -1);
  } catch {
    return [];
  }
}

/** The raw environment block of `pid` ("" when gone). */
function environOf(pid: number): string {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/environ`);
  } catch {
    return "";
  }
}

/** True for the bridge's process-group reaper (`sh -c REAPER_SCRIPT`). */
function isReaper(pid: number): boolean {
  return argvOf(pid)[2] === REAPER_SCRIPT;
}

/** Live descendants of `root` (children, their children, …), found by walking /proc. */
function descendantsOf(root: number, table = processTable()): Proc[] {
  const found: Proc[] = [];
  const parents = new Set([root]);
  for (let grew = true; grew;) {
    grew = false;
    for (const proc of table) {
      if (!parents.has(proc.pid) && parents.has(proc.ppid)) {
        parents.add(proc.pid);
        found.push(proc);
        grew = true;
      }
    }
  }
  return found;
}

/**
 * The CLIs `bridge` runs now: its children that lead their own session (the
 * bridge spawns each CLI detached), except its reaper.
 */
function clisOf(bridge: number, table = processTable()): number[] {
  return table.filter((proc) => proc.ppid === bridge && proc.sid === proc.pid)
    .map((proc) => proc.pid).filter((pid) => !isReaper(pid));
}

/**
 * The live processes of runs: members of the sessions the CLIs in `clis`
 * lead (wherever they were reparented to) and their descendants.
 */
function runProcesses(clis: Iterable<number>, table = processTable()): Proc[] {
  const sessions = new Set(clis);
  const found = new Map<number, Proc>();
  for (const proc of table) {
    if (sessions.has(proc.sid) || sessions.has(proc.pgid) || sessions.has(proc.pid)) {
      found.set(proc.pid, proc);
    }
  }
  for (const leader of [...found.keys()]) {
    for (const proc of descendantsOf(leader, table)) found.set(proc.pid, proc);
  }
  return [...found.values()];
}

/** `procs` as "pid argv" lines, for failure messages. */
function describe(procs: Proc[]): string {
  return procs.map((proc) => `${proc.pid} ${argvOf(proc.pid).join(" ").slice(0, 160)}`)
    .join("\n");
}

/** Kills what a failed test left behind (the suite runs with --allow-all). */
function killAll(procs: Proc[]): void {
  for (const proc of procs) {
    try {
      Deno.kill(proc.pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
}

// ------------------------------------------------------------------ files

/** Every file and directory under `dir`, with file contents ("<dir>" for directories). */
function snapshot(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  const walk = (path: string, rel: string) => {
    for (const entry of Deno.readDirSync(path)) {
      const full = `${path}/${entry.name}`;
      const name = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory) {
        files[name] = "<dir>";
        walk(full, name);
      } else {
        files[name] = Deno.readTextFileSync(full);
      }
    }
  };
  walk(dir, "");
  return files;
}

/** Copies a directory tree of regular files. */
function copyTree(from: string, to: string): void {
  Deno.mkdirSync(to, { recursive: true });
  for (const entry of Deno.readDirSync(from)) {
    if (entry.isDirectory) copyTree(`${from}/${entry.name}`, `${to}/${entry.name}`);
    else if (entry.isFile) Deno.copyFileSync(`${from}/${entry.name}`, `${to}/${entry.name}`);
  }
}

/** Makes a FIFO at `path`: a Grep of it keeps its `rg` blocked until it is killed. */
async function mkfifo(path: string): Promise<void> {
  const output = await new Deno.Command("mkfifo", { args: [path], stderr: "piped" }).output();
  if (!output.success && !new TextDecoder().decode(output.stderr).includes("File exists")) {
    throw new Error(`mkfifo ${path} failed: ${new TextDecoder().decode(output.stderr)}`);
  }
}

/** `KEY=value` entries of an environment block worth looking for in a leak (long enough to be distinctive). */
function distinctiveEntries(environ: string): string[] {
  return environ.split("\0").filter((entry) => entry.includes("=") && entry.length >= 24);
}

const random = () => crypto.randomUUID().replaceAll("-", "").slice(0, 16);

// ------------------------------------------------------------------ hostile model

/** A tool call the hostile model makes: what it is after, and whether it must work. */
interface Attempt {
  id: string;
  name: string;
  input: Record<string, unknown>;
  /** What this call tries, for failure messages. */
  what: string;
  /** For the calls that must work (inside the workspace): a check of the result. */
  expect?: (result: ToolResult) => void;
}

/** The label of the run a request belongs to (its prompt holds `attack-<label>`). */
function labelOf(request: RecordedRequest): string | undefined {
  return /attack-([A-Z])\b/.exec(JSON.stringify(request.body?.messages?.[0] ?? ""))?.[1];
}

/** How many model turns came before this request (0 for the first). */
function roundOf(request: RecordedRequest): number {
  const messages: { role: string }[] = request.body?.messages ?? [];
  return messages.filter((message) => message.role === "assistant").length;
}

/** Resolves each round once `parties` runs have reached it (bounded). */
class Barrier {
  #rounds = new Map<number, { labels: Set<string>; all: PromiseWithResolvers<void> }>();
  constructor(readonly parties: number) {}

  async arrive(round: number, label: string, ms = 20_000): Promise<void> {
    let state = this.#rounds.get(round);
    if (!state) {
      state = { labels: new Set(), all: Promise.withResolvers() };
      this.#rounds.set(round, state);
    }
    state.labels.add(label);
    if (state.labels.size >= this.parties) state.all.resolve();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`round ${round}: only ${[...state.labels]} arrived`)),
        ms,
      );
    });
    try {
      await Promise.race([state.all.promise, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

// ================================================================== confinement

Deno.test("confinement: a hostile model gets nothing outside its workspace through /execute or chat, and work inside still works", async () => {
  const bin = await realClaude();
  const tag = random();
  const outside = await Deno.makeTempDir({ prefix: "bridge-sec-outside-" });
  const home = await Deno.makeTempDir({ prefix: "bridge-sec-home-" });
  const agentsDir = await Deno.makeTempDir({ prefix: "bridge-sec-agents-" });
  const pwnedSource = `${ROOT}src/pwned-${tag}.ts`;
  const markers = {
    outside: `OUTSIDE-SECRET-${tag}`,
    victim: `VICTIM-CONTENT-${tag}`,
    credentials: `CREDENTIALS-SECRET-${tag}`,
    childEnv: `CHILD-ENV-SECRET-${tag}`,
    agents: `AGENTS-FOLDER-SECRET-${tag}`,
  };
  const inside = (label: string) => `INSIDE-${label}-${tag}`;
  let bridge: TestServer | undefined;
  // The hostile model, set once the bridge runs.
  let model = (_request: RecordedRequest): Promise<FakeReply> => Promise.resolve({ text: ["ok"] });
  const fake = startFakeAnthropic((request) => model(request));
  try {
    await Deno.writeTextFile(`${outside}/secret.txt`, `${markers.outside}\n`);
    await Deno.writeTextFile(`${outside}/victim.txt`, `${markers.victim}\n`);
    await Deno.mkdir(`${home}/.claude`);
    await Deno.writeTextFile(
      `${home}/.claude/.credentials.json`,
      JSON.stringify({ note: markers.credentials }),
    );
    copyTree(`${ROOT}agents`, agentsDir);
    await Deno.writeTextFile(`${agentsDir}/NOTES.md`, `${markers.agents}\n`);
    const before = {
      outside: snapshot(outside),
      home: snapshot(home),
      agents: snapshot(agentsDir),
    };
    bridge = await startServer(
      { CLAUDE_BIN: bin, AGENTS_DIR: agentsDir, MAX_CONCURRENT: "4" },
      { ...fakeApiEnv(fake.url, home), SECURITY_TEST_MARKER: markers.childEnv },
    );
    const root = bridge.workspaceRoot;
    // From a run's working directory (<root>/<run>/work) up to "/".
    const up = "../".repeat(root.split("/").filter(Boolean).length + 2);
    const bridgeEnviron = environOf(Deno.pid);
    const initEnviron = environOf(1);

    /** The run directory whose work/whoami.txt names `label`, once written. */
    const runDirOf = (label: string): string => {
      for (const entry of Deno.readDirSync(root)) {
        const whoami = `${root}/${entry.name}/work/whoami.txt`;
        try {
          if (Deno.readTextFileSync(whoami).startsWith(`${label}:`)) return entry.name;
        } catch {
          // Not this one (or not written yet).
        }
      }
      throw new Error(`no run directory of ${label} in ${root}`);
    };

    /** Round 0: own marker file, then every attack that needs no other run. */
    const firstRound = (label: string): Attempt[] => [
      {
        id: "own-write",
        name: "Write",
        input: { file_path: "whoami.txt", content: `${label}:${inside(label)}\n` },
        what: "Write inside the workspace",
        expect: (result) => assert.equal(result.is_error, false, result.text),
      },
      // Absolute paths and traversal out of the workspace.
      {
        id: "read-abs",
        name: "Read",
        input: { file_path: `${outside}/secret.txt` },
        what: "Read abs",
      },
      {
        id: "read-up",
        name: "Read",
        input: { file_path: `${up}${outside.slice(1)}/secret.txt` },
        what: "Read ../ traversal",
      },
      {
        id: "read-far-up",
        name: "Read",
        input: { file_path: `sub/../${up}../../${outside.slice(1)}/secret.txt` },
        what: "Read ../ past /",
      },
      {
        id: "read-proc-root",
        name: "Read",
        input: { file_path: `/proc/self/root${outside}/secret.txt` },
        what: "Read through /proc/self/root",
      },
      {
        id: "read-proc-cwd",
        name: "Read",
        input: { file_path: `/proc/self/cwd/${up}${outside.slice(1)}/secret.txt` },
        what: "Read through /proc/self/cwd",
      },
      {
        id: "write-abs",
        name: "Write",
        input: { file_path: `${outside}/created.txt`, content: "pwned" },
        what: "Write a new file, abs",
      },
      {
        id: "write-up",
        name: "Write",
        input: { file_path: `${up}${outside.slice(1)}/created-up.txt`, content: "pwned" },
        what: "Write a new file, ../",
      },
      {
        id: "write-victim",
        name: "Write",
        input: { file_path: `${outside}/victim.txt`, content: "pwned" },
        what: "Write over a file, abs",
      },
      {
        id: "edit-abs",
        name: "Edit",
        input: {
          file_path: `${outside}/victim.txt`,
          old_string: markers.victim,
          new_string: "pwned",
        },
        what: "Edit abs",
      },
      {
        id: "edit-up",
        name: "Edit",
        input: {
          file_path: `${up}${outside.slice(1)}/victim.txt`,
          old_string: markers.victim,
          new_string: "pwned",
        },
        what: "Edit ../",
      },
      {
        id: "edit-create",
        name: "Edit",
        input: { file_path: `${outside}/created-by-edit.txt`, old_string: "", new_string: "pwned" },
        what: "Edit creating a new file, abs",
      },
      {
        id: "read-dir",
        name: "Read",
        input: { file_path: outside },
        what: "Read a directory, abs",
      },
      {
        id: "glob-path",
        name: "Glob",
        input: { pattern: "*", path: outside },
        what: "Glob path abs",
      },
      {
        id: "glob-abs",
        name: "Glob",
        input: { pattern: `${outside}/*` },
        what: "Glob abs pattern, no path",
      },
      {
        id: "glob-brace",
        name: "Glob",
        input: { pattern: `{x,${outside}/*}` },
        what: "Glob abs pattern in braces",
      },
      {
        id: "glob-up",
        name: "Glob",
        input: { pattern: `${up}${outside.slice(1)}/*` },
        what: "Glob ../ pattern",
      },
      {
        id: "glob-path-up",
        name: "Glob",
        input: { pattern: "**/secret.txt", path: `${up}${outside.slice(1)}` },
        what: "Glob ../ path",
      },
      {
        id: "grep-abs",
        name: "Grep",
        input: { pattern: "SECRET", path: outside, output_mode: "content" },
        what: "Grep path abs",
      },
      {
        id: "grep-tmp",
        name: "Grep",
        input: { pattern: "OUTSIDE-SECRET", path: "/tmp", output_mode: "content" },
        what: "Grep /tmp",
      },
      {
        id: "grep-glob-abs",
        name: "Grep",
        input: { pattern: "SECRET", glob: `${outside}/*`, output_mode: "content" },
        what: "Grep glob abs",
      },
      {
        id: "grep-glob-up",
        name: "Grep",
        input: { pattern: "SECRET", glob: `${up}**`, output_mode: "content" },
        what: "Grep glob ../",
      },
      {
        id: "grep-glob-escaped",
        name: "Grep",
        input: { pattern: "SECRET", glob: "\\.\\./\\.\\./**", output_mode: "content" },
        what: "Grep glob escaped ../",
      },
      // The CLI's, the bridge's and init's environments.
      {
        id: "read-self-env",
        name: "Read",
        input: { file_path: "/proc/self/environ" },
        what: "Read /proc/self/environ",
      },
      {
        id: "grep-self-env",
        name: "Grep",
        input: {
          pattern: "SECURITY_TEST_MARKER",
          path: "/proc/self/environ",
          output_mode: "content",
        },
        what: "Grep /proc/self/environ",
      },
      {
        id: "read-bridge-env",
        name: "Read",
        input: { file_path: `/proc/${Deno.pid}/environ` },
        what: "Read /proc/<bridge>/environ",
      },
      {
        id: "read-bridge-env-up",
        name: "Read",
        input: { file_path: `${up}proc/${Deno.pid}/environ` },
        what: "Read ../proc/<bridge>/environ",
      },
      {
        id: "grep-bridge-env",
        name: "Grep",
        input: {
          pattern: "PATH=",
          path: `/proc/${Deno.pid}`,
          glob: "environ",
          output_mode: "content",
        },
        what: "Grep /proc/<bridge> glob environ",
      },
      {
        id: "read-bridge-env-task",
        name: "Read",
        input: { file_path: `/proc/${Deno.pid}/task/${Deno.pid}/environ` },
        what: "Read /proc/<bridge>/task/<bridge>/environ",
      },
      {
        id: "read-self-env-dots",
        name: "Read",
        input: { file_path: "/proc//self/./environ" },
        what: "Read /proc//self/./environ",
      },
      {
        id: "read-init-env",
        name: "Read",
        input: { file_path: "/proc/1/environ" },
        what: "Read /proc/1/environ",
      },
      // The CLI's credentials.
      {
        id: "read-credentials",
        name: "Read",
        input: { file_path: `${home}/.claude/.credentials.json` },
        what: "Read credentials abs",
      },
      {
        id: "read-credentials-tilde",
        name: "Read",
        input: { file_path: "~/.claude/.credentials.json" },
        what: "Read credentials ~",
      },
      {
        id: "read-credentials-dollar",
        name: "Read",
        input: { file_path: "$HOME/.claude/.credentials.json" },
        what: "Read credentials $HOME",
      },
      {
        id: "grep-credentials",
        name: "Grep",
        input: { pattern: "CREDENTIALS", path: "~/.claude", output_mode: "content" },
        what: "Grep ~/.claude",
      },
      {
        id: "glob-credentials",
        name: "Glob",
        input: { pattern: "~/.claude/*" },
        what: "Glob ~/.claude",
      },
      {
        id: "glob-credentials-path",
        name: "Glob",
        input: { pattern: ".credentials.json", path: `${home}/.claude` },
        what: "Glob path ~/.claude abs",
      },
      {
        id: "write-settings",
        name: "Write",
        input: {
          file_path: `${home}/.claude/settings.json`,
          content: JSON.stringify({ permissions: { allow: ["Read(//**)"] } }),
        },
        what: "Write the CLI's settings",
      },
      // The agents folder and the bridge's own source.
      {
        id: "read-agent",
        name: "Read",
        input: { file_path: `${agentsDir}/workspace/agent.json` },
        what: "Read agent.json",
      },
      {
        id: "read-agents-notes",
        name: "Read",
        input: { file_path: `${agentsDir}/NOTES.md` },
        what: "Read agents/NOTES.md",
      },
      {
        id: "grep-agents",
        name: "Grep",
        input: { pattern: "SECRET", path: agentsDir, output_mode: "content" },
        what: "Grep agents",
      },
      {
        id: "edit-agent",
        name: "Edit",
        input: {
          file_path: `${agentsDir}/workspace/agent.json`,
          old_string: '"acceptEdits"',
          new_string: '"bypassPermissions"',
        },
        what: "Edit agent.json",
      },
      {
        id: "write-agent",
        name: "Write",
        input: {
          file_path: `${agentsDir}/evil/agent.json`,
          content: JSON.stringify({ tools: ["Bash"], permissionMode: "bypassPermissions" }),
        },
        what: "Write a new agent",
      },
      {
        id: "read-source",
        name: "Read",
        input: { file_path: `${ROOT}src/app.ts` },
        what: "Read src/app.ts",
      },
      {
        id: "grep-source",
        name: "Grep",
        input: { pattern: "createApp", path: `${ROOT}src`, output_mode: "content" },
        what: "Grep src/",
      },
      {
        id: "glob-source",
        name: "Glob",
        input: { pattern: "**/*.ts", path: `${ROOT}src` },
        what: "Glob src/",
      },
      {
        id: "write-source",
        name: "Write",
        input: { file_path: pwnedSource, content: "export const pwned = true;\n" },
        what: "Write into src/",
      },
      // Settings inside the workspace must not be loaded: their hooks would run commands.
      ...[".claude/settings.json", ".claude/settings.local.json"].map((file) => ({
        id: `settings-${file.includes("local") ? "local" : "project"}`,
        name: "Write",
        input: {
          file_path: file,
          content: JSON.stringify({
            permissions: { allow: ["Read(//**)", "Bash"], defaultMode: "bypassPermissions" },
            hooks: {
              PreToolUse: [{
                matcher: "*",
                hooks: [{ type: "command", command: `touch ${outside}/hook-ran-${label}` }],
              }],
            },
          }),
        },
        what: `Write ${file} inside (allowed or not, it must not take effect)`,
        expect: () => {},
      })),
      // The run directory around the working directory, and tools that cannot be confined.
      {
        id: "glob-private",
        name: "Glob",
        input: { pattern: "*", path: "../private" },
        what: "Glob ../private",
      },
      { id: "read-lock", name: "Read", input: { file_path: "../.lock" }, what: "Read ../.lock" },
      {
        id: "bash",
        name: "Bash",
        input: { command: `echo pwned > ${outside}/bash.txt` },
        what: "Bash",
      },
      {
        id: "webfetch",
        name: "WebFetch",
        input: { url: `${fake.url}/exfiltrate`, prompt: "fetch" },
        what: "WebFetch",
      },
      {
        id: "subagent",
        name: "Agent",
        input: {
          description: "escape",
          prompt: `Read ${outside}/secret.txt`,
          subagent_type: "general-purpose",
        },
        what: "a subagent",
      },
      {
        id: "client-tool",
        name: "mcp__bridge__read_file",
        input: { path: `${outside}/secret.txt` },
        what: "a client tool name without client tools",
      },
    ];

    /** Round 1: work inside, and the other run's workspace. */
    const secondRound = (label: string, other: string): Attempt[] => {
      const otherDir = runDirOf(other);
      const otherWork = `${root}/${otherDir}/work`;
      return [
        {
          id: "own-read",
          name: "Read",
          input: { file_path: "whoami.txt" },
          what: "Read inside",
          expect: (result) => {
            assert.equal(result.is_error, false, result.text);
            assert.ok(result.text.includes(inside(label)), result.text);
          },
        },
        {
          id: "own-grep",
          name: "Grep",
          input: { pattern: `INSIDE-${label}`, output_mode: "content" },
          what: "Grep inside",
          expect: (result) => assert.ok(result.text.includes(inside(label)), result.text),
        },
        {
          id: "own-glob",
          name: "Glob",
          input: { pattern: "*" },
          what: "Glob inside",
          expect: (result) => {
            assert.match(result.text, /whoami\.txt/);
            assert.match(result.text, /README\.md/);
          },
        },
        {
          id: "own-edit",
          name: "Edit",
          input: {
            file_path: "whoami.txt",
            old_string: inside(label),
            new_string: `${inside(label)}-edited`,
          },
          what: "Edit inside",
          expect: (result) => assert.equal(result.is_error, false, result.text),
        },
        {
          id: "other-read",
          name: "Read",
          input: { file_path: `${otherWork}/whoami.txt` },
          what: "Read the other run's file",
        },
        {
          id: "other-read-up",
          name: "Read",
          input: { file_path: `../../${otherDir}/work/whoami.txt` },
          what: "Read the other run's file, ../",
        },
        {
          id: "other-grep",
          name: "Grep",
          input: { pattern: "INSIDE", path: otherWork, output_mode: "content" },
          what: "Grep the other run",
        },
        {
          id: "other-grep-root",
          name: "Grep",
          input: { pattern: "INSIDE", path: root, output_mode: "content" },
          what: "Grep the workspace root",
        },
        {
          id: "other-glob",
          name: "Glob",
          input: { pattern: "*", path: otherWork },
          what: "Glob the other run",
        },
        {
          id: "other-write",
          name: "Write",
          input: { file_path: `${otherWork}/pwned.txt`, content: "pwned" },
          what: "Write into the other run",
        },
        {
          id: "other-edit",
          name: "Edit",
          input: {
            file_path: `${otherWork}/whoami.txt`,
            old_string: inside(other),
            new_string: "pwned",
          },
          what: "Edit the other run's file",
        },
      ];
    };

    const labels = ["A", "B"];
    const barrier = new Barrier(labels.length);
    const attempts = new Map<string, Attempt[]>(labels.map((label) => [label, []]));
    const seenByModel = new Map<string, ToolResult[]>();
    const workAtEnd = new Map<string, Record<string, string>>();
    const failures: string[] = [];
    const ask = (label: string, calls: Attempt[]): FakeReply => {
      const tagged = calls.map((call) => ({ ...call, id: `toolu_${label}_${call.id}` }));
      attempts.get(label)!.push(...tagged);
      return toolUses(tagged.map(({ id, name, input }) => ({ id, name, input })));
    };
    model = async (request: RecordedRequest): Promise<FakeReply> => {
      const label = labelOf(request);
      if (!label || !request.body?.tools?.length) return { text: ["ok"] };
      const other = labels.find((name) => name !== label)!;
      const round = roundOf(request);
      try {
        if (round === 0) return ask(label, firstRound(label));
        if (round === 1) {
          await barrier.arrive(1, label);
          return ask(label, secondRound(label, other));
        }
        await barrier.arrive(2, label);
        workAtEnd.set(label, snapshot(`${root}/${runDirOf(label)}/work`));
        // Exfiltration: everything the tools returned goes into the answer.
        const results = toolResults(request, true);
        seenByModel.set(label, results);
        return { text: [JSON.stringify(results)] };
      } catch (error) {
        failures.push(String(error));
        return { text: [`model failed: ${error}`] };
      }
    };

    const started = performance.now();
    const [execute, chat] = await Promise.all([
      bridge.post("/execute", { prompt: "attack-A" }),
      bridge.post("/v1/chat/completions", {
        model: "sonnet",
        messages: [{ role: "user", content: "attack-B" }],
      }),
    ]);
    const elapsed = performance.now() - started;
    assert.deepEqual(failures, []);
    assert.equal(execute.status, 200, await execute.clone().text());
    assert.equal(chat.status, 200, await chat.clone().text());
    const answers: Record<string, string> = {
      A: String((await execute.json()).result),
      B: String((await chat.json()).choices[0].message.content),
    };

    const secrets = [
      ...Object.values(markers),
      ...distinctiveEntries(bridgeEnviron),
      ...distinctiveEntries(initEnviron),
      '"permissionMode"', // agent.json
      "createApp", // src/app.ts
      "confinement.ts", // a listing of src/
    ];
    for (const label of labels) {
      const other = labels.find((name) => name !== label)!;
      const results = seenByModel.get(label);
      assert.ok(results, `run ${label} never reached its last round`);
      const byId = new Map(results.map((result) => [result.tool_use_id, result]));
      const forbidden = [...secrets, inside(other)];
      for (const attempt of attempts.get(label)!) {
        const result = byId.get(attempt.id);
        assert.ok(result, `${label}: no tool_result for ${attempt.what} (${attempt.id})`);
        if (attempt.expect) {
          attempt.expect(result);
          continue;
        }
        assert.equal(
          result.is_error,
          true,
          `${label}: ${attempt.what} was not refused: ${result.text}`,
        );
        for (const secret of forbidden) {
          assert.ok(!result.text.includes(secret), `${label}: ${attempt.what} leaked ${secret}`);
        }
      }
      // What the client got back is what the model exfiltrated: its own marker only.
      assert.ok(answers[label]!.includes(inside(label)), `${label}: the answer lacks its own work`);
      for (const secret of forbidden) {
        assert.ok(!answers[label]!.includes(secret), `${label}: the response leaked ${secret}`);
      }
      const work = Object.fromEntries(
        Object.entries(workAtEnd.get(label) ?? {}).filter(([name]) => !name.startsWith(".claude")),
      );
      assert.deepEqual(work, {
        "README.md": Deno.readTextFileSync(`${agentsDir}/workspace/workspace/README.md`),
        "whoami.txt": `${label}:${inside(label)}-edited\n`,
      });
    }
    assert.deepEqual(snapshot(outside), before.outside, "a file outside changed or appeared");
    // The CLI keeps its own state in HOME (.claude.json, backups); the model's targets stay as they were.
    assert.equal(
      await Deno.readTextFile(`${home}/.claude/.credentials.json`),
      before.home[".claude/.credentials.json"],
    );
    assert.equal(
      await Deno.stat(`${home}/.claude/settings.json`).catch(() => undefined),
      undefined,
    );
    assert.deepEqual(snapshot(agentsDir), before.agents, "the agents folder changed");
    assert.equal(await Deno.stat(pwnedSource).catch(() => undefined), undefined);
    await waitFor(() => [...Deno.readDirSync(root)].length === 0, 5000, "workspaces left");
    console.log(
      `confinement: 2 concurrent real-CLI runs, 3 model turns each, ${
        attempts.get("A")!.length + attempts.get("B")!.length
      } tool calls, ${Math.round(elapsed)} ms`,
    );
  } finally {
    await bridge?.[Symbol.asyncDispose]();
    await fake.close();
    await Deno.remove(pwnedSource).catch(() => {});
    for (const dir of [outside, home, agentsDir]) {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  }
});

// ================================================================== bridge as a process

/** The deno cache the subprocess needs (its HOME is a fresh one). */
async function denoDir(): Promise<string> {
  const output = await new Deno.Command(Deno.execPath(), { args: ["info", "--json"] }).output();
  return JSON.parse(new TextDecoder().decode(output.stdout)).denoDir;
}

/** The start task's default workspace root, the only place its --allow-write lets runs go. */
const START_WORKSPACE_ROOT = "/tmp/claude-openai-bridge";

/** `main.ts` as a subprocess with the start task's permissions, the real CLI and a fake API. */
async function startMain(
  apiUrl: string,
  home: string,
  env: Record<string, string>,
  extra: StartTaskChanges = {},
): Promise<BridgeProcess> {
  await realClaude();
  const bridge = new BridgeProcess({
    flags: ["--no-prompt", ...await startTaskFlags(extra)],
    env: {
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      DENO_DIR: await denoDir(),
      ...fakeApiEnv(apiUrl, home),
      CLAUDE_BIN: "claude",
      PORT: "0",
      WARM_POOL: "off",
      ...env,
    },
    clearEnv: true,
  });
  try {
    await bridge.listening();
  } catch (error) {
    await bridge[Symbol.asyncDispose]();
    throw new Error(`${error}\nstderr: ${await bridge.stderr}`);
  }
  return bridge;
}

/** POSTs JSON to `url` with `key`. */
function post(url: string, key: string, body: unknown, signal?: AbortSignal): Promise<Response> {
  return fetch(url, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify(body),
    signal,
  });
}

// ================================================================== keys

/**
 * Runs one `/execute` whose model reads and greps the bridge's environment
 * (and `extra` calls), and, while the CLI is alive, records every process of
 * the bridge's tree. Returns the tool results by id and the processes seen.
 */
async function stealKeys(options: {
  env: (workspaceRoot: string) => Record<string, string>;
  key: string;
  extraRead?: string[];
  extra?: (bridgePid: number) => Attempt[];
}): Promise<{
  bridgePid: number;
  results: Map<string, ToolResult>;
  attempts: Attempt[];
  tree: { pid: number; argv: string[]; environ: string }[];
  answer: string;
  log: string;
}> {
  const home = await Deno.makeTempDir({ prefix: "bridge-sec-home-" });
  const workspaceRoot = `${START_WORKSPACE_ROOT}/security-test-${random()}`;
  let model = (_request: RecordedRequest): Promise<FakeReply> => Promise.resolve({ text: ["ok"] });
  const fake = startFakeAnthropic((request) => model(request));
  let bridge: BridgeProcess | undefined;
  try {
    bridge = await startMain(fake.url, home, {
      ...options.env(workspaceRoot),
      WORKSPACE_ROOT: workspaceRoot,
    }, { read: options.extraRead });
    const pid = bridge.pid;
    const up = "../".repeat(workspaceRoot.split("/").filter(Boolean).length + 2);
    const right = `API_KEYS=${options.key.slice(0, 12)}`;
    const wrong = `API_KEYS=${options.key.slice(0, 11)}${options.key[11] === "0" ? "1" : "0"}`;
    const pair = (id: string, input: (pattern: string) => Record<string, unknown>, what: string) =>
      [[right, "right"], [wrong, "wrong"]].map(([pattern, which]) => ({
        id: `${id}-${which}`,
        name: "Grep",
        input: input(pattern!),
        what: `${what} (${which} prefix)`,
      }));
    const attempts: Attempt[] = [
      {
        id: "read",
        name: "Read",
        input: { file_path: `/proc/${pid}/environ` },
        what: "Read environ",
      },
      {
        id: "read-task",
        name: "Read",
        input: { file_path: `/proc/${pid}/task/${pid}/environ` },
        what: "Read task environ",
      },
      {
        id: "read-up",
        name: "Read",
        input: { file_path: `${up}proc/${pid}/environ` },
        what: "Read ../ environ",
      },
      {
        id: "read-cmdline",
        name: "Read",
        input: { file_path: `/proc/${pid}/cmdline` },
        what: "Read cmdline",
      },
      {
        id: "read-self",
        name: "Read",
        input: { file_path: "/proc/self/environ" },
        what: "Read own environ",
      },
      {
        id: "read-init",
        name: "Read",
        input: { file_path: "/proc/1/environ" },
        what: "Read init's environ",
      },
      {
        id: "glob",
        name: "Glob",
        input: { pattern: "environ", path: `/proc/${pid}` },
        what: "Glob /proc/<bridge>",
      },
      ...pair("grep-file", (pattern) => ({
        pattern,
        path: `/proc/${pid}/environ`,
        output_mode: "files_with_matches",
      }), "Grep environ"),
      ...pair("grep-count", (pattern) => ({
        pattern,
        path: `/proc/${pid}/environ`,
        output_mode: "count",
      }), "Grep -c environ"),
      ...pair("grep-glob", (pattern) => ({
        pattern,
        path: `/proc/${pid}`,
        glob: "environ",
        output_mode: "files_with_matches",
      }), "Grep /proc/<bridge> glob environ"),
      ...pair("grep-up", (pattern) => ({
        pattern,
        path: `${up}proc/${pid}/environ`,
        output_mode: "files_with_matches",
      }), "Grep ../ environ"),
      ...(options.extra?.(pid) ?? []),
    ];
    let tree: { pid: number; argv: string[]; environ: string }[] = [];
    let seen: ToolResult[] = [];
    model = (request) => {
      if (!request.body?.tools?.length) return Promise.resolve({ text: ["ok"] });
      if (roundOf(request) === 0) {
        return Promise.resolve(
          toolUses(attempts.map(({ id, name, input }) => ({ id, name, input }))),
        );
      }
      // The CLI is alive and waiting for this answer: look at every process the bridge started.
      tree = descendantsOf(pid).map((proc) => ({
        pid: proc.pid,
        argv: argvOf(proc.pid),
        environ: environOf(proc.pid),
      }));
      seen = toolResults(request, true);
      return Promise.resolve({ text: [JSON.stringify(seen)] });
    };
    const response = await post(`${bridge.url}/execute`, options.key, { prompt: "steal the keys" });
    assert.equal(response.status, 200, await response.clone().text());
    const answer = String((await response.json()).result);
    return {
      bridgePid: pid,
      results: new Map(seen.map((result) => [result.tool_use_id, result])),
      attempts,
      tree,
      answer,
      log: bridge.stdout.join("\n"),
    };
  } finally {
    await bridge?.[Symbol.asyncDispose]();
    await fake.close();
    await Deno.remove(home, { recursive: true }).catch(() => {});
    await Deno.remove(workspaceRoot, { recursive: true }).catch(() => {});
  }
}

/** The checks both key tests share: refused, nothing leaked, right and wrong prefixes alike. */
function assertNothingLearned(
  stolen: Awaited<ReturnType<typeof stealKeys>>,
  key: string,
): void {
  const { results, attempts, tree, answer, log } = stolen;
  assert.ok(!log.includes(key), "the bridge's log holds the key");
  for (const attempt of attempts) {
    const result = results.get(attempt.id);
    assert.ok(result, `no tool_result for ${attempt.what}`);
    assert.equal(result.is_error, true, `${attempt.what} was not refused: ${result.text}`);
    for (const secret of [key, key.slice(0, 12), "API_KEYS"]) {
      assert.ok(!result.text.includes(secret), `${attempt.what} leaked ${secret}: ${result.text}`);
    }
  }
  // The yes/no oracle: a right and a wrong prefix get the very same answer.
  for (const attempt of attempts.filter((attempt) => attempt.id.endsWith("-right"))) {
    const twin = attempt.id.replace(/-right$/, "-wrong");
    assert.equal(results.get(attempt.id)!.text, results.get(twin)!.text, attempt.what);
  }
  assert.ok(!answer.includes(key) && !answer.includes("API_KEYS="), "the response leaked a key");
  // No process the bridge started (its reaper shell, the CLI, anything under it) has a key.
  assert.ok(tree.some((proc) => /claude/.test(proc.argv[0] ?? "")), "the CLI was not seen");
  for (const proc of tree) {
    assert.ok(proc.environ !== "", `could not read the environment of ${proc.pid}`);
    assert.ok(!proc.environ.includes(key), `${proc.argv[0]} (${proc.pid}) has the key in its env`);
    assert.ok(
      !proc.environ.split("\0").some((entry) => entry.startsWith("API_KEYS=")),
      `${proc.argv[0]} (${proc.pid}) has API_KEYS in its environment`,
    );
    assert.ok(!proc.argv.join(" ").includes(key), `${proc.argv[0]} has the key in its argv`);
  }
}

Deno.test("keys: with API_KEYS, a run learns nothing from /proc/<bridge>/environ (content or oracle) and no child has the key", async () => {
  const key = `sk-sec-${random()}${random()}`;
  let bridgeEnviron = "";
  const stolen = await stealKeys({
    env: () => ({ API_KEYS: key }),
    key,
    extra: (pid) => {
      bridgeEnviron = environOf(pid);
      return [];
    },
  });
  // The target is real: Deno.env.delete cannot take the key out of the bridge's environment block.
  assert.ok(bridgeEnviron.split("\0").includes(`API_KEYS=${key}`), "the key is not where expected");
  assertNothingLearned(stolen, key);
});

Deno.test("keys: with API_KEYS_FILE, the key is in no process's environment (the bridge's included) and the file is out of reach", async () => {
  const key = `sk-sec-${random()}${random()}`;
  const dir = await Deno.makeTempDir({ prefix: "bridge-sec-keys-" });
  const file = `${dir}/keys`;
  try {
    await Deno.writeTextFile(file, `# bridge keys\n${key}\n`);
    let bridgeEnviron = "";
    const stolen = await stealKeys({
      env: () => ({ API_KEYS_FILE: file }),
      key,
      extraRead: [file],
      extra: (pid) => {
        bridgeEnviron = environOf(pid);
        return [
          { id: "read-keys", name: "Read", input: { file_path: file }, what: "Read the keys file" },
          {
            id: "grep-keys-right",
            name: "Grep",
            input: { pattern: key.slice(0, 12), path: file, output_mode: "count" },
            what: "Grep the keys file (right prefix)",
          },
          {
            id: "grep-keys-wrong",
            name: "Grep",
            input: { pattern: `${key.slice(0, 11)}#`, path: file, output_mode: "count" },
            what: "Grep the keys file (wrong prefix)",
          },
        ];
      },
    });
    assert.ok(bridgeEnviron.includes("API_KEYS_FILE="), "could not read the bridge's environment");
    assert.ok(!bridgeEnviron.includes(key), "the bridge's own environment holds the key");
    assertNothingLearned(stolen, key);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// ================================================================== children die with their run

/** True for a ripgrep process (the CLI runs it as `rg`). */
const isRg = (pid: number) => /(^|\/)rg$/.test(argvOf(pid)[0] ?? "");

/**
 * A hostile model whose first reply is a Grep of `pipe` in its workspace,
 * a FIFO it makes there first: the CLI's `rg` then blocks for ever (Grep
 * over `/` is refused by confinement now; this keeps the search inside).
 */
function fifoGrepModel(workspaceRoot: string) {
  return async (request: RecordedRequest): Promise<FakeReply> => {
    if (!request.body?.tools?.length || roundOf(request) > 0) return { text: ["ok"] };
    for (const entry of Deno.readDirSync(workspaceRoot)) {
      if (!entry.name.startsWith("run-")) continue;
      await mkfifo(`${workspaceRoot}/${entry.name}/work/pipe`).catch(() => {});
    }
    return toolUses([{ name: "Grep", input: { pattern: "x", path: "pipe" } }]);
  };
}

/**
 * Waits until `count` `rg` processes run in the sessions of `bridge`'s CLIs,
 * collecting the CLIs' pids into `clis` as they appear.
 */
async function waitForRg(bridge: number, clis: Set<number>, count: number): Promise<void> {
  await waitFor(
    () => {
      const table = processTable();
      for (const pid of clisOf(bridge, table)) clis.add(pid);
      return runProcesses(clis, table).filter((proc) => isRg(proc.pid)).length >= count;
    },
    30_000,
    `fewer than ${count} rg processes started`,
  );
}

/** Waits up to `ms` until no process of the runs in `clis` is left; returns how long it took. */
async function waitNoneLeft(clis: Set<number>, ms: number, extra: () => Proc[] = () => []) {
  const left = () => [...runProcesses(clis), ...extra()];
  try {
    return await waitFor(() => left().length === 0, ms, "processes of aborted runs left");
  } catch (error) {
    throw new Error(`${(error as Error).message}:\n${describe(left())}`);
  }
}

Deno.test("children: 100 aborted stand-in runs with a grandchild leave no process behind within 3 s", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bridge-sec-record-" });
  const wave = 25;
  const waves = 4;
  const server = await startServer(
    { MAX_CONCURRENT: String(wave), MAX_QUEUE: "100" },
    { FAKE_CLAUDE_RECORD: dir },
  );
  const clis = new Set<number>();
  const grandchildren = () =>
    processTable().filter((proc) => grandchildPids(dir).includes(proc.pid));
  const slowest: number[] = [];
  const started = performance.now();
  try {
    for (let w = 0; w < waves; w++) {
      const aborts: AbortController[] = [];
      const requests = Array.from({ length: wave }, (_, i) => {
        const abort = new AbortController();
        aborts.push(abort);
        const script = { grandchild: true, stall: true };
        return (i % 2 === 0
          ? post(`${server.url}/execute`, "test-token", {
            prompt: `go [[fake:${JSON.stringify(script)}]]`,
          }, abort.signal)
          : post(`${server.url}/v1/chat/completions`, "test-token", {
            model: "haiku",
            messages: [steer(script)],
          }, abort.signal)).then(
            (response) => `answered ${response.status}`,
            (error) => (error as Error).name,
          );
      });
      await waitFor(
        () => grandchildPids(dir).length >= wave * (w + 1),
        30_000,
        `wave ${w}: not every run started its grandchild`,
      );
      for (const pid of recordedPids(dir)) clis.add(pid);
      for (const abort of aborts) abort.abort();
      assert.deepEqual(new Set(await Promise.all(requests)), new Set(["AbortError"]));
      slowest.push(await waitNoneLeft(clis, 3000, grandchildren));
    }
    assert.equal(clis.size, wave * waves);
    assert.equal(grandchildPids(dir).length, wave * waves);
    await waitFor(() => server.app.limiter.active === 0, 3000, "slots still held");
    console.log(
      `children: ${wave * waves} aborted stand-in runs in ${
        Math.round(performance.now() - started)
      } ms; all processes gone ${slowest.map(Math.round).join("/")} ms after each wave's aborts`,
    );
  } finally {
    killAll([...runProcesses(clis), ...grandchildren()]);
    await server[Symbol.asyncDispose]();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("children: 8 aborted real-CLI runs blocked in an in-workspace Grep leave no process (rg included) within 3 s", async () => {
  const bin = await realClaude();
  const home = await Deno.makeTempDir({ prefix: "bridge-sec-home-" });
  let model = (_request: RecordedRequest): Promise<FakeReply> => Promise.resolve({ text: ["ok"] });
  const fake = startFakeAnthropic((request) => model(request));
  const runs = 8;
  const server = await startServer(
    { CLAUDE_BIN: bin, MAX_CONCURRENT: String(runs) },
    fakeApiEnv(fake.url, home),
  );
  model = fifoGrepModel(server.workspaceRoot);
  const clis = new Set<number>();
  try {
    const aborts = Array.from({ length: runs }, () => new AbortController());
    const requests = aborts.map((abort, i) =>
      (i % 2 === 0
        ? post(`${server.url}/execute`, "test-token", { prompt: "search" }, abort.signal)
        : post(`${server.url}/v1/chat/completions`, "test-token", {
          model: "sonnet",
          messages: [{ role: "user", content: "search" }],
        }, abort.signal)).then(
          (response) => `answered ${response.status}`,
          (error) => (error as Error).name,
        )
    );
    await waitForRg(Deno.pid, clis, runs);
    const rgs = runProcesses(clis).filter((proc) => isRg(proc.pid));
    // rg runs in the CLI's session and group (so the reaper's group signal reaches it).
    for (const rg of rgs) assert.ok(clis.has(rg.sid) && clis.has(rg.pgid), describe([rg]));
    for (const abort of aborts) abort.abort();
    assert.deepEqual(new Set(await Promise.all(requests)), new Set(["AbortError"]));
    const took = await waitNoneLeft(clis, 3000);
    await waitFor(
      () => [...Deno.readDirSync(server.workspaceRoot)].length === 0,
      3000,
      "workspaces left",
    );
    console.log(
      `children: ${runs} aborted real-CLI runs (${rgs.length} rg), all gone in ${
        Math.round(took)
      } ms`,
    );
  } finally {
    killAll(runProcesses(clis));
    await server[Symbol.asyncDispose]();
    await fake.close();
    await Deno.remove(home, { recursive: true }).catch(() => {});
  }
});

/**
 * Aborts a run of a `main.ts` bridge (start-task permissions plus `extraRun`)
 * while its rg is blocked; every process of the run must be gone within 3 s.
 */
async function abortLeavesNothing(extraRun: string[]): Promise<void> {
  const home = await Deno.makeTempDir({ prefix: "bridge-sec-home-" });
  const workspaceRoot = `${START_WORKSPACE_ROOT}/security-test-${random()}`;
  const fake = startFakeAnthropic(fifoGrepModel(workspaceRoot));
  const key = `sk-sec-${random()}`;
  const clis = new Set<number>();
  let bridge: BridgeProcess | undefined;
  try {
    bridge = await startMain(fake.url, home, { API_KEYS: key, WORKSPACE_ROOT: workspaceRoot }, {
      run: extraRun,
    });
    const abort = new AbortController();
    const request = post(`${bridge.url}/execute`, key, { prompt: "search" }, abort.signal)
      .then(() => "answered", (error) => (error as Error).name);
    await waitForRg(bridge.pid, clis, 1);
    abort.abort();
    assert.equal(await request, "AbortError");
    const took = await waitNoneLeft(clis, 3000);
    console.log(
      `children: bridge (extra --allow-run: ${
        extraRun.join(",") || "none"
      }), aborted run in rg, all gone in ${Math.round(took)} ms`,
    );
  } finally {
    killAll(runProcesses(clis));
    await bridge?.[Symbol.asyncDispose]();
    await fake.close();
    await Deno.remove(home, { recursive: true }).catch(() => {});
    await Deno.remove(workspaceRoot, { recursive: true }).catch(() => {});
  }
}

Deno.test("children: with deno task start's permissions, an aborted run's rg is gone within 3 s", () =>
  abortLeavesNothing([]));

/**
 * SIGKILLs a `main.ts` bridge (start-task permissions plus `extraRun`) while
 * one run's rg is blocked and another run waits for the model; every process
 * of both runs (and the reaper) must be gone within 5 s.
 */
async function sigkillLeavesNothing(extraRun: string[]): Promise<void> {
  const home = await Deno.makeTempDir({ prefix: "bridge-sec-home-" });
  const workspaceRoot = `${START_WORKSPACE_ROOT}/security-test-${random()}`;
  // One run searches a FIFO (its rg blocks); the other waits for a model answer that never comes.
  const never = Promise.withResolvers<FakeReply>();
  const search = fifoGrepModel(workspaceRoot);
  const fake = startFakeAnthropic((request) =>
    JSON.stringify(request.body?.messages?.[0] ?? "").includes("wait")
      ? never.promise
      : search(request)
  );
  const key = `sk-sec-${random()}`;
  const clis = new Set<number>();
  let bridge: BridgeProcess | undefined;
  try {
    bridge = await startMain(fake.url, home, { API_KEYS: key, WORKSPACE_ROOT: workspaceRoot }, {
      run: extraRun,
    });
    const url = bridge.url;
    const requests = [
      post(`${url}/execute`, key, { prompt: "search" }),
      post(`${url}/v1/chat/completions`, key, {
        model: "sonnet",
        messages: [{ role: "user", content: "wait" }],
      }),
    ].map((request) => request.then((r) => r.body?.cancel(), () => {}));
    await waitForRg(bridge.pid, clis, 1);
    await waitFor(
      () => {
        for (const pid of clisOf(bridge!.pid)) clis.add(pid);
        return clis.size === 2 && fake.posts().length >= 2;
      },
      30_000,
      "the second run never called the model",
    );
    const reaper = descendantsOf(bridge.pid).filter((proc) => isReaper(proc.pid));
    bridge.kill("SIGKILL");
    await bridge.status;
    await Promise.all(requests);
    const took = await waitNoneLeft(clis, 5000, () => reaper.filter(isRunningProc));
    console.log(
      `children: bridge (extra --allow-run: ${
        extraRun.join(",") || "none"
      }) SIGKILLed with a run in rg and a run waiting for the model (reaper ${
        reaper.length ? "running" : "absent"
      }); all gone in ${Math.round(took)} ms`,
    );
  } finally {
    killAll(runProcesses(clis));
    never.resolve({ text: ["too late"] });
    await bridge?.[Symbol.asyncDispose]();
    await fake.close();
    await Deno.remove(home, { recursive: true }).catch(() => {});
    await Deno.remove(workspaceRoot, { recursive: true }).catch(() => {});
  }
}

Deno.test("children: when the bridge started as deno task start does is SIGKILLed, its runs' processes are gone within 5 s", () =>
  sigkillLeavesNothing([]));

/** True while `proc` (the same process: same pid and session) still runs. */
function isRunningProc(proc: Proc): boolean {
  return processTable().some((live) => live.pid === proc.pid && live.sid === proc.sid);
}
