/**
 * Native conversations through the app, with the stand-in CLI as real
 * subprocesses: the client's system prompt, live sessions (reuse, eviction,
 * idle timeout, giving up slots, shutdown), the resume path for any history
 * the live process does not hold, warm first turns with per-turn settings,
 * session files kept private, and the first-event timeout on a stuck resume.
 */
import assert from "node:assert/strict";
import { type RecordingServer, recordingServer, steer, streamedText } from "../support/harness.ts";
import { isRunning, waitFor, waitGone } from "../support/processes.ts";

type Message = { role: string; content: string };

async function chat(
  server: RecordingServer,
  messages: Message[],
  extra: Record<string, unknown> = {},
) {
  const response = await server.post("/v1/chat/completions", {
    model: "sonnet",
    messages,
    ...extra,
  });
  const text = await response.text();
  assert.equal(response.status, 200, text);
  return extra.stream ? streamedText(text) : JSON.parse(text).choices[0].message.content as string;
}

const system = { role: "system", content: "PERSONA: you are Ava." };
const user = (content: string) => ({ role: "user", content });
const assistant = (content: string) => ({ role: "assistant", content });

Deno.test("a conversation's next turn goes to the live process of its last one: one process, native turns", async () => {
  await using server = await recordingServer();
  const first = await chat(server, [system, steer({ say: ["Hello, I am Ava."] })], {
    stream: true,
  });
  assert.equal(first, "Hello, I am Ava.");
  const history = [system, steer({ say: ["Hello, I am Ava."] }), assistant(first)];
  const second = await chat(server, [...history, steer({ echo: "history" }, "second question")], {
    stream: true,
  });
  const runs = await server.runs();
  assert.equal(runs.length, 1, "both turns ran in one CLI process");
  assert.equal(runs[0]!.turns.length, 2);
  assert.deepEqual(server.app.engine.paths.live, 1);
  const seen = JSON.parse(second) as { role: string; content: { type: string; text?: string }[] }[];
  assert.deepEqual(seen.map((message) => message.role), ["user", "assistant", "user"]);
  assert.match(JSON.stringify(seen[1]), /Hello, I am Ava\./);
  assert.match(JSON.stringify(seen[2]), /second question/);
});

Deno.test("the client's system and developer messages become the system prompt, after the agent's, on stdin only", async () => {
  await using server = await recordingServer();
  const answer = await chat(server, [
    system,
    { role: "developer", content: "DEVELOPER-RULE" },
    steer({ echo: "system" }),
  ]);
  const agentPrompt = JSON.parse(
    await Deno.readTextFile(new URL("../../agents/workspace/agent.json", import.meta.url)),
  ).systemPrompt;
  assert.equal(answer, `${agentPrompt}\n\nPERSONA: you are Ava.\n\nDEVELOPER-RULE`);
  const [run] = await server.runs();
  assert.ok(!run!.argv.some((arg) => arg.includes("PERSONA") || arg.includes("DEVELOPER-RULE")));
  assert.match(run!.stdin, /PERSONA: you are Ava\./);
});

Deno.test("a history the live process does not hold (barge-in: the assistant cut short) resumes natively from a session file", async () => {
  await using server = await recordingServer();
  const opening = steer({ say: ["One two three four five."] });
  await chat(server, [system, opening], { stream: true });
  // Pipecat keeps only what was spoken before the user barged in.
  const history = await chat(server, [
    system,
    opening,
    assistant("One two"),
    steer({ echo: "history" }, "wait"),
  ], { stream: true });
  const runs = await server.runs();
  assert.equal(runs.length, 2, "the barged-in history started a new process");
  assert.equal(server.app.engine.paths.resume, 1);
  assert.ok(runs[1]!.resume, "the new process resumed a session file");
  const messages = JSON.parse(history) as { role: string; content: { text?: string }[] }[];
  assert.deepEqual(messages.map((message) => message.role), ["user", "assistant", "user"]);
  assert.equal(messages[1]!.content.map((block) => block.text).join(""), "One two");
});

Deno.test("after a restart the next turn resumes from the history the client sent", async () => {
  const messages = [system, user("hi"), assistant("Hello."), steer({ echo: "history" }, "again")];
  await using server = await recordingServer();
  const history = JSON.parse(await chat(server, messages)) as { role: string }[];
  assert.deepEqual(history.map((message) => message.role), ["user", "assistant", "user"]);
  assert.equal(server.app.engine.paths.resume, 1);
  const [run] = await server.runs();
  assert.match(run!.resume ?? "", /"Hello\."/);
});

Deno.test("a conversation with only an assistant greeting before the user starts with the fixed opening line", async () => {
  await using server = await recordingServer();
  const history = JSON.parse(
    await chat(server, [system, assistant("Hi, I am Ava."), steer({ echo: "history" }, "hello")]),
  ) as { role: string; content: { text?: string }[] }[];
  assert.deepEqual(history.map((message) => message.role), ["user", "assistant", "user"]);
  assert.match(JSON.stringify(history[0]), /\(The conversation begins\.\)/);
});

