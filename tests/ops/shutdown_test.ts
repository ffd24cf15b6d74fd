/**
 * The bridge's own lifecycle, with `main.ts` as a real process: SIGTERM lets
 * running streams finish within SHUTDOWN_GRACE_MS, stops the rest (and the
 * warm pool) after it, refuses new connections and exits 0 with no CLI left;
 * a SIGKILLed bridge leaves no CLI behind either (each sees its pipes close
 * and exits).
 */
import assert from "node:assert/strict";
import { AUTH, FAKE_CLAUDE, sseData, steer, TEST_KEY } from "../support/harness.ts";
import { childrenOf, waitFor, waitGone } from "../support/processes.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

/** `main.ts` running as a child process with the stand-in CLI. */
class BridgeProcess implements AsyncDisposable {
  readonly child: Deno.ChildProcess;
  readonly url: Promise<string>;
  readonly output: string[] = [];

  constructor(env: Record<string, string>) {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", MAIN],
      env: {
        CLAUDE_BIN: FAKE_CLAUDE,
        API_KEYS: TEST_KEY,
        PORT: "0",
        HOST: "127.0.0.1",
        LOG_LEVEL: "info",
        ...env,
      },
      stdin: "null",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.child = child;
    const listening = Promise.withResolvers<string>();
    this.url = listening.promise;
    // Read all of stdout (the bridge must never block on a full pipe); report the URL.
    void (async () => {
      let buffer = "";
      for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
        const lines = (buffer + chunk).split("\n");
        buffer = lines.pop()!;
        this.output.push(...lines);
        const line = lines.find((line) => line.includes('"msg":"listening"'));
        if (line) listening.resolve(JSON.parse(line).url);
      }
      listening.reject(new Error(`the bridge ended before listening:\n${this.output.join("\n")}`));
    })();
  }

  /** Starts a streaming request and reads its first chunk. */
  async stream(script: Record<string, unknown>) {
    const response = await fetch((await this.url) + "/v1/chat/completions", {
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
  async runningAndWarm(): Promise<number[]> {
    await waitFor(
      () => childrenOf(this.child.pid).length === 2,
      10_000,
      "expected the running CLI and a warm one",
    );
    return childrenOf(this.child.pid);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.child.kill("SIGKILL");
    } catch {
      // Already exited.
    }
    await this.child.status;
  }
}

const text = (events: unknown[]) =>
  events
    .filter((event): event is { choices: { delta: { content?: string } }[] } =>
      typeof event === "object" && event !== null && "choices" in event
    )
    .map((event) => event.choices[0]?.delta.content ?? "")
    .join("");

Deno.test("SIGTERM: a running stream finishes, new connections are refused, exit 0 with no CLI left", async () => {
  await using bridge = new BridgeProcess({ SHUTDOWN_GRACE_MS: "15000", WARM_POOL: "off" });
  const words = Array.from({ length: 12 }, (_, i) => `word${i} `);
  const stream = await bridge.stream({ say: words, delayMs: 100 });
  const children = childrenOf(bridge.child.pid);
  assert.equal(children.length, 1);
  bridge.child.kill("SIGTERM");
  const url = await bridge.url;
  await waitFor(
    () =>
      fetch(url + "/healthz").then(
        (response) => (response.body?.cancel(), false),
        () => true,
      ),
    2000,
    "the bridge still accepts connections after SIGTERM",
  );
  const events = await stream.rest();
  assert.equal(text(events), words.join(""));
  assert.equal(events.at(-1), "[DONE]");
  assert.equal((await bridge.child.status).code, 0);
  await waitGone(children);
});

Deno.test("SIGTERM: past SHUTDOWN_GRACE_MS running streams end with a 503 event and warm CLIs stop too", async () => {
  await using bridge = new BridgeProcess({ SHUTDOWN_GRACE_MS: "300", MAX_CONCURRENT: "4" });
  const stream = await bridge.stream({ say: ["started"], hang: true });
  const children = await bridge.runningAndWarm();
  bridge.child.kill("SIGTERM");
  const events = await stream.rest();
  assert.equal(text(events), "started");
  const error = events.find((event) =>
    typeof event === "object" && event !== null && "error" in event
  ) as
    | { error: { status: number; code: string } }
    | undefined;
  assert.deepEqual([error?.error.status, error?.error.code], [503, "shutting down"]);
  assert.equal((await bridge.child.status).code, 0);
  await waitGone(children);
});

Deno.test("a SIGKILLed bridge leaves no CLI behind: running and waiting ones exit on their own", async () => {
  await using bridge = new BridgeProcess({ MAX_CONCURRENT: "4" });
  await bridge.stream({ say: ["tick "], repeat: 1000, delayMs: 50 });
  const children = await bridge.runningAndWarm();
  bridge.child.kill("SIGKILL");
  await bridge.child.status;
  await waitGone(children);
});
