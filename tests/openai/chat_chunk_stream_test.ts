import assert from "node:assert/strict";
import {
  ChatChunkStream,
  type ChatChunkStreamOptions,
  collectCompletion,
} from "../../src/openai/chat_chunk_stream.ts";
import type { CliExit } from "../../src/claude/process.ts";
import { newIdentity } from "../../src/openai/completion.ts";
import { HttpError } from "../../src/http/http_error.ts";
import type { CliEvent, CliResult } from "../../src/claude/events.ts";

const EXIT: CliExit = { code: 0, signal: null, stderr: "" };
const usage = {
  input_tokens: 5,
  output_tokens: 3,
  cache_creation_input_tokens: 0,
  cache_read_input_tokens: 2,
};
const text = (value: string): CliEvent => ({ type: "text", text: value });
const result = (fields: Partial<CliResult> = {}): CliEvent => ({
  type: "result",
  result: {
    type: "result",
    is_error: false,
    result: "",
    stop_reason: "end_turn",
    usage,
    ...fields,
  },
});

interface Chunk {
  choices?: { delta: { role?: string; content?: string }; finish_reason: string | null }[];
  usage?: { prompt_tokens: number; prompt_tokens_details: { cached_tokens: number } };
  error?: { message: string; code: string; status: number };
}

/** Runs events through a ChatChunkStream; returns the data payloads and whether the source was cancelled. */
async function run(
  events: CliEvent[],
  options: Partial<ChatChunkStreamOptions> = {},
): Promise<{ data: (Chunk | "[DONE]")[]; cancelled: boolean }> {
  let cancelled = false;
  const source = new ReadableStream<CliEvent>({
    start(controller) {
      for (const event of events) controller.enqueue(event);
      controller.close();
    },
    cancel() {
      cancelled = true;
    },
  });
  const data: (Chunk | "[DONE]")[] = [];
  const stream = source.pipeThrough(
    new ChatChunkStream({
      identity: newIdentity("sonnet"),
      exited: Promise.resolve(EXIT),
      ...options,
    }),
  );
  for await (const message of stream) {
    data.push(message.data === "[DONE]" ? "[DONE]" : JSON.parse(message.data ?? ""));
  }
  return { data, cancelled };
}

const contentOf = (data: (Chunk | "[DONE]")[]) =>
  data.map((item) => item === "[DONE]" ? "" : item.choices?.[0]?.delta.content ?? "").join("");
const finishOf = (data: (Chunk | "[DONE]")[]) =>
  data.flatMap((item) =>
    item === "[DONE]" ? [] : (item.choices ?? []).map((choice) => choice.finish_reason)
  )
    .filter((reason) => reason !== null);

Deno.test("deltas become chunks: role first, then content, finish, [DONE]", async () => {
  const { data } = await run([
    text("Hel"),
    text("lo"),
    { type: "stop", reason: "end_turn" },
    result({ result: "Hello" }),
  ]);
  assert.equal((data[0] as Chunk).choices?.[0]?.delta.role, "assistant");
  assert.equal(contentOf(data), "Hello");
  assert.deepEqual(finishOf(data), ["stop"]);
  assert.equal(data.at(-1), "[DONE]");
  assert.ok(data.every((item) => item === "[DONE]" || item.usage === undefined));
});

Deno.test("include_usage adds a choices-less usage chunk just before [DONE]", async () => {
  const { data } = await run([text("a"), result({ result: "a" })], { includeUsage: true });
  const last = data.at(-2) as Chunk;
  assert.deepEqual(last.choices, []);
  assert.equal(last.usage?.prompt_tokens, 7);
  assert.equal(last.usage?.prompt_tokens_details.cached_tokens, 2);
});

Deno.test("a stop sequence spanning deltas ends the stream there and cancels the CLI output", async () => {
  const { data, cancelled } = await run(
    [text("one ST"), text("OP two"), text(" three"), result({ result: "one STOP two three" })],
    { stop: ["STOP"] },
  );
  assert.equal(contentOf(data), "one ");
  assert.deepEqual(finishOf(data), ["stop"]);
  assert.equal(data.at(-1), "[DONE]");
  assert.equal(cancelled, true);
});

Deno.test("a max_tokens stop ends the stream with length before the CLI continues", async () => {
  const { data, cancelled } = await run(
    [text("cut"), { type: "stop", reason: "max_tokens", usage }, text("continuation"), result()],
    { includeUsage: true },
  );
  assert.equal(contentOf(data), "cut");
  assert.deepEqual(finishOf(data), ["length"]);
  assert.equal((data.at(-2) as Chunk).usage?.prompt_tokens, 7);
  assert.equal(cancelled, true);
});

