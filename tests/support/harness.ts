/**
 * Test harness: the real app on a loopback port, with the stand-in CLI (or
 * another binary) and a temporary workspace root, plus small HTTP and SSE helpers.
 *
 * @module
 */
import { loadAgents } from "../../src/claude/agents.ts";
import { type App, createApp } from "../../src/app.ts";
import { loadConfig } from "../../src/config.ts";
import type { Logger } from "../../src/ops/log.ts";
import { type RecordedRun, recordedRuns } from "./processes.ts";

/** The stand-in CLI script. */
export const FAKE_CLAUDE = new URL("./fake_claude.ts", import.meta.url).pathname;
/** The bearer key the harness configures. */
export const TEST_KEY = "test-token";
/** `Authorization` header with {@linkcode TEST_KEY}. */
export const AUTH = { authorization: `Bearer ${TEST_KEY}` };

/** A running bridge for one test. */
export interface TestServer extends AsyncDisposable {
  /** Base URL, e.g. `http://127.0.0.1:1234`. */
  url: string;
  /** The workspace root the runs use. */
  workspaceRoot: string;
  /** The app under test (its warm pool, if any, is there). */
  app: App;
  /** POSTs JSON with the test key. */
  post(path: string, body: unknown, headers?: HeadersInit): Promise<Response>;
}

/**
 * Starts the bridge with environment overrides (on top of a stand-in
 * `CLAUDE_BIN`, `API_KEYS=test-token`, a fresh `WORKSPACE_ROOT`,
 * `WARM_POOL=off` and `LOG_LEVEL=error`); `childEnv` is set for every CLI child the bridge spawns,
 * and `logger` (if given) receives the log instead of stdout.
 */
export async function startServer(
  env: Record<string, string> = {},
  childEnv?: Record<string, string>,
  logger?: Logger,
): Promise<TestServer> {
  const workspaceRoot = await Deno.makeTempDir({ prefix: "bridge-test-" });
  const config = loadConfig({
    CLAUDE_BIN: FAKE_CLAUDE,
    API_KEYS: TEST_KEY,
    WORKSPACE_ROOT: workspaceRoot,
    WARM_POOL: "off",
    LOG_LEVEL: "error",
    ...env,
  });
  const app = createApp({ config, agents: await loadAgents(config.agentsDir), childEnv, logger });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, app);
  const url = `http://127.0.0.1:${server.addr.port}`;
  return {
    url,
    workspaceRoot,
    app,
    post: (path, body, headers = AUTH) =>
      fetch(url + path, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: typeof body === "string" ? body : JSON.stringify(body),
      }),
    async [Symbol.asyncDispose]() {
      await server.shutdown();
      await app[Symbol.asyncDispose]();
      await Deno.remove(workspaceRoot, { recursive: true }).catch(() => {});
    },
  };
}

/** A bridge whose stand-in runs record themselves (`FAKE_CLAUDE_RECORD`) in `dir`. */
export interface RecordingServer extends TestServer {
  /** The directory the runs record themselves in. */
  dir: string;
  /** The runs recorded so far. */
  runs(): Promise<RecordedRun[]>;
}

/**
 * {@linkcode startServer} with every stand-in run recording itself in a fresh
 * directory. Disposing it stops whatever a failed test left running first, so
 * shutting down cannot hang, then removes the directory.
 */
export async function recordingServer(
  env: Record<string, string> = {},
  childEnv: Record<string, string> = {},
): Promise<RecordingServer> {
  const dir = await Deno.makeTempDir({ prefix: "bridge-record-" });
  const server = await startServer(env, { ...childEnv, FAKE_CLAUDE_RECORD: dir });
  return {
    ...server,
    dir,
    runs: () => recordedRuns(dir),
    async [Symbol.asyncDispose]() {
      await server.app.close(0);
      await server[Symbol.asyncDispose]();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Parses an SSE body into its `data:` payloads (JSON-decoded except `[DONE]`). */
export function sseData(body: string): unknown[] {
  return body.split("\n")
    .filter((line) => line.startsWith("data: "))
    .map((line) => line.slice(6))
    .map((data) => data === "[DONE]" ? data : JSON.parse(data));
}

/** A user message whose text steers the stand-in CLI. */
export function steer(
  script: Record<string, unknown>,
  text = "hi",
): { role: string; content: string } {
  return { role: "user", content: `${text} [[fake:${JSON.stringify(script)}]]` };
}

/**
 * The text of a Chat Completions stream: the first choice's `delta.content`
 * of every chunk, joined. Takes the SSE body, its data payloads
 * ({@linkcode sseData}), or the chunks a client library yields; `[DONE]` and
 * other events (errors) are skipped.
 */
export function streamedText(stream: string | readonly unknown[]): string {
  const items = typeof stream === "string" ? sseData(stream) : stream;
  let text = "";
  for (const item of items) {
    if (typeof item !== "object" || item === null || !("choices" in item)) continue;
    const choices = (item as { choices?: { delta?: { content?: string | null } }[] }).choices;
    text += choices?.[0]?.delta?.content ?? "";
  }
  return text;
}
