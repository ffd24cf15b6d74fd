/**
 * Reply: CLI events of one turn in, neutral reply events out — text relay,
 * stop sequences and token limits, structured output, client tool calls,
 * usage, the first-event promise, recovery from a non-streamed message, the
 * process's exit, cancellation and back-pressure. Events are fed with
 * `take()` and read from `events`; no process, no timers.
 */
import assert from "node:assert/strict";
import type { AssistantBlock, CliEvent, CliResult, CliUsage } from "../../src/claude/events.ts";
import type { CliExit } from "../../src/claude/process.ts";
import { ToolNames } from "../../src/claude/tool_names.ts";
import { HttpError } from "../../src/http/http_error.ts";
import {
  emptyUsage,
  finishReasonOf,
  MAX_QUEUED_EVENTS,
  parseArguments,
  Reply,
  type ReplyEnd,
  type ReplyEvent,
  type ReplyOptions,
} from "../../src/engine/reply.ts";

const names = new ToolNames(["get.weather", "lookup"]);

const usage = (fields: Partial<CliUsage> = {}): CliUsage => ({
  input_tokens: 0,
  output_tokens: 0,
  cache_creation_input_tokens: 0,
  cache_read_input_tokens: 0,
  ...fields,
});
const start = (id: string, fields: Partial<CliUsage> = {}): CliEvent => ({
  type: "message_start",
  id,
  usage: usage(fields),
});
const text = (value: string): CliEvent => ({ type: "text", text: value });
const toolStart = (index: number, id: string, name: string): CliEvent => ({
  type: "tool_start",
  index,
  id,
  name,
});
const toolInput = (index: number, json: string): CliEvent => ({ type: "tool_input", index, json });
const blockStop = (index: number): CliEvent => ({ type: "block_stop", index });
const delta = (stopReason?: string, fields?: Partial<CliUsage>): CliEvent => ({
  type: "message_delta",
  ...(stopReason === undefined ? {} : { stopReason }),
  ...(fields === undefined ? {} : { usage: usage(fields) }),
});
const assistant = (id: string, blocks: AssistantBlock[]): CliEvent => ({
  type: "assistant",
  id,
  blocks,
});
const result = (fields: Partial<CliResult> = {}): CliEvent => ({
  type: "result",
  result: { type: "result", subtype: "success", is_error: false, ...fields },
});
const raw = (line: string): CliEvent => ({ type: "raw", line });
const exit = (fields: Partial<CliExit> = {}): CliExit => ({
  code: 0,
  signal: null,
  stderr: "",
  ...fields,
});

function reply(options: Partial<ReplyOptions> = {}): Reply {
  return new Reply({ stop: [], structured: false, names, ...options });
}

/** Feeds `events` while reading the reply to its end; returns what it emitted and how it ended. */
async function run(
  events: CliEvent[],
  options: Partial<ReplyOptions> = {},
  after?: (reply: Reply) => unknown,
): Promise<{ out: ReplyEvent[]; end: ReplyEnd; reply: Reply }> {
  const target = reply(options);
  const feeding = (async () => {
    for (const event of events) await target.take(event);
    await after?.(target);
  })();
  const out = await Array.fromAsync(target.events);
  await feeding;
  return { out, end: await target.ended, reply: target };
}

const texts = (out: ReplyEvent[]) =>
  out.flatMap((event) => event.type === "text" ? [event.text] : []);
const last = (out: ReplyEvent[]) => out.at(-1)!;

function errorOf(event: ReplyEvent): HttpError {
  assert.equal(event.type, "error");
  return (event as { error: HttpError }).error;
}

/** Lets every pending microtask run (no timers): enough for an unblocked take to resolve. */
async function drainMicrotasks(): Promise<void> {
  for (let i = 0; i < 50; i++) await Promise.resolve();
}

Deno.test("text deltas are relayed as they come, then the end with finish stop", async () => {
  const { out, end } = await run([
    start("m1", { input_tokens: 10 }),
    text("Hel"),
    text("lo"),
    text(""),
    delta("end_turn", { input_tokens: 10, output_tokens: 2 }),
    result({ result: "Hello" }),
  ]);
  assert.deepEqual(out, [
    { type: "text", text: "Hel" },
    { type: "text", text: "lo" },
    { type: "end", finish: "stop", usage: { ...emptyUsage(), inputTokens: 10, outputTokens: 2 } },
  ]);
  assert.deepEqual(end, { kind: "answered" });
});