Deno.test("LIVE_SESSIONS bounds idle sessions: the least recently used one is stopped", async () => {
  await using server = await recordingServer({ LIVE_SESSIONS: "1" });
  await chat(server, [steer({ say: ["A"] }, "conversation A")]);
  const [a] = await server.runs();
  assert.ok(isRunning(a!.pid), "A stays alive as a live session");
  await chat(server, [steer({ say: ["B"] }, "conversation B")]);
  await waitGone([a!.pid], 5000);
  assert.equal(server.app.engine.live.status().idle, 1);
});

Deno.test("LIVE_SESSIONS=0 keeps none: the CLI exits by itself once its answer is in", async () => {
  await using server = await recordingServer({ LIVE_SESSIONS: "0" });
  await chat(server, [user("hi")], { stream: true });
  const [run] = await server.runs();
  await waitGone([run!.pid], 5000);
  assert.equal(server.app.engine.live.status().idle, 0);
});

Deno.test("an idle live session past LIVE_SESSION_IDLE_MS is stopped", async () => {
  await using server = await recordingServer({ LIVE_SESSION_IDLE_MS: "1000" });
  await chat(server, [user("hi")]);
  const [run] = await server.runs();
  assert.equal(server.app.engine.live.status().idle, 1);
  await waitGone([run!.pid], 5000);
  assert.equal(server.app.engine.live.status().idle, 0);
});

Deno.test("a live session gives its MAX_CONCURRENT slot to a request that needs one", async () => {
  await using server = await recordingServer({ MAX_CONCURRENT: "1", MAX_QUEUE: "1" });
  await chat(server, [user("conversation A")]);
  assert.equal(server.app.engine.live.status().idle, 1);
  // B needs the only slot, which A's idle process holds: A must give it up.
  assert.equal(
    await chat(server, [steer({ say: ["B answered"] }, "conversation B")]),
    "B answered",
  );
});

Deno.test("shutdown stops every live session", async () => {
  await using server = await recordingServer();
  await chat(server, [user("one")]);
  await chat(server, [user("two")], { stream: true });
  const pids = (await server.runs()).map((run) => run.pid);
  assert.ok(pids.every(isRunning));
  await server.app.close(0);
  await waitGone(pids, 5000);
});

Deno.test("/execute does not keep its process: it exits once the answer is in", async () => {
  await using server = await recordingServer();
  const response = await server.post("/execute", { prompt: "hi" });
  assert.equal(response.status, 200);
  assert.equal((await response.json()).result, "ok");
  const [run] = await server.runs();
  await waitGone([run!.pid], 5000);
});

Deno.test("a first turn takes a warm process, and its token limit and effort reach it as turn settings", async () => {
  await using server = await recordingServer({ WARM_POOL: "sonnet=1" });
  await waitFor(
    () => server.app.pool?.status().models.sonnet?.ready === 1,
    10_000,
    "the pool never got ready",
  );
  const settings = JSON.parse(
    await chat(server, [steer({ echo: "settings" })], {
      stream: true,
      max_tokens: 32000,
      reasoning_effort: "low",
    }),
  );
  assert.equal(server.app.engine.paths.warm, 1);
  assert.equal(settings.maxTokens, 32000);
  assert.equal(settings.effort, "low");
  assert.notEqual(settings.thinking.type, "disabled", "a generous limit keeps thinking on");
  const small = JSON.parse(
    await chat(server, [steer({ echo: "settings" }, "other")], { stream: true, max_tokens: 500 }),
  );
  assert.equal(small.maxTokens, 500);
  assert.equal(small.thinking.type, "disabled", "a limit under 2048 turns thinking off");
});

Deno.test("session files are written in the run's private directory, outside its working directory, and removed with it", async () => {
  await using server = await recordingServer({ LIVE_SESSIONS: "0" });
  await chat(server, [user("hi"), assistant("Hello."), user("again")]);
  const [run] = await server.runs();
  const file = run!.argv[run!.argv.indexOf("--resume") + 1]!;
  const runDir = run!.cwd.replace(/\/work$/, "");
  assert.equal(run!.cwd, `${runDir}/work`);
  assert.equal(file, `${runDir}/private/session.jsonl`);
  assert.ok(runDir.startsWith(server.workspaceRoot));
  await waitGone([run!.pid], 5000);
  await waitFor(
    () => Deno.stat(runDir).then(() => false, () => true),
    5000,
    "run directory not removed",
  );
});

Deno.test("a resumed CLI that never answers is stopped by FIRST_EVENT_TIMEOUT_MS with a clear 504", async () => {
  await using server = await recordingServer({ FIRST_EVENT_TIMEOUT_MS: "500" });
  for (const stream of [false, true]) {
    const response = await server.post("/v1/chat/completions", {
      stream,
      messages: [user("hi"), assistant("Hello."), steer({ stall: true })],
    });
    const body = await response.json();
    assert.equal(response.status, 504, JSON.stringify(body));
    assert.equal(body.error, "timeout");
    assert.match(body.message, /FIRST_EVENT_TIMEOUT_MS/);
  }
});
