/**
 * Faults of the CLI, played by the stand-in: each gives the client a clear
 * answer (a real HTTP status before the first byte, an SSE error event after
 * it), nothing is left running, and the next request works.
 */
import assert from "node:assert/strict";
import { Logger } from "../../src/ops/log.ts";
import { sseData, startServer, steer, streamedText, type TestServer } from "../support/harness.ts";
import { cliChildren, waitFor } from "../support/processes.ts";

type ErrorEvent = { error: { code: string; status: number; message: string } };

const request = (script: Record<string, unknown>, stream: boolean) => ({
  model: "haiku",
  stream,
  messages: [steer(script)],
});

/** Sends a streaming request and splits its SSE body into text, an error event and [DONE]. */
async function stream(server: TestServer, script: Record<string, unknown>) {
  const response = await server.post("/v1/chat/completions", request(script, true));
  assert.equal(response.status, 200);
  const events = sseData(await response.text());
  const error = events.find((event) =>
    typeof event === "object" && event !== null && "error" in event
  ) as ErrorEvent | undefined;
  return { text: streamedText(events), error, done: events.at(-1) === "[DONE]" };
}

/** Sends a non-streaming request and returns its status and JSON body. */
async function complete(server: TestServer, script: Record<string, unknown>, stream = false) {
  const response = await server.post("/v1/chat/completions", request(script, stream));
  return { status: response.status, body: await response.json() };
}

/** The next ordinary request, streaming and not, still works. */
async function nextRequestWorks(server: TestServer): Promise<void> {
  const { status, body } = await complete(server, { say: ["next"] });
  assert.equal(status, 200);
  assert.equal(body.choices[0].message.content, "next");
  const streamed = await stream(server, { say: ["ne", "xt"] });
  assert.deepEqual([streamed.text, streamed.done], ["next", true]);
  await waitFor(() => cliChildren().length === 0, 2000, "a CLI child is still running");
}

// No live sessions: each answered CLI exits, so "nothing left running" can be checked.
const quiet = { LOG_LEVEL: "error", LIVE_SESSIONS: "0" };

Deno.test("a CLI that crashes before any output: 503 with its stderr, streaming or not", async () => {
  await using server = await startServer(quiet);
  for (const streaming of [false, true]) {
    const { status, body } = await complete(
      server,
      { plain: "", stderr: "Segmentation fault", exit: 139 },
      streaming,
    );
    assert.equal(status, 503);
    assert.equal(body.error, "execution failed");
    assert.equal(body.detail, "Segmentation fault");
    assert.match(body.message, /exit code 139/);
  }
  await nextRequestWorks(server);
});

Deno.test("a CLI that crashes mid-stream: the text so far, then an SSE error event, no [DONE]", async () => {
  await using server = await startServer(quiet);
  const { text, error, done } = await stream(server, {
    say: ["one ", "two ", "three"],
    crashAfter: 2,
    stderr: "fatal: out of memory",
    exit: 134,
  });
  assert.equal(text, "one two ");
  assert.equal(error?.error.status, 503);
  assert.match(error!.error.message, /out of memory/);
  assert.equal(done, false);
  await nextRequestWorks(server);
});

Deno.test("non-JSON and unknown lines from the CLI are skipped", async () => {
  await using server = await startServer(quiet);
  const before = [
    "Warning: something odd",
    '{"type":"mystery","x":1}',
    "{broken json",
    "[]",
    "null",
  ];
  const streamed = await stream(server, { say: ["fine"], before });
  assert.deepEqual([streamed.text, streamed.error, streamed.done], ["fine", undefined, true]);
  const { status, body } = await complete(server, { say: ["fine"], before });
  assert.equal(status, 200);
  assert.equal(body.choices[0].message.content, "fine");
  await nextRequestWorks(server);
});

Deno.test("a CLI that hangs: 504 when nothing was sent yet, an SSE timeout event once streaming", async () => {
  await using server = await startServer({ ...quiet, REQUEST_TIMEOUT_MS: "1000" });
  const { status, body } = await complete(server, { hang: true });
  assert.equal(status, 504);
  assert.equal(body.error, "timeout");
  assert.match(body.message, /REQUEST_TIMEOUT_MS/);
  const streamed = await stream(server, { say: ["partial"], hang: true });
  assert.equal(streamed.text, "partial");
  assert.equal(streamed.error?.error.status, 504);
  assert.equal(streamed.error?.error.code, "timeout");
  await nextRequestWorks(server);
});