Deno.test("the result's text stands in when nothing was streamed", async () => {
  const { out, end } = await run([result({ result: "from the result" })]);
  assert.deepEqual(texts(out), ["from the result"]);
  assert.equal(last(out).type, "end");
  assert.deepEqual(end, { kind: "answered" });
});

Deno.test("a stop sequence split across deltas cuts the text: finish stop, ended cut", async () => {
  const target = reply({ stop: ["END"] });
  const feeding = (async () => {
    for (const event of [start("m"), text("Hello E"), text("ND of it"), text("more")]) {
      await target.take(event);
    }
  })();
  const out = await Array.fromAsync(target.events);
  await feeding;
  assert.equal(texts(out).join(""), "Hello ");
  assert.deepEqual(last(out), { type: "end", finish: "stop", usage: emptyUsage() });
  assert.deepEqual(await target.ended, { kind: "cut" });
  assert.equal(target.over, true);
  assert.deepEqual(target.turn, { role: "assistant", content: [{ type: "text", text: "Hello " }] });
});

Deno.test("text held back as a possible stop sequence is released when it is not one", async () => {
  const { out } = await run([start("m"), text("a E"), text("x"), delta("end_turn"), result()], {
    stop: ["END"],
  });
  assert.equal(texts(out).join(""), "a Ex");
});

Deno.test("a max_tokens stop ends with finish length and asks for the process to stop", async () => {
  const { out, end } = await run([start("m"), text("abcX"), delta("max_tokens")], {
    stop: ["XYZ"],
  });
  assert.equal(texts(out).join(""), "abcX", "the held-back tail is flushed at the end");
  assert.deepEqual(last(out), { type: "end", finish: "length", usage: emptyUsage() });
  assert.deepEqual(end, { kind: "cut" });
});

Deno.test("a refusal stop ends with finish content_filter", async () => {
  const { out } = await run([start("m"), text("I can't"), delta("refusal"), result()]);
  assert.deepEqual(last(out), { type: "end", finish: "content_filter", usage: emptyUsage() });
});

Deno.test("text of a later message of the turn is set apart by a blank line", async () => {
  const { out, reply: done } = await run([
    start("m1"),
    text("Let me read the file."),
    toolStart(1, "toolu_r", "Read"),
    toolInput(1, '{"file_path":"a.txt"}'),
    blockStop(1),
    delta("tool_use"),
    start("m2"),
    text("It says hi."),
    delta("end_turn"),
    result({ result: "It says hi." }),
  ]);
  assert.deepEqual(texts(out), ["Let me read the file.", "\n\n", "It says hi."]);
  assert.deepEqual(done.turn.content, [{
    type: "text",
    text: "Let me read the file.\n\nIt says hi.",
  }]);
});

Deno.test("no blank line before the first text of a turn", async () => {
  const { out } = await run([
    start("m1"),
    toolStart(0, "toolu_r", "Read"),
    blockStop(0),
    delta("tool_use"),
    start("m2"),
    text("Done."),
    delta("end_turn"),
    result(),
  ]);
  assert.deepEqual(texts(out), ["Done."]);
});

Deno.test("the agent's own tool calls are not relayed", async () => {
  const { out } = await run([
    start("m1"),
    toolStart(0, "toolu_g", "Glob"),
    toolInput(0, '{"pattern":"*"}'),
    blockStop(0),
    toolStart(1, "toolu_s", "StructuredOutput"),
    blockStop(1),
    toolStart(2, "toolu_x", "mcp__bridge__not_offered"),
    blockStop(2),
    delta("tool_use"),
    start("m2"),
    text("ok"),
    delta("end_turn"),
    result(),
  ]);
  assert.deepEqual(out.map((event) => event.type), ["text", "end"]);
});

