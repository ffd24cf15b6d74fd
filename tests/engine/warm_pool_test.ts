/**
 * The warm pool, against the stand-in CLI as real subprocesses: taking,
 * falling back to cold starts, refilling, recycling, replacing, backing off,
 * sharing `MAX_CONCURRENT`, and cleaning up.
 */
import assert from "node:assert/strict";
import { type Agent, loadAgent } from "../../src/claude/agents.ts";
import type { RunSpec } from "../../src/claude/args.ts";
import { Limiter } from "../../src/engine/limiter.ts";
import { launch, type RunnerOptions } from "../../src/engine/runner.ts";
import { type Launched, WarmPool, type WarmPoolOptions } from "../../src/engine/warm_pool.ts";
import { FAKE_CLAUDE, sseData, startServer, steer } from "../support/harness.ts";

const AGENTS_DIR = new URL("../../agents", import.meta.url).pathname;

/** Polls `check` until it holds; fails (instead of hanging) after a generous bound. */
async function until(what: string, check: () => boolean): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function entries(dir: string): Promise<string[]> {
  return (await Array.fromAsync(Deno.readDir(dir))).map((entry) => entry.name);
}

/** A pool over the stand-in whose every launched process the test can see. */
async function testPool(
  options: Partial<WarmPoolOptions> & { bin?: string } = {},
): Promise<
  { pool: WarmPool; agent: Agent; launched: Launched[]; root: string } & AsyncDisposable
> {
  const agent = await loadAgent(AGENTS_DIR, "conversational");
  const root = await Deno.makeTempDir({ prefix: "warm-pool-test-" });
  const runnerOptions: RunnerOptions = {
    claudeBin: options.bin ?? FAKE_CLAUDE,
    workspaceRoot: root,
  };
  const launched: Launched[] = [];
  const pool = new WarmPool({
    agent,
    sizes: { sonnet: 1 },
    maxAgeMs: 600_000,
    backoffMs: 10,
    refillDelayMs: 0,
    launch: async (spec: RunSpec) => {
      const started = await launch(runnerOptions, spec);
      launched.push(started);
      return started;
    },
    ...options,
  });
  return {
    pool,
    agent,
    launched,
    root,
    async [Symbol.asyncDispose]() {
      await pool[Symbol.asyncDispose]();
      await Deno.remove(root, { recursive: true });
    },
  };
}

const ready = (pool: WarmPool, model = "sonnet") => pool.status().models[model]?.ready ?? 0;

async function streamText(response: Response): Promise<string> {
  assert.equal(response.status, 200);
  const events = sseData(await response.text());
  assert.equal(events.at(-1), "[DONE]");
  return events.slice(0, -1)
    .map((event) => (event as { choices: { delta: { content?: string } }[] }).choices[0])
    .map((choice) => choice?.delta.content ?? "")
    .join("");
}

Deno.test("a streaming request takes a ready warm process and gets the whole prompt on its stdin", async () => {
  const record = await Deno.makeTempDir();
  Deno.env.set("FAKE_CLAUDE_RECORD", record);
  try {
    await using server = await startServer({ WARM_POOL: "sonnet=1" });
    const pool = server.app.pool!;
    await until("the warm process is ready", () => ready(pool) === 1);
    const response = await server.post("/v1/chat/completions", {
      model: "sonnet",
      stream: true,
      messages: [steer({ say: ["warm ", "hello"] }, "Hi there")],
    });
    assert.equal(await streamText(response), "warm hello");
    assert.equal(pool.status().taken, 1);
    const [file] = await entries(record);
    const recorded = JSON.parse(await Deno.readTextFile(`${record}/${file}`));
    const lines = recorded.stdin.trim().split("\n").map((line: string) => JSON.parse(line));
    assert.deepEqual(lines.map((line: { type: string }) => line.type), ["control_request", "user"]);
    assert.match(lines[1].message.content[0].text, /^Hi there/);
    assert.ok(recorded.argv.includes("--system-prompt"), "the agent's system prompt is in argv");
  } finally {
    Deno.env.delete("FAKE_CLAUDE_RECORD");
    await Deno.remove(record, { recursive: true });
  }
});

Deno.test("a request for an unpooled model, or when the pool is empty, starts cold", async () => {
  await using server = await startServer({ WARM_POOL: "sonnet=1" });
  const pool = server.app.pool!;
  await until("the warm process is ready", () => ready(pool) === 1);
  const haiku = await server.post("/v1/chat/completions", {
    model: "haiku",
    stream: true,
    messages: [steer({ say: ["cold"] })],
  });
  assert.equal(await streamText(haiku), "cold");
  assert.equal(pool.status().taken, 0);
  const both = await Promise.all([1, 2].map((n) =>
    server.post("/v1/chat/completions", {
      model: "sonnet",
      stream: true,
      messages: [steer({ say: [`answer ${n}`], firstDelayMs: 100 })],
    })
  ));
  assert.deepEqual(await Promise.all(both.map(streamText)), ["answer 1", "answer 2"]);
  assert.equal(pool.status().taken, 1, "one took the warm process, the other started cold");
});

