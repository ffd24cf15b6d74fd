/**
 * Real agent clients against the bridge: opencode, the Continue CLI (`cn`)
 * and Codex, installed from `tests/clients/package.json` (pinned in its
 * `package-lock.json`; `npm ci --prefix tests/clients`), each run as a
 * subprocess, non-interactively and offline, against the bridge in-process
 * with the **real** Claude Code CLI behind it and the fake Anthropic API
 * scripting the model.
 *
 * - {@linkcode clientBin} finds a client; a missing one fails the test with
 *   the install command (these tests fail rather than skip).
 * - {@linkcode clientSandbox} makes a fresh `HOME` and a work directory
 *   outside any git repository.
 * - {@linkcode runClient} runs one client in its own session (`setsid`),
 *   stdin `null`, on a bare environment (no proxy, no host credentials),
 *   bounded in time; on return every process of its group has been killed.
 * - {@linkcode startToolBridge} starts the fake API scripted to call one
 *   client tool and then answer from its result, and the bridge in front of
 *   the real CLI; {@linkcode assertToolRoundTrip} checks a client's run
 *   against it.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  type FakeAnthropic,
  lastUserText,
  type RecordedRequest,
  startFakeAnthropic,
  type ToolResult,
  toolResults,
  toolUse,
} from "./fake_anthropic.ts";
import { startServer, type TestServer } from "./harness.ts";
import { groupMembers, waitFor } from "./processes.ts";
import { fakeApiEnv, realClaude } from "./real_cli.ts";

/** The folder holding the clients' `package.json` and (once installed) `node_modules/`. */
export const CLIENTS_DIR = new URL("../clients", import.meta.url).pathname;

/** The client executables `tests/clients/package.json` installs. */
export type ClientName = "opencode" | "cn" | "codex";

/**
 * The path of a client's executable in `tests/clients/node_modules/.bin`.
 *
 * @throws {Error} naming the install command when it is not installed.
 */
export async function clientBin(name: ClientName): Promise<string> {
  const path = `${CLIENTS_DIR}/node_modules/.bin/${name}`;
  const info = await Deno.stat(path).catch(() => undefined);
  if (!info?.isFile) {
    throw new Error(
      `The real-client tests need \`${name}\`, which is not installed in tests/clients: ` +
        "run `npm ci --prefix tests/clients` (.ci/run does this).",
    );
  }
  return path;
}

/** A fresh `HOME` and work directory for one client run. */
export interface ClientSandbox extends AsyncDisposable {
  /** The throw-away root holding both. */
  root: string;
  /** The client's `HOME`. */
  home: string;
  /** The client's working directory (outside any git repository). */
  work: string;
}

/** Makes a {@linkcode ClientSandbox}; disposing it removes everything. */
export async function clientSandbox(): Promise<ClientSandbox> {
  const root = await Deno.realPath(await Deno.makeTempDir({ prefix: "bridge-client-" }));
  // A client inside a git repository takes the repository's root (and its config) as its project.
  for (let dir = root; dir !== "/"; dir = dir.slice(0, dir.lastIndexOf("/")) || "/") {
    if (await Deno.stat(`${dir}/.git`).catch(() => undefined)) {
      throw new Error(`${root} is inside the git repository ${dir}; set TMPDIR elsewhere`);
    }
  }
  const home = `${root}/home`;
  const work = `${root}/work`;
  await Deno.mkdir(home);
  await Deno.mkdir(work);
  return {
    root,
    home,
    work,
    async [Symbol.asyncDispose]() {
      await Deno.remove(root, { recursive: true }).catch(() => {});
    },
  };
}

/** How one client run ended. */
export interface ClientRun {
  code: number;
  stdout: string;
  stderr: string;
  /** Wall time of the run in ms. */
  ms: number;
}

/** Options of {@linkcode runClient}. */
export interface RunClientOptions {
  /** The working directory. */
  cwd: string;
  /** The whole environment besides `PATH` (the host's is not inherited). */
  env: Record<string, string>;
  /** Kill the run after this many ms and fail (default 90 s). */
  timeoutMs?: number;
}

/**
 * Runs `bin args` in a new session with stdin `null` (all three CLIs wait
 * for EOF on a non-TTY stdin) on a bare environment: `PATH`, `NO_COLOR`,
 * and `env`. Once it exits, or after `timeoutMs`, every process left in its
 * group is SIGKILLed and waited for; then its output is complete.
 *
 * @throws {Error} with the output so far when it did not finish in time.
 */
export async function runClient(
  bin: string,
  args: string[],
  options: RunClientOptions,
): Promise<ClientRun> {
  const timeoutMs = options.timeoutMs ?? 90_000;
  const start = performance.now();
  const child = new Deno.Command("setsid", {
    args: [bin, ...args],
    cwd: options.cwd,
    env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", NO_COLOR: "1", ...options.env },
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // setsid execs in place (a child of ours never leads a group), so the group id is its pid.
  const group = child.pid;
  const killGroup = () => {
    try {
      Deno.kill(-group, "SIGKILL");
    } catch {
      // Nothing left in the group.
    }
  };
  // Read both pipes as they come: a process the client left in the background may hold them open.
  const stdout = new Response(child.stdout).text();
  const stderr = new Response(child.stderr).text();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup();
  }, timeoutMs);
  let status: Deno.CommandStatus;
  try {
    status = await child.status;
  } finally {
    clearTimeout(timer);
    killGroup();
    await waitFor(() => groupMembers(group).length === 0, 5000, `${bin}: processes left behind`);
  }
  const run = {
    code: status.code,
    stdout: await stdout,
    stderr: await stderr,
    ms: Math.round(performance.now() - start),
  };
  if (timedOut) {
    throw new Error(
      `${bin} ${args.join(" ")} did not finish in ${timeoutMs} ms and was killed.\n` +
        `stdout: ${run.stdout.slice(-2000)}\nstderr: ${run.stderr.slice(-2000)}`,
    );
  }
  return run;
}