Deno.test("client tool calls are relayed under the client's names, then end with tool_calls", async () => {
  const { out, end, reply: done } = await run([
    start("m1"),
    text("Checking."),
    toolStart(1, "toolu_1", "mcp__bridge__get_weather"),
    toolInput(1, '{"ci'),
    toolInput(1, ""),
    toolInput(1, 'ty":"Paris"}'),
    blockStop(1),
    toolStart(2, "toolu_2", "mcp__bridge__lookup"),
    blockStop(2),
    delta("tool_use", { output_tokens: 30 }),
  ]);
  assert.deepEqual(out, [
    { type: "text", text: "Checking." },
    { type: "tool_call", index: 0, id: "toolu_1", name: "get.weather" },
    { type: "tool_arguments", index: 0, delta: '{"ci' },
    { type: "tool_arguments", index: 0, delta: 'ty":"Paris"}' },
    { type: "tool_call_done", index: 0, arguments: '{"city":"Paris"}' },
    { type: "tool_call", index: 1, id: "toolu_2", name: "lookup" },
    { type: "tool_call_done", index: 1, arguments: "" },
    { type: "end", finish: "tool_calls", usage: { ...emptyUsage(), outputTokens: 30 } },
  ]);
  const calls = [
    { type: "tool_use", id: "toolu_1", name: "get.weather", input: { city: "Paris" } },
    { type: "tool_use", id: "toolu_2", name: "lookup", input: {} },
  ];
  assert.deepEqual(end, { kind: "tool_calls", calls });
  assert.deepEqual(done.turn, {
    role: "assistant",
    content: [{ type: "text", text: "Checking." }, ...calls],
  });
});

Deno.test("usage is summed per message: a message's delta usage, else its start usage", async () => {
  const { out, reply: done } = await run([
    start("m1", { input_tokens: 5, cache_read_input_tokens: 100 }),
    text("a"),
    delta("tool_use", {
      input_tokens: 5,
      cache_read_input_tokens: 100,
      cache_creation_input_tokens: 7,
      output_tokens: 20,
    }),
    start("m2", { input_tokens: 3, cache_read_input_tokens: 200, output_tokens: 1 }),
    text("b"),
    delta("end_turn"),
    result({ usage: usage({ input_tokens: 999, output_tokens: 999 }) }),
  ]);
  const expected = { inputTokens: 8, outputTokens: 21, cacheReadTokens: 300, cacheWriteTokens: 7 };
  assert.deepEqual(last(out), { type: "end", finish: "stop", usage: expected });
  assert.deepEqual(done.usage, expected, "the result's usage is not added on top");
});

Deno.test("the result's usage counts only when no message was streamed", async () => {
  const { out } = await run([
    result({
      result: "plain",
      usage: usage({ input_tokens: 4, output_tokens: 2, cache_read_input_tokens: 1 }),
    }),
  ]);
  assert.deepEqual(last(out), {
    type: "end",
    finish: "stop",
    usage: { inputTokens: 4, outputTokens: 2, cacheReadTokens: 1, cacheWriteTokens: 0 },
  });
});

Deno.test("structured output: text is dropped and the JSON comes at the end", async () => {
  const { out, end } = await run([
    start("m"),
    text("Here is the JSON you asked for"),
    toolStart(0, "toolu_s", "StructuredOutput"),
    toolInput(0, '{"a":1}'),
    blockStop(0),
    delta("max_tokens"),
    result({ result: "ignored", structured_output: { a: 1, b: [true] } }),
  ], { structured: true });
  assert.deepEqual(out, [
    { type: "text", text: '{"a":1,"b":[true]}' },
    { type: "end", finish: "stop", usage: emptyUsage() },
  ]);
  assert.deepEqual(end, { kind: "answered" });
});

Deno.test("structured output missing from the result: 502 no structured output", async () => {
  const target = reply({ structured: true });
  const feeding = (async () => {
    for (const event of [start("m"), text("no JSON here"), result({ result: "no JSON here" })]) {
      await target.take(event);
    }
  })();
  const out = await Array.fromAsync(target.events);
  await feeding;
  assert.equal(out.length, 1);
  const error = errorOf(out[0]!);
  assert.equal(error.status, 502);
  assert.equal(error.code, "no structured output");
  assert.equal(error.fields.detail, "no JSON here");
  await assert.rejects(target.started, (thrown) => thrown === error);
  assert.deepEqual(await target.ended, { kind: "failed", error });
});

Deno.test("started resolves at the first content, before the reply ends", async () => {
  const target = reply();
  await target.take(start("m"));
  await target.take(text("first"));
  await target.started;
  assert.equal(target.over, false);
  await target.events.cancel();
});

Deno.test("started rejects on an error before any content, and the error event is delivered", async () => {
  const target = reply();
  const feeding = (async () => {
    await target.take(start("m"));
    await target.take(result({
      is_error: true,
      api_error_status: 429,
      result: "API Error: 429 rate_limit_error",
    }));
  })();
  const out = await Array.fromAsync(target.events);
  await feeding;
  const error = errorOf(last(out));
  assert.equal(error.status, 429);
  await assert.rejects(target.started, (thrown) => thrown === error);
  assert.deepEqual(await target.ended, { kind: "failed", error });
});