Deno.test("a non-streaming request uses the pool when its agent is the pooled one", async () => {
  await using server = await startServer({
    WARM_POOL: "sonnet=1",
    COMPLETION_AGENT: "conversational",
  });
  const pool = server.app.pool!;
  await until("the warm process is ready", () => ready(pool) === 1);
  const response = await server.post("/v1/chat/completions", {
    model: "sonnet",
    messages: [steer({ say: ["not ", "streamed"] })],
  });
  assert.equal(response.status, 200);
  const body = await response.json();
  assert.equal(body.choices[0].message.content, "not streamed");
  assert.equal(pool.status().taken, 1);
});

Deno.test("the pool refills in the background after a take", async () => {
  await using test = await testPool();
  const { pool, agent } = test;
  await until("ready", () => ready(pool) === 1);
  const warm = pool.take({ agent, model: "sonnet", output: "stream-json" });
  assert.ok(warm);
  assert.equal(pool.status().models.sonnet!.ready, 0);
  await until("a replacement is ready", () => ready(pool) === 1);
  assert.equal(pool.status().spawned, 2);
  await warm.process.send('{"type":"user","message":{"role":"user","content":"hi"}}\n');
  await warm.process.exited;
  await warm.workspace.remove();
  warm.permit.release();
});

Deno.test("take refuses another agent, an unpooled model and a spec that changes the argv", async () => {
  await using test = await testPool();
  const { pool, agent } = test;
  await until("ready", () => ready(pool) === 1);
  const workspace = await loadAgent(AGENTS_DIR, "workspace");
  assert.equal(pool.take({ agent: workspace, model: "sonnet", output: "stream-json" }), undefined);
  assert.equal(pool.take({ agent, model: "haiku", output: "stream-json" }), undefined);
  const schema = { type: "object" };
  assert.equal(
    pool.take({ agent, model: "sonnet", output: "stream-json", jsonSchema: schema }),
    undefined,
  );
  assert.equal(pool.status().models.sonnet!.ready, 1);
});

Deno.test("an idle process is recycled after the maximum age", async () => {
  await using test = await testPool({ maxAgeMs: 200 });
  const { pool, launched } = test;
  await until(
    "one was retired and its successor is ready",
    () => pool.status().retired >= 1 && ready(pool) === 1,
  );
  const first = launched[0]!;
  assert.equal(first.process.running, false);
  await until("its workspace is gone", () => {
    try {
      Deno.statSync(first.workspace.path);
      return false;
    } catch {
      return true;
    }
  });
  assert.equal(pool.status().failed, 0);
});

Deno.test("a process that dies while waiting is replaced", async () => {
  await using test = await testPool();
  const { pool, launched } = test;
  await until("ready", () => ready(pool) === 1);
  Deno.kill(launched[0]!.process.pid, "SIGKILL");
  await until("a replacement is ready", () => launched.length === 2 && ready(pool) === 1);
  const status = pool.status();
  assert.equal(status.failed, 1);
  assert.match(status.lastFailure ?? "", /exited while waiting/);
});

Deno.test("a CLI that keeps dying is restarted with a doubling, capped backoff", async () => {
  await using test = await testPool({ bin: "false", backoffMs: 20, maxBackoffMs: 80 });
  const { pool } = test;
  await until("four failures", () => pool.status().failed >= 4);
  assert.equal(pool.status().backoffMs, 80);
  assert.equal(ready(pool), 0);
});

Deno.test("no respawn storm: after a failure nothing starts before the backoff", async () => {
  await using test = await testPool({ bin: "false", backoffMs: 60_000 });
  const { pool } = test;
  await until("the first failure", () => pool.status().failed === 1);
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(pool.status().spawned, 1);
});

Deno.test("warm processes hold MAX_CONCURRENT slots and never take a queued request's", async () => {
  const limiter = new Limiter({ maxActive: 2, maxQueue: 4 });
  await using test = await testPool({ limiter, sizes: { sonnet: 2, haiku: 1 } });
  const { pool } = test;
  await until("two ready", () => ready(pool) + ready(pool, "haiku") === 2);
  assert.equal(limiter.active, 2);
  assert.equal(pool.status().spawned, 2, "the third process waits for a slot");
  assert.equal(pool.shed(), true, "an idle process gives its slot up");
  const permit = await limiter.acquire();
  assert.equal(pool.status().retired, 1);
  assert.equal(limiter.active, 2);
  permit.release();
});

Deno.test("a cold start at MAX_CONCURRENT makes an idle warm process give way", async () => {
  await using server = await startServer({ WARM_POOL: "sonnet=2", MAX_CONCURRENT: "2" });
  const pool = server.app.pool!;
  await until("both ready", () => ready(pool) === 2);
  const response = await server.post("/v1/chat/completions", {
    model: "haiku",
    stream: true,
    messages: [steer({ say: ["made room"] })],
  });
  assert.equal(await streamText(response), "made room");
  assert.equal(pool.status().retired, 1);
});

Deno.test("dispose stops every warm process and leaves no workspace behind", async () => {
  const test = await testPool({ sizes: { sonnet: 2, haiku: 1 } });
  const { pool, launched, root } = test;
  await until("three started", () => launched.length === 3);
  await pool[Symbol.asyncDispose]();
  assert.ok(launched.every(({ process }) => !process.running));
  assert.deepEqual(await entries(root), []);
  assert.equal(pool.take({ agent: test.agent, model: "sonnet", output: "stream-json" }), undefined);
  await test[Symbol.asyncDispose]();
});
