/**
 * `main.ts` as a real process, started with the permission flags of the
 * `start` task (with `--allow-run` pointed at the stand-in CLI): the generated
 * key, configuration errors, missing permissions, and the environment the CLI
 * child sees.
 */
import assert from "node:assert/strict";
import { FAKE_CLAUDE } from "../support/harness.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const ROOT = new URL("../..", import.meta.url).pathname;

/** The permission flags of `deno task start`, allowed to run the stand-in instead of `claude`. */
async function startFlags(): Promise<string[]> {
  const { tasks } = JSON.parse(await Deno.readTextFile(`${ROOT}/deno.json`));
  return (tasks.start as string).split(/\s+/)
    .filter((word) => word.startsWith("--allow-"))
    .map((flag) => flag === "--allow-run=claude" ? `--allow-run=${FAKE_CLAUDE}` : flag);
}

/** Only what the process needs from the test's environment (never a stray API_KEYS). */
function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of ["PATH", "HOME", "DENO_DIR"]) {
    const value = Deno.env.get(key);
    if (value !== undefined) env[key] = value;
  }
  return env;
}

/** A bridge process with its stdout read line by line and its stderr collected. */
class Bridge implements AsyncDisposable {
  readonly child: Deno.ChildProcess;
  readonly stdout: string[] = [];
  readonly stderr: Promise<string>;
  #reading: Promise<void>;
  #ended = false;

  constructor(env: Record<string, string>, flags: string[]) {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-prompt", ...flags, MAIN],
      cwd: ROOT,
      env: { ...baseEnv(), CLAUDE_BIN: FAKE_CLAUDE, PORT: "0", WARM_POOL: "off", ...env },
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.child = child;
    this.stderr = new Response(child.stderr).text();
    this.#reading = (async () => {
      let buffer = "";
      for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
        const lines = (buffer + chunk).split("\n");
        buffer = lines.pop()!;
        this.stdout.push(...lines);
      }
      this.#ended = true;
    })();
  }

  /** The first stdout line matching `pattern`; waits up to 10 s or until stdout ends. */
  async line(pattern: RegExp): Promise<string> {
    for (let i = 0; i < 400; i++) {
      const found = this.stdout.find((line) => pattern.test(line));
      if (found) return found;
      if (this.#ended) break;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error(`no stdout line matched ${pattern}; stdout:\n${this.stdout.join("\n")}`);
  }

  /** The base URL from the `listening` log line. */
  async url(): Promise<string> {
    return JSON.parse(await this.line(/"msg":"listening"/)).url;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.child.kill("SIGTERM");
    } catch {
      // Already exited.
    }
    await this.child.status;
    await this.#reading;
    await this.stderr;
  }
}

Deno.test("main: without API_KEYS the start prints a generated key, and that key works", async () => {
  await using bridge = new Bridge({}, await startFlags());
  const url = await bridge.url();
  const keyLine = await bridge.line(/accepts the bearer key/);
  const key = keyLine.match(/(sk-bridge-[0-9a-f]+)/)?.[1];
  assert.ok(key, keyLine);
  assert.match(bridge.stdout.join("\n"), /Set API_KEYS=/);
  const denied = await fetch(`${url}/v1/models`);
  await denied.body?.cancel();
  assert.equal(denied.status, 401);
  const allowed = await fetch(`${url}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
  await allowed.body?.cancel();
  assert.equal(allowed.status, 200);
});

Deno.test("main: a bad environment value stops the start with a message naming the variable", async () => {
  for (
    const [env, variable] of [[{ PORT: "eighty" }, "PORT"], [{ LOG_LEVEL: "loud" }, "LOG_LEVEL"], [
      { MODELS: "haiku", DEFAULT_MODEL: "opus" },
      "DEFAULT_MODEL",
    ]] as const
  ) {
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-prompt", ...await startFlags(), MAIN],
      cwd: ROOT,
      env: { ...baseEnv(), CLAUDE_BIN: FAKE_CLAUDE, ...env },
      clearEnv: true,
      stdin: "null",
    }).output();
    const stderr = new TextDecoder().decode(output.stderr);
    assert.notEqual(output.code, 0, `${variable}: exits non-zero`);
    assert.match(stderr, new RegExp(`^\\s+${variable}: `, "m"), stderr);
    assert.ok(!stderr.includes("    at "), "a message, not a stack trace");
  }
});

Deno.test("main: a missing permission stops the start with Deno's reason and how to start it", async () => {
  const flags = (await startFlags()).filter((flag) => !flag.startsWith("--allow-net"));
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", ...flags, MAIN],
    cwd: ROOT,
    env: { ...baseEnv(), CLAUDE_BIN: FAKE_CLAUDE, API_KEYS: "k", WARM_POOL: "off" },
    clearEnv: true,
    stdin: "null",
  }).output();
  const stderr = new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 1);
  assert.match(stderr, /Requires net access/);
  assert.match(stderr, /deno task start/);
});

Deno.test("main: the CLI child inherits the environment (token included) but never API_KEYS", async () => {
  const record = await Deno.makeTempDir();
  try {
    await using bridge = new Bridge({
      API_KEYS: "bridge-secret",
      CLAUDE_CODE_OAUTH_TOKEN: "oauth-token-for-cli",
      FAKE_CLAUDE_RECORD: record,
    }, await startFlags());
    const url = await bridge.url();
    const response = await fetch(`${url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: "Bearer bridge-secret", "content-type": "application/json" },
      body: JSON.stringify({ messages: [{ role: "user", content: "hi" }] }),
    });
    assert.equal(response.status, 200, await response.clone().text());
    assert.equal((await response.json()).choices[0].message.content, "ok");
    const files = await Array.fromAsync(Deno.readDir(record));
    assert.equal(files.length, 1);
    const seen = JSON.parse(await Deno.readTextFile(`${record}/${files[0]!.name}`));
    assert.equal(seen.env.API_KEYS, undefined);
    assert.equal(seen.env.CLAUDE_CODE_OAUTH_TOKEN, "oauth-token-for-cli");
    assert.equal(seen.env.HOME, Deno.env.get("HOME"));
    const requestLine = await bridge.line(/"msg":"request"/);
    assert.ok(!requestLine.includes("bridge-secret"));
  } finally {
    await Deno.remove(record, { recursive: true });
  }
});