Deno.test("a cut before the result reports the usage the message started with", async () => {
  const { data } = await run([{ type: "start", usage }, text("a.b"), result()], {
    stop: ["."],
    includeUsage: true,
  });
  assert.equal(contentOf(data), "a");
  assert.equal((data.at(-2) as Chunk).usage?.prompt_tokens, 7);
});

Deno.test("a result without deltas still delivers its text, cut at a stop sequence", async () => {
  const { data } = await run([result({ result: "alpha|beta" })], { stop: ["|"] });
  assert.equal(contentOf(data), "alpha");
});

Deno.test("structured output replaces the text deltas", async () => {
  const { data } = await run(
    [
      text("Sure, here it is."),
      result({ result: '{"a":1}', structured_output: { a: 1 }, stop_reason: "tool_use" }),
    ],
    { structured: true },
  );
  assert.equal(contentOf(data), '{"a":1}');
  assert.deepEqual(finishOf(data), ["stop"]);
});

Deno.test("a failure before any content errors the stream with the HttpError", async () => {
  await assert.rejects(
    run([result({ is_error: true, api_error_status: 402, result: "Credit balance is too low" })]),
    (error: unknown) =>
      error instanceof HttpError && error.status === 402 &&
      error.message === "Credit balance is too low",
  );
});

Deno.test("an interrupted run is an error, not content, even after content started", async () => {
  const { data } = await run([
    text("a"),
    result({ is_error: true, subtype: "error_during_execution", result: undefined }),
  ]);
  assert.equal(contentOf(data), "a");
  const last = data.at(-1) as Chunk;
  assert.ok(last.error);
  assert.ok(!JSON.stringify(data).includes("[Request interrupted"));
  const quiet = await run([text("b"), result({ result: "[Request interrupted by user]" })]);
  assert.ok((quiet.data.at(-1) as Chunk).error);
});

Deno.test("failFast errors the stream even after content, and collectCompletion folds a stream", async () => {
  const failing = new ReadableStream<CliEvent>({
    start(controller) {
      controller.enqueue(text("a"));
      controller.enqueue(
        result({ is_error: true, api_error_status: 400, result: "Prompt is too long" }),
      );
      controller.close();
    },
  }).pipeThrough(
    new ChatChunkStream({
      identity: newIdentity("haiku"),
      exited: Promise.resolve(EXIT),
      failFast: true,
      includeUsage: true,
    }),
  );
  await assert.rejects(
    collectCompletion(failing),
    (error: unknown) => error instanceof HttpError && error.status === 400,
  );
  const fine = ReadableStream.from<CliEvent>([text("x"), text("y"), result({ result: "xy" })])
    .pipeThrough(
      new ChatChunkStream({
        identity: newIdentity("haiku"),
        exited: Promise.resolve(EXIT),
        failFast: true,
        includeUsage: true,
      }),
    );
  const body = await collectCompletion(fine) as {
    model: string;
    choices: { message: { content: string }; finish_reason: string }[];
    usage: { total_tokens: number };
  };
  assert.equal(body.model, "haiku");
  assert.equal(body.choices[0]?.message.content, "xy");
  assert.equal(body.choices[0]?.finish_reason, "stop");
  assert.equal(body.usage.total_tokens, 10);
});

Deno.test("output that ends without a result is an error", async () => {
  await assert.rejects(
    run([]),
    (error: unknown) => error instanceof HttpError && error.status === 503,
  );
});

const start = (id: string): CliEvent => ({ type: "start", id, usage });
const message = (id: string, value: string): CliEvent => ({ type: "message", id, text: value });

Deno.test("a streamed message's whole-message line is not relayed twice", async () => {
  const { data } = await run([
    start("m1"),
    text("Hi"),
    message("m1", "Hi"),
    result({ result: "Hi" }),
  ]);
  assert.equal(contentOf(data), "Hi");
  assert.equal(data.at(-1), "[DONE]");
});

Deno.test("a message that never streamed is relayed when nothing was sent yet", async () => {
  const { data } = await run([message("m2", "Fetched whole"), result({ result: "Fetched whole" })]);
  assert.equal(contentOf(data), "Fetched whole");
  assert.equal(data.at(-1), "[DONE]");
});

Deno.test("a stream that broke off and was answered anew ends with an error, not a wrong answer", async () => {
  const { data } = await run([
    start("m1"),
    text("Half an"),
    message("m2", "A different answer"),
    result({ result: "A different answer" }),
  ]);
  assert.equal(contentOf(data), "Half an");
  const last = data.at(-1);
  assert.ok(last !== "[DONE]" && last?.error);
  assert.equal(last.error.code, "upstream stream interrupted");
  assert.equal(last.error.status, 502);
  assert.ok(!data.includes("[DONE]"));
});