Deno.test("a streaming CLI whose model stays silent past FIRST_EVENT_TIMEOUT_MS: 504 naming the limit", async () => {
  await using server = await startServer({ ...quiet, FIRST_EVENT_TIMEOUT_MS: "300" });
  const { status, body } = await complete(server, { stall: true }, true);
  assert.equal(status, 504);
  assert.equal(body.error, "timeout");
  assert.match(body.message, /FIRST_EVENT_TIMEOUT_MS/);
  // A slow stream that has started is not cut by the first-event limit.
  const streamed = await stream(server, { say: ["a", "b", "c"], delayMs: 200 });
  assert.deepEqual([streamed.text, streamed.done], ["abc", true]);
  await nextRequestWorks(server);
});

Deno.test("a stdout line over MAX_LINE_CHARS is dropped and the answer still arrives", async () => {
  await using server = await startServer({ ...quiet, MAX_LINE_CHARS: "4096" });
  const streamed = await stream(server, { say: ["after the huge line"], hugeLine: 5_000_000 });
  assert.deepEqual([streamed.text, streamed.done], ["after the huge line", true]);
  const { status, body } = await complete(server, { say: ["fine"], hugeLine: 5_000_000 });
  assert.equal(status, 200);
  assert.equal(body.choices[0].message.content, "fine");
  await nextRequestWorks(server);
});

Deno.test("a dropped line is reported as a warning with its length", async () => {
  const lines: Record<string, unknown>[] = [];
  const logger = new Logger("warn", (line) => lines.push(JSON.parse(line)));
  await using server = await startServer({ ...quiet, MAX_LINE_CHARS: "1024" }, {}, logger);
  const { status, body } = await complete(server, { say: ["fine"], hugeLine: 2000 });
  assert.equal(status, 200);
  assert.equal(body.choices[0].message.content, "fine");
  const warning = lines.find((line) =>
    line.msg === "dropped a CLI output line longer than MAX_LINE_CHARS"
  );
  assert.deepEqual([warning?.length, warning?.limit], [2000, 1024]);
});

Deno.test("a CLI that exits 0 without a result line: a clear 503, or an SSE error after the text", async () => {
  await using server = await startServer(quiet);
  const { status, body } = await complete(server, { noResult: true });
  assert.equal(status, 503);
  assert.match(body.message, /without a result/);
  const streamed = await stream(server, { say: ["some text"], noResult: true });
  assert.equal(streamed.text, "some text");
  assert.equal(streamed.error?.error.status, 503);
  assert.equal(streamed.done, false);
  await nextRequestWorks(server);
});

Deno.test("a missing CLI binary: 503 naming CLAUDE_BIN every time, and no slot is lost", async () => {
  await using server = await startServer({
    ...quiet,
    CLAUDE_BIN: "/nonexistent/claude",
    MAX_CONCURRENT: "1",
    MAX_QUEUE: "0",
  });
  for (const streaming of [false, true, false, true]) {
    const { status, body } = await complete(server, {}, streaming);
    assert.equal(status, 503);
    assert.equal(body.error, "cli unavailable");
    assert.match(body.message, /CLAUDE_BIN/);
  }
  assert.equal(server.app.limiter.active, 0);
  assert.deepEqual([...Deno.readDirSync(server.workspaceRoot)], []);
});

Deno.test("a CLI writing megabytes to stderr is never blocked, and only a bounded tail is kept", async () => {
  await using server = await startServer(quiet);
  const { status, body } = await complete(server, { stderrBytes: 8 << 20, say: ["survived"] });
  assert.equal(status, 200);
  assert.equal(body.choices[0].message.content, "survived");
  const failed = await complete(server, { stderrBytes: 8 << 20, plain: "", exit: 1 });
  assert.equal(failed.status, 503);
  assert.ok(failed.body.detail.length <= 4096);
  assert.match(failed.body.detail, /^e+…?$/);
  await nextRequestWorks(server);
});