Deno.test("an error after content: started resolved, then the error event ends the reply", async () => {
  const { out, end } = await run([
    start("m"),
    text("partial"),
    result({ is_error: true, result: "boom" }),
  ]);
  assert.deepEqual(texts(out), ["partial"]);
  const error = errorOf(last(out));
  assert.equal(error.status, 503);
  assert.deepEqual(end, { kind: "failed", error });
});

Deno.test("onFirstModelEvent fires at the first model event, or at once when one came", async () => {
  const target = reply();
  let calls = 0;
  target.onFirstModelEvent(() => calls++);
  await target.take({ type: "init", tools: [], mcpServers: [] });
  assert.equal(calls, 0, "the init line is not the model");
  await target.take(start("m"));
  await target.take(text("x"));
  assert.equal(calls, 1);
  let late = 0;
  target.onFirstModelEvent(() => late++);
  assert.equal(late, 1);
  await target.events.cancel();
});

Deno.test("a message the CLI did not stream is relayed when nothing was sent yet", async () => {
  const { out, end } = await run([
    start("m1"),
    assistant("m1", [{ type: "text", text: "already streamed (empty)" }]),
    assistant("m2", [{ type: "text", text: "Re" }, { type: "other" }, {
      type: "text",
      text: "covered",
    }]),
    result({ result: "Recovered" }),
  ]);
  assert.deepEqual(texts(out), ["Recovered"]);
  assert.equal(last(out).type, "end");
  assert.deepEqual(end, { kind: "answered" });
});

Deno.test("a streamed message's whole copy is not relayed twice", async () => {
  const { out } = await run([
    start("m1"),
    text("Hello"),
    assistant("m1", [{ type: "text", text: "Hello" }]),
    delta("end_turn"),
    result({ result: "Hello" }),
  ]);
  assert.deepEqual(texts(out), ["Hello"]);
});

Deno.test("a non-streamed message after text was sent: 502 upstream stream interrupted", async () => {
  const { out, end } = await run([
    start("m1"),
    text("Half an ans"),
    assistant("m2", [{ type: "text", text: "A whole new answer" }]),
    result({ result: "A whole new answer" }),
  ]);
  assert.deepEqual(texts(out), ["Half an ans"]);
  const error = errorOf(last(out));
  assert.equal(error.status, 502);
  assert.equal(error.code, "upstream stream interrupted");
  assert.equal(end.kind, "failed");
});

Deno.test("a non-streamed message with a client tool call cannot be relayed: 502", async () => {
  const { out } = await run([
    assistant("m9", [{
      type: "tool_use",
      id: "toolu_9",
      name: "mcp__bridge__lookup",
      input: {},
    }]),
  ]);
  assert.equal(errorOf(last(out)).code, "upstream stream interrupted");
});

Deno.test("a non-streamed message without text or client calls is ignored", async () => {
  const { out } = await run([
    assistant("m1", [{ type: "tool_use", id: "t", name: "Read", input: {} }, { type: "other" }]),
    start("m2"),
    text("fine"),
    delta("end_turn"),
    result(),
  ]);
  assert.deepEqual(out.map((event) => event.type), ["text", "end"]);
});

Deno.test("exited: plain text and exit 0 answer with that text", async () => {
  const { out, end } = await run(
    [raw("Hello from"), raw("a plain CLI")],
    {},
    (target) => target.exited(exit()),
  );
  assert.deepEqual(texts(out), ["Hello from\na plain CLI"]);
  assert.deepEqual(last(out), { type: "end", finish: "stop", usage: emptyUsage() });
  assert.deepEqual(end, { kind: "answered" });
});

Deno.test("exited: a non-zero exit fails with the mapped error", async () => {
  const { out, end } = await run(
    [raw("some output")],
    {},
    (target) => target.exited(exit({ code: 1, stderr: "Error: Invalid API key" })),
  );
  const error = errorOf(last(out));
  assert.equal(error.status, 502);
  assert.equal(error.code, "upstream authentication failed");
  assert.equal(end.kind, "failed");
});

Deno.test("exited: exit 0 with nothing printed is execution failed", async () => {
  const { out } = await run([], {}, (target) => target.exited(exit()));
  const error = errorOf(last(out));
  assert.equal(error.status, 503);
  assert.equal(error.code, "execution failed");
});

