/**
 * Logs, request ids, `/healthz`, `/readyz` and `/metrics`: the unit pieces
 * (logger, metrics registry, id validation, CLI probe) and the app end to end
 * against the stand-in CLI with a captured log.
 */
import assert from "node:assert/strict";
import { configSchema } from "../../src/config.ts";
import { Logger } from "../../src/ops/log.ts";
import { Counter, Gauge, Histogram, Registry } from "../../src/ops/metrics.ts";
import { CliProbe } from "../../src/ops/readiness.ts";
import { requestIdOf } from "../../src/ops/request_context.ts";
import { AUTH, FAKE_CLAUDE, sseData, startServer, steer, TEST_KEY } from "../support/harness.ts";
import { firstRecordedPid } from "../support/processes.ts";

type Line = Record<string, unknown>;

/** The bridge with a captured log (at `env.LOG_LEVEL`, default info). */
async function startLogged(env: Record<string, string> = {}, childEnv?: Record<string, string>) {
  const raw: string[] = [];
  let logged = Promise.withResolvers<void>();
  const logger = new Logger(configSchema.shape.LOG_LEVEL.parse(env.LOG_LEVEL), (line) => {
    raw.push(line);
    logged.resolve();
    logged = Promise.withResolvers<void>();
  });
  const server = await startServer(env, childEnv, logger);
  return {
    url: server.url,
    raw,
    get lines(): Line[] {
      return raw.map((line) => JSON.parse(line));
    },
    requests(): Line[] {
      return this.lines.filter((line) => line.msg === "request");
    },
    /** Waits, line by line as they are logged (at most 5 s), until `count` request lines were. */
    async waitForRequests(count: number): Promise<Line[]> {
      const deadline = AbortSignal.timeout(5000);
      while (this.requests().length < count && !deadline.aborted) {
        await Promise.race([
          logged.promise,
          new Promise((resolve) => deadline.addEventListener("abort", resolve, { once: true })),
        ]);
      }
      return this.requests();
    },
    chat: (body: unknown, headers: HeadersInit = {}, signal?: AbortSignal) =>
      fetch(`${server.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", ...AUTH, ...headers },
        body: JSON.stringify(body),
        signal,
      }),
    [Symbol.asyncDispose]: () => server[Symbol.asyncDispose](),
  };
}

/** The first word the stand-in CLI prints for `--version`, as the probe should report it. */
async function standInVersion(): Promise<string> {
  const output = await new Deno.Command(FAKE_CLAUDE, { args: ["--version"] }).output();
  return new TextDecoder().decode(output.stdout).trim().split(/\s+/)[0]!;
}

/** Input and output tokens of a request line's usage. */
function usageTokens(line: Line): unknown[] {
  const usage = line.usage as Record<string, unknown> | undefined;
  return [usage?.input_tokens, usage?.output_tokens];
}

Deno.test("logger writes one JSON line per call with time, level and msg, filtered by level", () => {
  const lines: string[] = [];
  const logger = new Logger("warn", (line) => lines.push(line));
  logger.info("hidden");
  logger.warn("shown", { a: 1, gone: undefined });
  logger.error("failed", { error: new RangeError("boom") });
  assert.equal(lines.length, 2);
  const [warn, error] = lines.map((line) => JSON.parse(line));
  assert.equal(warn.level, "warn");
  assert.equal(warn.msg, "shown");
  assert.equal(warn.a, 1);
  assert.ok(!("gone" in warn));
  assert.ok(!Number.isNaN(Date.parse(warn.time)));
  assert.equal(error.error.name, "RangeError");
  assert.equal(error.error.message, "boom");
  assert.equal(new Logger("debug").debugEnabled, true);
  assert.equal(new Logger("info").debugEnabled, false);
});

Deno.test("metrics registry renders counters, gauges and histograms in the Prometheus text format", () => {
  const registry = new Registry();
  const counter = registry.register(new Counter("x_total", "Things.\nCounted.", ["kind"]));
  counter.inc({ kind: 'a"b\\c\nd' });
  counter.inc({ kind: 'a"b\\c\nd' }, 2);
  registry.register(new Gauge("y", "A gauge.", [], () => 7));
  const histogram = registry.register(new Histogram("z_seconds", "Times.", [0.1, 1]));
  histogram.observe(0.05);
  histogram.observe(0.5);
  histogram.observe(5);
  assert.equal(
    registry.render(),
    [
      "# HELP x_total Things.\\nCounted.",
      "# TYPE x_total counter",
      'x_total{kind="a\\"b\\\\c\\nd"} 3',
      "# HELP y A gauge.",
      "# TYPE y gauge",
      "y 7",
      "# HELP z_seconds Times.",
      "# TYPE z_seconds histogram",
      'z_seconds_bucket{le="0.1"} 1',
      'z_seconds_bucket{le="1"} 2',
      'z_seconds_bucket{le="+Inf"} 3',
      "z_seconds_sum 5.55",
      "z_seconds_count 3",
      "",
    ].join("\n"),
  );
  assert.throws(() => registry.register(new Gauge("y", "again")), /already registered/);
  assert.throws(() => new Counter("bad-name", "x"), /Invalid metric name/);
  assert.throws(() => counter.inc({}, -1), RangeError);
});

Deno.test("request ids: a sane X-Request-Id is kept, anything else is replaced by a UUID", () => {
  const id = (value?: string) =>
    requestIdOf(
      new Request("http://x/", { headers: value === undefined ? {} : { "x-request-id": value } }),
    );
  assert.equal(id("abc-123_x.y:z"), "abc-123_x.y:z");
  assert.equal(id("0af7651916cd43dd8448eb211c80319c"), "0af7651916cd43dd8448eb211c80319c");
  const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
  for (const bad of [undefined, "", "has space", "x".repeat(129), 'quote"', "<script>"]) {
    assert.match(id(bad), uuid, `replaced: ${bad}`);
  }
});

Deno.test("CLI probe reports the version, caches it, and explains a missing binary", async () => {
  const changes: unknown[] = [];
  const probe = new CliProbe(FAKE_CLAUDE, { onChange: (status) => changes.push(status) });
  const first = await probe.status();
  assert.equal(first.ok, true);
  assert.equal(first.version, await standInVersion());
  assert.equal(await probe.status(), first, "a second call within the cache period reuses it");
  assert.deepEqual(changes, [first], "told once, about the first outcome");
  const missing = await new CliProbe("/nonexistent/claude").status();
  assert.equal(missing.ok, false);
  assert.match(missing.error!, /not found.*CLAUDE_BIN/);
});

Deno.test("every response echoes X-Request-Id: the client's, or a generated one", async () => {
  await using server = await startLogged();
  const given = await fetch(`${server.url}/healthz`, { headers: { "x-request-id": "req-42" } });
  await given.body?.cancel();
  assert.equal(given.headers.get("x-request-id"), "req-42");
  const unauthorized = await fetch(`${server.url}/v1/models`);
  await unauthorized.body?.cancel();
  assert.equal(unauthorized.status, 401);
  assert.match(unauthorized.headers.get("x-request-id")!, /^[0-9a-f-]{36}$/);
  const notFound = await fetch(`${server.url}/nope`, { headers: { "x-request-id": "bad id" } });
  await notFound.body?.cancel();
  assert.notEqual(notFound.headers.get("x-request-id"), "bad id");
});

Deno.test("a non-streaming request logs one line with model, agent, how it was served and usage, never the key or prompt", async () => {
  await using server = await startLogged();
  const response = await server.chat(
    {
      model: "haiku",
      messages: [steer({ usage: { input_tokens: 7, output_tokens: 3 } }, "SECRET")],
    },
    { "x-request-id": "trace-1" },
  );
  assert.equal(response.status, 200);
  await response.body?.cancel();
  const [line] = await server.waitForRequests(1);
  assert.ok(line);
  assert.equal(line.request_id, "trace-1");
  assert.equal(line.method, "POST");
  assert.equal(line.path, "/v1/chat/completions");
  assert.equal(line.status, 200);
  assert.equal(line.model, "haiku");
  assert.equal(line.agent, "workspace");
  assert.equal(line.stream, false);
  assert.equal(line.served, "cold");
  assert.equal(typeof line.queue_wait_ms, "number");
  assert.equal(typeof line.duration_ms, "number");
  assert.deepEqual(usageTokens(line), [7, 3]);
  assert.equal(line.level, "info");
  const all = server.raw.join("\n");
  assert.ok(!all.includes(TEST_KEY), "the bearer key is never logged");
  assert.ok(!all.includes("SECRET"), "message content is not logged at info");
});

Deno.test("LOG_LEVEL=debug logs the prompt; probes are logged only at debug", async () => {
  await using server = await startLogged({ LOG_LEVEL: "debug" });
  await (await fetch(`${server.url}/healthz`)).body?.cancel();
  await (await server.chat({ messages: [steer({}, "VISIBLE")] })).body?.cancel();
  const lines = await server.waitForRequests(2);
  const health = lines.find((line) => line.path === "/healthz");
  assert.equal(health?.level, "debug");
  const chat = lines.find((line) => line.path === "/v1/chat/completions");
  assert.match(String(chat?.prompt), /VISIBLE/);
});

Deno.test("a stream is logged when it ends, with its time to first content and usage", async () => {
  await using server = await startLogged();
  const response = await server.chat({
    model: "sonnet",
    stream: true,
    messages: [steer({ say: ["a", "b"], usage: { input_tokens: 5, output_tokens: 2 } })],
  });
  assert.equal(response.status, 200);
  const events = sseData(await response.text());
  assert.equal(events.at(-1), "[DONE]");
  const [line] = await server.waitForRequests(1);
  assert.ok(line);
  assert.equal(line.stream, true);
  assert.equal(line.agent, "conversational");
  assert.equal(line.status, 200);
  assert.equal(line.served, "cold");
  assert.equal(typeof line.ttft_ms, "number");
  assert.ok((line.ttft_ms as number) <= (line.duration_ms as number));
  assert.deepEqual(usageTokens(line), [5, 2]);
});

Deno.test("a stream the client abandons is logged once it is over, not when its headers were sent", async () => {
  await using server = await startLogged();
  const response = await server.chat({
    stream: true,
    messages: [steer({ say: ["a"], hang: true })],
  });
  const reader = response.body!.getReader();
  await reader.read();
  assert.equal(server.requests().length, 0, "no request line while the stream is open");
  await reader.cancel();
  const [line] = await server.waitForRequests(1);
  assert.ok(line);
  assert.equal(line.client_closed, true);
  assert.equal(line.status, 499, "logged as 499 client closed request");
  assert.equal(line.stream, true);
  assert.equal(line.served, "cold");
});

Deno.test("/healthz and /readyz need no key; /readyz reports the CLI version", async () => {
  await using server = await startLogged();
  const health = await fetch(`${server.url}/healthz`);
  assert.deepEqual(await health.json(), { status: "ok" });
  const ready = await fetch(`${server.url}/readyz`);
  assert.equal(ready.status, 200);
  const body = await ready.json();
  assert.equal(body.status, "ready");
  assert.equal(body.cli.ok, true);
  assert.equal(body.cli.version, await standInVersion());
});

Deno.test("/readyz answers 503 with the reason when the CLI is missing", async () => {
  await using server = await startLogged({ CLAUDE_BIN: "/nonexistent/claude" });
  const ready = await fetch(`${server.url}/readyz`);
  assert.equal(ready.status, 503);
  const body = await ready.json();
  assert.equal(body.status, "not ready");
  assert.match(body.cli.error, /CLAUDE_BIN/);
  const event = server.lines.find((line) => line.msg === "cli not ready");
  assert.equal(event?.level, "warn");
  assert.match(String(event?.error), /not found/);
});

Deno.test("/metrics counts requests by route, status and model, TTFT, CLI processes and live sessions", async () => {
  await using server = await startLogged();
  await (await server.chat({ model: "opus", messages: [steer({})] })).body?.cancel();
  await (await server.chat({ model: "opus", stream: true, messages: [steer({})] })).text();
  await (await server.chat({ model: "gpt-4", messages: [steer({})] })).body?.cancel();
  await server.waitForRequests(3);
  const response = await fetch(`${server.url}/metrics`);
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type")!, /^text\/plain; version=0\.0\.4/);
  const text = await response.text();
  assert.match(
    text,
    /^bridge_http_requests_total\{route="\/v1\/chat\/completions",status="200",model="opus"\} 2$/m,
  );
  assert.match(
    text,
    /^bridge_http_requests_total\{route="\/v1\/chat\/completions",status="400",model=""\} 1$/m,
  );
  assert.match(text, /^bridge_ttft_seconds_count\{model="opus"\} 1$/m);
  assert.match(text, /^bridge_http_request_duration_seconds_bucket\{.*le="\+Inf"\} \d+$/m);
  assert.match(text, /^bridge_cli_processes_spawned_total [1-9]\d*$/m);
  // Both answered conversations stay alive for their next turn, each holding a slot.
  assert.match(text, /^bridge_live_sessions\{state="idle"\} 2$/m);
  assert.match(text, /^bridge_runs_active 2$/m);
  assert.match(text, /^bridge_runs_queued 0$/m);
  assert.match(text, /^bridge_conversation_requests_total\{path="cold"\} 2$/m);
  assert.match(text, /^# TYPE bridge_cli_processes_killed_total counter$/m);
});

Deno.test("METRICS=auth needs an API key for /metrics; METRICS=off hides it", async () => {
  {
    await using server = await startLogged({ METRICS: "auth" });
    const anonymous = await fetch(`${server.url}/metrics`);
    await anonymous.body?.cancel();
    assert.equal(anonymous.status, 401);
    const keyed = await fetch(`${server.url}/metrics`, { headers: AUTH });
    await keyed.body?.cancel();
    assert.equal(keyed.status, 200);
  }
  {
    await using server = await startLogged({ METRICS: "off" });
    const off = await fetch(`${server.url}/metrics`, { headers: AUTH });
    await off.body?.cancel();
    assert.equal(off.status, 404);
  }
});

/** The `bridge_http_requests_total` series of a `/metrics` text. */
function requestSeries(metrics: string): string[] {
  return metrics.split("\n").filter((line) => line.startsWith("bridge_http_requests_total{"));
}

Deno.test("metrics label requests by route pattern; unmatched paths are one `other` label", async () => {
  await using server = await startLogged();
  const send = async (path: string, init: RequestInit = {}) =>
    await (await fetch(server.url + path, init)).body?.cancel();
  for (let i = 0; i < 20; i++) {
    await send(`/v1/models/anonymous-${i}`); // 401
    await send(`/v1/models/wrong-method-${i}`, { method: "DELETE" }); // 405
    await send(`/v1/models/keyed-${i}`, { headers: AUTH }); // 404 model not found
    await send(`/unknown/${i}`); // 404 no route
  }
  await server.waitForRequests(80);
  const series = requestSeries(await (await fetch(`${server.url}/metrics`)).text());
  assert.deepEqual(series.sort(), [
    'bridge_http_requests_total{route="/v1/models/:id",status="401",model=""} 20',
    'bridge_http_requests_total{route="/v1/models/:id",status="404",model=""} 20',
    'bridge_http_requests_total{route="/v1/models/:id",status="405",model=""} 20',
    'bridge_http_requests_total{route="other",status="404",model=""} 20',
  ]);
});

Deno.test("a 4xx log line carries the error code and the field at fault, never the content or the key", async () => {
  await using server = await startLogged();
  const invalid = await server.chat({
    messages: [{ role: "user", content: 42 }],
    stream: "SECRET",
  });
  assert.equal(invalid.status, 400);
  await invalid.body?.cancel();
  const unauthorized = await fetch(`${server.url}/v1/models`, {
    headers: { authorization: "Bearer wrong-SECRET-key" },
  });
  assert.equal(unauthorized.status, 401);
  await unauthorized.body?.cancel();
  const [validation, auth] = await server.waitForRequests(2);
  assert.equal(validation?.error, "invalid request");
  assert.match(String(validation?.error_param), /^(messages|stream)/);
  assert.equal(auth?.error, "unauthorized");
  assert.equal(auth?.error_param, undefined);
  assert.ok(!server.raw.join("\n").includes("SECRET"), "no content and no key in the log");
});

Deno.test("a malformed percent-encoded path is a 400 naming the problem, with nothing logged as unexpected", async () => {
  await using server = await startLogged();
  for (const path of ["/v1/models/%ZZ", "/v1/models/%E0%A4%A", "/v1/%FF"]) {
    const response = await fetch(server.url + path, { headers: AUTH });
    assert.equal(response.status, 400, path);
    const body = await response.json();
    assert.equal(body.error, "invalid path");
    assert.match(body.message, /percent-encoding/);
  }
  const lines = await server.waitForRequests(3);
  assert.deepEqual(lines.map((line) => line.error), Array(3).fill("invalid path"));
  assert.ok(!server.lines.some((line) => line.msg === "unexpected error"), server.raw.join("\n"));
});

Deno.test("a client that leaves after its run started is 499 in the log and the metrics", async () => {
  const record = await Deno.makeTempDir();
  try {
    await using server = await startLogged({}, { FAKE_CLAUDE_RECORD: record });
    const abort = new AbortController();
    const request = server.chat({ messages: [steer({ hang: true })] }, {}, abort.signal);
    await firstRecordedPid(record);
    abort.abort();
    await request.catch(() => {});
    const [line] = await server.waitForRequests(1);
    assert.equal(line?.status, 499);
    assert.equal(line?.client_closed, true);
    const series = requestSeries(await (await fetch(`${server.url}/metrics`)).text());
    assert.ok(
      series.some((line) => line.includes('route="/v1/chat/completions",status="499"')),
      series.join("\n"),
    );
    assert.ok(!series.some((line) => line.includes('status="503"')), series.join("\n"));
  } finally {
    await Deno.remove(record, { recursive: true });
  }
});
