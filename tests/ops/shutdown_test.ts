/**
 * The bridge's own lifecycle, with `main.ts` as a real process: SIGTERM lets
 * running streams finish within SHUTDOWN_GRACE_MS, stops the rest (and the
 * warm pool) after it, refuses new connections and exits 0 with no CLI left;
 * a SIGKILLed bridge leaves no CLI behind either (its process-group reaper
 * sees its stdin close and stops every group).
 */
import assert from "node:assert/strict";
import { BridgeProcess, ROOT } from "../support/bridge_process.ts";
import { AUTH, FAKE_CLAUDE, sseData, steer, streamedText, TEST_KEY } from "../support/harness.ts";
import { childrenOf, cliChildren, waitFor, waitGone } from "../support/processes.ts";

/** `main.ts` as a child process with the stand-in CLI (SIGKILLed on dispose). */
function startBridge(env: Record<string, string>): BridgeProcess {
  return new BridgeProcess({
    env: {
      CLAUDE_BIN: FAKE_CLAUDE,
      API_KEYS: TEST_KEY,
      PORT: "0",
      HOST: "127.0.0.1",
      LOG_LEVEL: "info",
      ...env,
    },
    stderr: "inherit",
    stopSignal: "SIGKILL",
  });
}

/** Starts a streaming request and reads its first chunk. */
async function stream(bridge: BridgeProcess, script: Record<string, unknown>) {
  const response = await fetch((await bridge.listening()) + "/v1/chat/completions", {
    method: "POST",
    headers: { "content-type": "application/json", ...AUTH },
    body: JSON.stringify({ model: "haiku", stream: true, messages: [steer(script)] }),
  });
  assert.equal(response.status, 200);
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  const first = await reader.read();
  assert.equal(first.done, false);
  return {
    /** The whole SSE body's data payloads. */
    async rest(): Promise<unknown[]> {
      let text = first.value!;
      for (let part = await reader.read(); !part.done; part = await reader.read()) {
        text += part.value;
      }
      return sseData(text);
    },
  };
}

/** Waits for two CLI children (the one running a request, and a warm one) and returns them. */
async function runningAndWarm(bridge: BridgeProcess): Promise<number[]> {
  await waitFor(
    () => cliChildren(bridge.pid).length === 2,
    10_000,
    "expected the running CLI and a warm one",
  );
  return cliChildren(bridge.pid);
}

Deno.test("SIGTERM: a running stream finishes, new connections are refused, exit 0 with no CLI left", async () => {
  await using bridge = startBridge({ SHUTDOWN_GRACE_MS: "15000", WARM_POOL: "off" });
  const words = Array.from({ length: 12 }, (_, i) => `word${i} `);
  const running = await stream(bridge, { say: words, delayMs: 100 });
  const children = cliChildren(bridge.child.pid);
  assert.equal(children.length, 1);
  bridge.child.kill("SIGTERM");
  const url = await bridge.listening();
  await waitFor(
    () =>
      fetch(url + "/healthz").then(
        (response) => (response.body?.cancel(), false),
        () => true,
      ),
    2000,
    "the bridge still accepts connections after SIGTERM",
  );
  const events = await running.rest();
  assert.equal(streamedText(events), words.join(""));
  assert.equal(events.at(-1), "[DONE]");
  assert.equal((await bridge.child.status).code, 0);
  await waitGone(children);
});

Deno.test("SIGTERM: past SHUTDOWN_GRACE_MS running streams end with a 503 event and warm CLIs stop too", async () => {
  await using bridge = startBridge({ SHUTDOWN_GRACE_MS: "300", MAX_CONCURRENT: "4" });
  const running = await stream(bridge, { say: ["started"], hang: true });
  const children = await runningAndWarm(bridge);
  bridge.child.kill("SIGTERM");
  const events = await running.rest();
  assert.equal(streamedText(events), "started");
  const error = events.find((event) =>
    typeof event === "object" && event !== null && "error" in event
  ) as
    | { error: { status: number; code: string } }
    | undefined;
  assert.deepEqual([error?.error.status, error?.error.code], [503, "shutting down"]);
  assert.equal((await bridge.child.status).code, 0);
  await waitGone(children);
});

Deno.test("a SIGKILLed bridge leaves no CLI behind: its reaper stops the running and the waiting ones", async () => {
  await using bridge = startBridge({ MAX_CONCURRENT: "4" });
  await stream(bridge, { say: ["tick "], repeat: 1000, delayMs: 50 });
  const children = await runningAndWarm(bridge);
  bridge.child.kill("SIGKILL");
  await bridge.child.status;
  await waitGone(children);
});

/**
 * `deno task start` itself, leading its own process group as a terminal's
 * foreground job does, with the stand-in on PATH as `claude` (the task's
 * `--allow-run=claude` resolves it there).
 */
class TaskStart implements AsyncDisposable {
  readonly runner: Deno.ChildProcess;
  readonly url: Promise<string>;
  readonly output: string[] = [];
  #bin: string;

