/**
 * Cancellation: when the client goes away (mid-stream, before the first byte,
 * on the non-streaming path and on /execute), the CLI child — and anything it
 * started — is gone within 2 s, its workspace is removed and its slot freed.
 */
import assert from "node:assert/strict";
import {
  AUTH,
  type RecordingServer,
  recordingServer,
  steer,
  type TestServer,
} from "../support/harness.ts";
import {
  firstRecordedPid,
  grandchildPids,
  isRunning,
  waitFor,
  waitGone,
} from "../support/processes.ts";

function post(server: TestServer, path: string, body: unknown, signal: AbortSignal) {
  return fetch(server.url + path, {
    method: "POST",
    headers: { "content-type": "application/json", ...AUTH },
    body: JSON.stringify(body),
    signal,
  });
}

const chat = (script: Record<string, unknown>, stream: boolean) => ({
  model: "haiku",
  stream,
  messages: [steer(script)],
});

/** The workspace directories that still exist. */
function workspaces(server: TestServer): string[] {
  return [...Deno.readDirSync(server.workspaceRoot)].map((entry) => entry.name);
}

/** After a cancelled run: the server still answers a normal request. */
async function stillServes(server: TestServer): Promise<void> {
  const response = await server.post("/v1/chat/completions", chat({ say: ["fine"] }, false));
  assert.equal(response.status, 200);
  assert.equal((await response.json()).choices[0].message.content, "fine");
}

Deno.test("a client that aborts mid-stream stops its CLI within 2 s and frees its slot", async () => {
  await using fixture = await recordingServer({ MAX_CONCURRENT: "1", MAX_QUEUE: "0" });
  const { dir } = fixture;
  const server: TestServer = fixture;
  const controller = new AbortController();
  const response = await post(
    server,
    "/v1/chat/completions",
    chat({ say: ["a", "b"], repeat: 1000, delayMs: 50 }, true),
    controller.signal,
  );
  assert.equal(response.status, 200);
  const reader = response.body!.getReader();
  assert.equal((await reader.read()).done, false);
  const pid = await firstRecordedPid(dir);
  assert.ok(isRunning(pid));
  controller.abort();
  await reader.closed.catch(() => {});
  await waitGone([pid]);
  await waitFor(() => workspaces(server).length === 0, 2000, "workspace not removed");
  await stillServes(server);
});

/**
 * Sends a request, waits until its CLI has started, then leaves (aborts) and
 * returns the CLI's pid. `beforeLeaving` runs while the CLI is up.
 */
async function leaveAfterStart(
  fixture: RecordingServer,
  path: string,
  body: unknown,
  beforeLeaving: () => Promise<void> = async () => {},
): Promise<number> {
  const controller = new AbortController();
  const pending = post(fixture, path, body, controller.signal).catch((error) => error);
  const pid = await firstRecordedPid(fixture.dir);
  await beforeLeaving();
  controller.abort();
  assert.equal((await pending).name, "AbortError");
  return pid;
}

Deno.test("a client that leaves before the first byte stops its CLI within 2 s", async () => {
  await using fixture = await recordingServer();
  const pid = await leaveAfterStart(fixture, "/v1/chat/completions", chat({ stall: true }, true));
  await waitGone([pid]);
  await stillServes(fixture);
});

Deno.test("a CLI that ignores SIGTERM is killed within 2 s of the abort", async () => {
  await using fixture = await recordingServer({ KILL_GRACE_MS: "500" });
  const script = { stall: true, ignoreSigterm: true };
  const pid = await leaveAfterStart(fixture, "/v1/chat/completions", chat(script, true));
  await waitGone([pid]);
});

Deno.test("a non-streaming client that leaves stops its CLI within 2 s", async () => {
  await using fixture = await recordingServer();
  const pid = await leaveAfterStart(fixture, "/v1/chat/completions", chat({ hang: true }, false));
  await waitGone([pid]);
  await stillServes(fixture);
});

Deno.test("an /execute client that leaves stops its CLI within 2 s", async () => {
  await using fixture = await recordingServer();
  const prompt = `go [[fake:${JSON.stringify({ hang: true })}]]`;
  const pid = await leaveAfterStart(fixture, "/execute", { prompt });
  await waitGone([pid]);
});

Deno.test("what the CLI started dies with it when the client leaves", async () => {
  await using fixture = await recordingServer();
  const script = { grandchild: true, stall: true };
  const pid = await leaveAfterStart(
    fixture,
    "/v1/chat/completions",
    chat(script, true),
    async () => {
      await waitFor(() => grandchildPids(fixture.dir).length === 1, 5000, "no grandchild");
      assert.ok(isRunning(grandchildPids(fixture.dir)[0]!));
    },
  );
  await waitGone([pid, ...grandchildPids(fixture.dir)]);
});

Deno.test("what the CLI started is killed when the CLI exits by itself", async () => {
  // Without live sessions, the CLI exits once its answer is in.
  await using fixture = await recordingServer({ LIVE_SESSIONS: "0" });
  const { dir } = fixture;
  const server: TestServer = fixture;
  const response = await server.post(
    "/v1/chat/completions",
    chat({ grandchild: true, say: ["done"] }, false),
  );
  assert.equal(response.status, 200);
  await response.body?.cancel();
  const [grandchild] = grandchildPids(dir);
  assert.ok(grandchild);
  await waitGone([grandchild]);
});
