/** The bridge's other endpoints, and its routing errors, through real HTTP. */
import assert from "node:assert/strict";
import { AUTH, recordingServer, startServer, steer } from "../support/harness.ts";
import { waitFor, waitGone } from "../support/processes.ts";

Deno.test("GET /healthz is 200 ok without auth", async () => {
  await using server = await startServer();
  const response = await fetch(`${server.url}/healthz`);
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), { status: "ok" });
});

Deno.test("an unknown path is a 404 JSON error and a wrong method a 405", async () => {
  await using server = await startServer();
  const missing = await fetch(`${server.url}/v2/nothing`, { headers: AUTH });
  assert.equal(missing.status, 404);
  assert.equal((await missing.json()).error, "not found");
  const wrong = await fetch(`${server.url}/v1/chat/completions`, { headers: AUTH });
  assert.equal(wrong.status, 405);
  assert.equal(wrong.headers.get("allow"), "POST");
  assert.match((await wrong.json()).message, /use POST/);
});

Deno.test("POST /execute returns the run's result with usage, cost, duration and session", async () => {
  await using server = await startServer();
  const response = await server.post("/execute", {
    prompt: 'do it [[fake:{"say":["done"]}]]',
    model: "haiku",
  });
  assert.equal(response.status, 200);
  const body = await response.json();
  assert.equal(body.result, "done");
  assert.equal(body.is_error, false);
  assert.equal(body.model, "haiku");
  assert.equal(body.agent, "workspace");
  assert.deepEqual(body.usage, {
    input_tokens: 10,
    output_tokens: 2,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
  });
  assert.equal(body.total_cost_usd, 0.001);
  assert.equal(typeof body.duration_ms, "number");
  assert.equal(body.num_turns, 1);
  assert.match(body.session_id, /^[0-9a-f-]{36}$/);
});

Deno.test("POST /execute needs auth, a prompt, a known model and a known agent", async () => {
  await using server = await startServer();
  const cases: [unknown, HeadersInit, number, string][] = [
    [{ prompt: "hi" }, {}, 401, "unauthorized"],
    [{}, AUTH, 400, "invalid request"],
    [{ prompt: "" }, AUTH, 400, "invalid request"],
    [{ prompt: "hi", model: "gpt-4o" }, AUTH, 400, "unsupported model"],
    [{ prompt: "hi", agent: "nobody" }, AUTH, 400, "unknown agent"],
  ];
  for (const [body, headers, status, error] of cases) {
    const response = await server.post("/execute", body, headers);
    assert.equal(response.status, status, JSON.stringify(body));
    assert.equal((await response.json()).error, error);
  }
});

Deno.test("POST /execute runs a named agent and maps a failed run to an error status", async () => {
  await using server = await startServer();
  const ok = await server.post("/execute", { prompt: "hi", agent: "conversational" });
  assert.equal((await ok.json()).agent, "conversational");
  const failed = await server.post("/execute", {
    prompt: `x [[fake:${
      JSON.stringify({
        result: { is_error: true, result: "API Error: 529 Overloaded", api_error_status: 529 },
      })
    }]]`,
  });
  assert.equal(failed.status, 503);
  assert.equal((await failed.json()).error, "upstream overloaded");
});

Deno.test("POST /execute never returns an interrupted run's text as its result", async () => {
  await using server = await startServer();
  const interrupted = {
    result: { subtype: "error_during_execution", result: "[Request interrupted by user]" },
  };
  const response = await server.post("/execute", {
    prompt: `x [[fake:${JSON.stringify(interrupted)}]]`,
  });
  assert.equal(response.status, 503);
  const body = await response.json();
  assert.equal(body.error, "execution failed");
  assert.ok(!("result" in body));
});

Deno.test("each process gets a fresh workspace from its agent's template, removed once it exits", async () => {
  await using server = await recordingServer({ LIVE_SESSIONS: "0" });
  for (const stream of [false, false, true]) {
    const response = await server.post("/v1/chat/completions", { stream, messages: [steer({})] });
    assert.equal(response.status, 200);
    await response.text();
  }
  const runs = await server.runs();
  const byAgent = (agent: string) =>
    runs.filter((run) =>
      new RegExp(`^${server.workspaceRoot}/run-${agent}-[0-9a-f]{16}/work$`).test(run.cwd)
    );
  assert.equal(byAgent("workspace").length, 2);
  assert.equal(byAgent("conversational").length, 1);
  assert.equal(new Set(runs.map((run) => run.cwd)).size, 3);
  for (const run of byAgent("workspace")) assert.deepEqual(run.files, ["README.md"]);
  assert.deepEqual(byAgent("conversational")[0]!.files, []);
  await waitGone(runs.map((run) => run.pid), 5000);
  await waitFor(
    () =>
      [...Deno.readDirSync(server.workspaceRoot)].every((entry) => !entry.name.startsWith("run-")),
    5000,
    "workspaces left behind",
  );
});