  constructor(bin: string, env: Record<string, string>) {
    this.#bin = bin;
    const runner = new Deno.Command(Deno.execPath(), {
      args: ["task", "start"],
      cwd: ROOT,
      env: {
        PATH: `${bin}:${Deno.env.get("PATH")}`,
        API_KEYS: TEST_KEY,
        PORT: "0",
        WARM_POOL: "off",
        ...env,
      },
      detached: true,
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    this.runner = runner;
    const listening = Promise.withResolvers<string>();
    this.url = listening.promise;
    void (async () => {
      let buffer = "";
      for await (const chunk of runner.stdout.pipeThrough(new TextDecoderStream())) {
        const lines = (buffer + chunk).split("\n");
        buffer = lines.pop()!;
        this.output.push(...lines);
        const line = lines.find((line) => line.includes('"msg":"listening"'));
        if (line) listening.resolve(JSON.parse(line).url);
      }
      listening.reject(new Error(`the bridge ended before listening:\n${this.output.join("\n")}`));
    })();
  }

  static async start(env: Record<string, string>): Promise<TaskStart> {
    const bin = await Deno.makeTempDir();
    await Deno.symlink(FAKE_CLAUDE, `${bin}/claude`);
    return new TaskStart(bin, env);
  }

  /** The bridge: the task runner's only child. */
  async bridgePid(): Promise<number> {
    await this.url;
    await waitFor(() => childrenOf(this.runner.pid).length === 1, 5000, "no bridge process");
    return childrenOf(this.runner.pid)[0]!;
  }

  /** Signals the whole process group, as a terminal's Ctrl-C (or `kill -- -PGID`) does. */
  async signalGroup(signal: "INT" | "TERM"): Promise<void> {
    const { success } = await new Deno.Command("bash", {
      args: ["-c", `kill -s ${signal} -- -${this.runner.pid}`],
    }).output();
    assert.ok(success, `kill -s ${signal} -- -${this.runner.pid}`);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      Deno.kill(-this.runner.pid, "SIGKILL");
    } catch {
      // Already gone.
    }
    await this.runner.status;
    await Deno.remove(this.#bin, { recursive: true });
  }
}

/** Starts a stream through `url` and reads its first chunk. */
async function openStream(url: string, script: Record<string, unknown>) {
  const response = await fetch(url + "/v1/chat/completions", {
    method: "POST",
    headers: { "content-type": "application/json", ...AUTH },
    body: JSON.stringify({ model: "haiku", stream: true, messages: [steer(script)] }),
  });
  assert.equal(response.status, 200);
  return response.text().then(sseData);
}

for (const signal of ["INT", "TERM"] as const) {
  Deno.test(`deno task start: SIG${signal} to the whole process group (and a forwarded copy) drains running streams`, async () => {
    await using task = await TaskStart.start({ SHUTDOWN_GRACE_MS: "15000" });
    const url = await task.url;
    const bridge = await task.bridgePid();
    const words = Array.from({ length: 12 }, (_, i) => `word${i} `);
    const stream = openStream(url, { say: words, delayMs: 100 });
    await waitFor(() => cliChildren(bridge).length === 1, 5000, "the stream's CLI never started");
    const logged = (msg: string) => () =>
      task.output.some((line) => line.includes(`"msg":"${msg}"`));
    const signalled = performance.now();
    await task.signalGroup(signal);
    // The task runner's forwarded copy arrives a few milliseconds later; two
    // signals that close together may merge into one, so the second copy is
    // sent once the first has been handled, to be sure the bridge gets both.
    await waitFor(logged("shutting down"), 5000, "the bridge did not start shutting down");
    Deno.kill(bridge, `SIG${signal}`);
    await waitFor(
      logged("signal repeated; still shutting down gracefully"),
      5000,
      "the repeated signal was not seen",
    );
    const events = await stream;
    assert.equal(streamedText(events), words.join(""), "the stream was not cut");
    assert.equal(events.at(-1), "[DONE]");
    assert.equal((await task.runner.status).code, 0);
    assert.ok(performance.now() - signalled < 10_000, "well within SHUTDOWN_GRACE_MS");
  });
}

Deno.test("a signal that comes a second after the first stops running streams at once", async () => {
  await using bridge = startBridge({ SHUTDOWN_GRACE_MS: "20000", WARM_POOL: "off" });
  const running = await stream(bridge, { say: ["started"], hang: true });
  bridge.kill("SIGTERM");
  await bridge.line(/"msg":"shutting down"/);
  // The rule under test is about time: only a signal ≥ 1 s after the first is a new request.
  await new Promise((resolve) => setTimeout(resolve, 1100));
  const second = performance.now();
  bridge.kill("SIGINT");
  const events = await running.rest();
  assert.ok(performance.now() - second < 5000, "the stream ended long before the grace period");
  const error = events.find((event) =>
    typeof event === "object" && event !== null && "error" in event
  ) as { error: { code: string } } | undefined;
  assert.equal(error?.error.code, "shutting down");
  assert.equal((await bridge.status).code, 0);
});