/** Options of {@linkcode startToolBridge}. */
export interface ToolBridgeOptions {
  /** The client's tool name the model calls (it sees `mcp__bridge__<name>`). */
  tool: string;
  /** The call's input. */
  input: unknown;
  /** The final answer, from the results the model got back. */
  answer(results: ToolResult[]): string;
  /** Call the tool only when the last user text matches this (default: whenever it is offered). */
  trigger?: RegExp;
  /** The answer to any other request (default "ok"). */
  plain?: string;
  /** Bridge environment overrides. */
  env?: Record<string, string>;
}

/** The fake API, the bridge in front of the real CLI, and what the model saw. */
export interface ToolBridge extends AsyncDisposable {
  fake: FakeAnthropic;
  bridge: TestServer;
  /** The bridge's base URL for OpenAI clients (`…/v1`). */
  baseUrl: string;
  /** The `POST /v1/messages` requests the fake received. */
  posts(): RecordedRequest[];
  /** Every tool result the model received, over all requests. */
  results(): ToolResult[];
  /**
   * How many follow-ups continued a suspended run with their tool results
   * (the engine's `tool_results` path: same process, full native context).
   */
  resumedSuspended(): number;
}

/** The model-side name of a client tool: `mcp__bridge__` and the name with `[^A-Za-z0-9_-]` → `_`. */
export function modelToolName(tool: string): string {
  return `mcp__bridge__${tool.replace(/[^A-Za-z0-9_-]/g, "_")}`;
}

/**
 * Starts the fake API and the bridge running the real CLI against it. The
 * fake's model: a request whose last user message carries tool results is
 * answered with `answer(results)`; a request offering the client tool
 * `tool` (and matching `trigger`, if given) calls it once with `input`;
 * anything else (a title request, say) gets `plain` ("ok").
 */
export async function startToolBridge(options: ToolBridgeOptions): Promise<ToolBridge> {
  const claude = await realClaude();
  const name = modelToolName(options.tool);
  const fake = startFakeAnthropic((request) => {
    const results = toolResults(request);
    if (results.length > 0) return { text: [options.answer(results)] };
    const tools: { name?: string }[] = request.body?.tools ?? [];
    const offered = tools.some((tool) => tool.name === name);
    const triggered = options.trigger?.test(lastUserText(request)) ?? true;
    return offered && triggered
      ? toolUse(name, options.input, { fragments: 2 })
      : { text: [options.plain ?? "ok"] };
  });
  const cliHome = await Deno.makeTempDir({ prefix: "bridge-client-cli-home-" });
  const bridge = await startServer(
    { CLAUDE_BIN: claude, ...options.env },
    fakeApiEnv(fake.url, cliHome),
  );
  return {
    fake,
    bridge,
    baseUrl: `${bridge.url}/v1`,
    posts: () => fake.posts(),
    results: () => fake.posts().flatMap((request) => toolResults(request)),
    resumedSuspended: () => bridge.app.engine.paths.tool_results,
    async [Symbol.asyncDispose]() {
      await bridge[Symbol.asyncDispose]();
      await fake.close();
      await Deno.remove(cliHome, { recursive: true }).catch(() => {});
    },
  };
}

/** What {@linkcode assertToolRoundTrip} expects. */
export interface RoundTrip {
  /** The client's tool the model called. */
  tool: string;
  /** Text the tool's result must hold (the file's content). */
  result: string;
  /** The answer the client must print last. */
  answer: string;
}

/**
 * Asserts one client tool round trip through `bridge`: the client exited 0;
 * the model was offered the client's tools only, `tool` among them; it got
 * `result` back in a tool_result that is not an error; the follow-up
 * continued the suspended run; and the client printed `answer` as its last
 * line. Failures show the client's exit code, time and output.
 */
export function assertToolRoundTrip(bridge: ToolBridge, run: ClientRun, expected: RoundTrip): void {
  const context =
    `exit ${run.code} after ${run.ms} ms\nstdout: ${run.stdout}\nstderr: ${run.stderr}`;
  assert.equal(run.code, 0, context);
  const first = bridge.posts().find((post) => post.body?.tools?.length);
  const offered: string[] = first?.body.tools.map((tool: { name: string }) => tool.name) ?? [];
  assert.ok(offered.includes(modelToolName(expected.tool)), `tools offered: ${offered.join(", ")}`);
  assert.ok(offered.every((name) => name.startsWith("mcp__bridge__")), "the client's tools only");
  const results = bridge.results();
  const match = results.find((result) => result.text.includes(expected.result));
  assert.ok(match, `the model got the file in a tool_result: ${JSON.stringify(results)}`);
  assert.equal(match.is_error, false);
  assert.equal(bridge.resumedSuspended(), 1, "the result continued the suspended run");
  assert.equal(run.stdout.trim().split("\n").at(-1)?.trim(), expected.answer, context);
}