Deno.test("exited: a process the bridge stopped fails with the stop's own error", async () => {
  const timeout = new HttpError(504, "timeout", "no model output in time");
  const { out } = await run(
    [start("m"), text("x")],
    {},
    (target) => target.exited(exit({ code: 143, signal: "SIGTERM", stopReason: timeout })),
  );
  assert.equal(errorOf(last(out)), timeout);
});

Deno.test("exited after the reply ended changes nothing", async () => {
  const { out, end } = await run(
    [start("m"), text("done"), delta("end_turn"), result()],
    {},
    (target) => target.exited(exit({ code: 1 })),
  );
  assert.deepEqual(out.map((event) => event.type), ["text", "end"]);
  assert.deepEqual(end, { kind: "answered" });
});

Deno.test("fail ends the reply with the given error", async () => {
  const error = new HttpError(503, "shutting down", "bye");
  const { out, end } = await run([start("m")], {}, (target) => target.fail(error));
  assert.deepEqual(out, [{ type: "error", error }]);
  assert.deepEqual(end, { kind: "failed", error });
});

Deno.test("cancelling the events ends the reply as failed, and later events are dropped", async () => {
  const target = reply();
  await target.take(start("m"));
  await target.take(text("a"));
  const reason = new Error("client left");
  await target.events.cancel(reason);
  assert.deepEqual(await target.ended, { kind: "failed", error: reason });
  assert.equal(target.over, true);
  await target.take(text("b"));
  await target.take(result());
  assert.deepEqual(await target.ended, { kind: "failed", error: reason });
});

Deno.test("a take blocked by back-pressure is released when its reader cancels", async () => {
  const target = reply();
  for (let i = 0; i < MAX_QUEUED_EVENTS - 1; i++) await target.take(text(`${i} `));
  const blocked = target.take(text("last "));
  assert.ok(blocked, "a full queue makes take wait");
  await target.events.cancel("gone");
  await blocked;
  assert.equal((await target.ended).kind, "failed");
});

Deno.test("back-pressure: take waits once the reader is MAX_QUEUED_EVENTS behind; one read takes them all and releases it", async () => {
  const target = reply();
  for (let i = 0; i < MAX_QUEUED_EVENTS - 1; i++) {
    assert.equal(target.take(text(`${i} `)), undefined, "no wait below the limit");
  }
  const order: string[] = [];
  const blocked = target.take(text(`${MAX_QUEUED_EVENTS - 1} `))!.then(() =>
    order.push("take resolved")
  );
  await drainMicrotasks();
  assert.equal(order.length, 0, "the full queue holds the feeder");
  const reader = target.batches.getReader();
  order.push("reader reads");
  const first = await reader.read();
  await blocked;
  assert.deepEqual(order, ["reader reads", "take resolved"]);
  assert.equal(first.value!.length, MAX_QUEUED_EVENTS, "one read takes every queued event");
  const feeding = (async () => {
    for (let i = MAX_QUEUED_EVENTS; i < MAX_QUEUED_EVENTS + 80; i++) {
      await target.take(text(`${i} `));
    }
    await target.take(result());
  })();
  const rest: ReplyEvent[] = [];
  for (let next = await reader.read(); !next.done; next = await reader.read()) {
    rest.push(...next.value);
  }
  await feeding;
  const all = [...first.value!, ...rest];
  assert.equal(
    all.flatMap((event) => event.type === "text" ? [event.text] : []).join(""),
    Array.from({ length: MAX_QUEUED_EVENTS + 80 }, (_, i) => `${i} `).join(""),
  );
  assert.equal(all.at(-1)!.type, "end");
});

Deno.test("finishReasonOf maps Anthropic stop reasons", () => {
  assert.equal(finishReasonOf("end_turn"), "stop");
  assert.equal(finishReasonOf("stop_sequence"), "stop");
  assert.equal(finishReasonOf("tool_use"), "stop");
  assert.equal(finishReasonOf(null), "stop");
  assert.equal(finishReasonOf(undefined), "stop");
  assert.equal(finishReasonOf("max_tokens"), "length");
  assert.equal(finishReasonOf("refusal"), "content_filter");
});

Deno.test("parseArguments: JSON when it parses, {} when blank, the text otherwise", () => {
  assert.deepEqual(parseArguments('{"a":1}'), { a: 1 });
  assert.deepEqual(parseArguments("  "), {});
  assert.equal(parseArguments("{broken"), "{broken");
});
