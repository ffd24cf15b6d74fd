/**
 * ChatChunkStream: a reply's events as `chat.completion.chunk` server-sent
 * events, decoded from the bytes it writes — the role chunk first, text
 * chunks, tool calls exactly as OpenAI streams them (or legacy function_call
 * deltas), the finish chunk, the optional usage chunk and `[DONE]`; an error
 * ends the stream without `[DONE]`.
 */
import assert from "node:assert/strict";
import { emptyUsage, type ReplyEvent, type Usage } from "../../src/engine/reply.ts";
import { HttpError } from "../../src/http/http_error.ts";
import {
  ChatChunkStream,
  type ChatChunkStreamOptions,
} from "../../src/openai/chat_chunk_stream.ts";
import { toUsage } from "../../src/openai/completion.ts";
import { sseData } from "../support/harness.ts";

const identity = { id: "chatcmpl-test", created: 1_700_000_000, model: "sonnet" };
const usage: Usage = { inputTokens: 7, outputTokens: 3, cacheReadTokens: 2, cacheWriteTokens: 1 };

interface Chunk {
  id: string;
  object: string;
  created: number;
  model: string;
  choices: {
    index: number;
    delta: Record<string, unknown>;
    logprobs: null;
    finish_reason: string | null;
  }[];
  usage?: unknown;
}

/** Runs `events` through the encoder; returns the raw SSE text. */
async function encode(
  events: ReplyEvent[],
  options: Partial<ChatChunkStreamOptions> = {},
): Promise<string> {
  // One event per batch, as a reader that keeps up gets them.
  const stream = ReadableStream.from(events.map((event) => [event])).pipeThrough(
    new ChatChunkStream({ identity, includeUsage: false, legacyFunctions: false, ...options }),
  );
  const decoder = new TextDecoder();
  let text = "";
  for await (const bytes of stream) text += decoder.decode(bytes, { stream: true });
  return text + decoder.decode();
}

/** The decoded `data:` payloads. */
async function payloads(
  events: ReplyEvent[],
  options: Partial<ChatChunkStreamOptions> = {},
): Promise<unknown[]> {
  return sseData(await encode(events, options));
}

/** The deltas of the chunks (and their finish reasons) in order. */
function deltas(data: unknown[]): [Record<string, unknown>, string | null][] {
  return data.filter((item): item is Chunk => typeof item === "object" && "choices" in item!)
    .filter((item) => item.choices.length > 0)
    .map((item) => [item.choices[0]!.delta, item.choices[0]!.finish_reason]);
}

Deno.test("every event is one `data:` line and a blank line; the stream ends with [DONE]", async () => {
  const text = await encode([{ type: "text", text: "a\nb" }, {
    type: "end",
    finish: "stop",
    usage,
  }]);
  const events = text.split("\n\n");
  assert.equal(events.pop(), "", "the last event is terminated");
  for (const event of events) assert.match(event, /^data: [^\n]+$/);
  assert.equal(events.at(-1), "data: [DONE]");
});

Deno.test("role first, then one chunk per text delta, then finish stop and [DONE]", async () => {
  const data = await payloads([
    { type: "text", text: "Hel" },
    { type: "text", text: 'lo "world"' },
    { type: "end", finish: "stop", usage },
  ]);
  assert.equal(data.at(-1), "[DONE]");
  const chunks = data.slice(0, -1) as Chunk[];
  for (const each of chunks) {
    assert.equal(each.id, identity.id);
    assert.equal(each.created, identity.created);
    assert.equal(each.model, identity.model);
    assert.equal(each.object, "chat.completion.chunk");
    assert.equal(each.choices[0]!.index, 0);
    assert.equal(each.choices[0]!.logprobs, null);
    assert.equal("usage" in each, false);
  }
  assert.deepEqual(deltas(data), [
    [{ role: "assistant", content: "" }, null],
    [{ content: "Hel" }, null],
    [{ content: 'lo "world"' }, null],
    [{}, "stop"],
  ]);
});

Deno.test("the finish reason of the end passes through", async () => {
  for (const finish of ["length", "content_filter", "tool_calls"] as const) {
    const data = await payloads([{ type: "end", finish, usage }]);
    assert.deepEqual(deltas(data).at(-1), [{}, finish]);
  }
});

Deno.test("tool calls stream exactly as OpenAI's: id, type and name first, then argument fragments", async () => {
  const data = await payloads([
    { type: "text", text: "Checking." },
    { type: "tool_call", index: 0, id: "call_1", name: "get_weather" },
    { type: "tool_arguments", index: 0, delta: '{"city":' },
    { type: "tool_arguments", index: 0, delta: '"Paris"}' },
    { type: "tool_call_done", index: 0, arguments: '{"city":"Paris"}' },
    { type: "tool_call", index: 1, id: "call_2", name: "now" },
    { type: "tool_call_done", index: 1, arguments: "" },
    { type: "end", finish: "tool_calls", usage },
  ]);
  assert.deepEqual(deltas(data), [
    [{ role: "assistant", content: "" }, null],
    [{ content: "Checking." }, null],
    [{
      tool_calls: [{
        index: 0,
        id: "call_1",
        type: "function",
        function: { name: "get_weather", arguments: "" },
      }],
    }, null],
    [{ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }, null],
    [{ tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] }, null],
    [{
      tool_calls: [{
        index: 1,
        id: "call_2",
        type: "function",
        function: { name: "now", arguments: "" },
      }],
    }, null],
    [{}, "tool_calls"],
  ]);
  assert.equal(data.at(-1), "[DONE]");
});

Deno.test("the legacy functions API gets function_call deltas for the first call only", async () => {
  const data = await payloads([
    { type: "tool_call", index: 0, id: "call_1", name: "get_weather" },
    { type: "tool_arguments", index: 0, delta: '{"city":' },
    { type: "tool_arguments", index: 0, delta: '"Paris"}' },
    { type: "tool_call_done", index: 0, arguments: '{"city":"Paris"}' },
    { type: "tool_call", index: 1, id: "call_2", name: "other" },
    { type: "tool_arguments", index: 1, delta: "{}" },
    { type: "end", finish: "tool_calls", usage },
  ], { legacyFunctions: true });
  assert.deepEqual(deltas(data), [
    [{ role: "assistant", content: "" }, null],
    [{ function_call: { name: "get_weather", arguments: "" } }, null],
    [{ function_call: { arguments: '{"city":' } }, null],
    [{ function_call: { arguments: '"Paris"}' } }, null],
    [{}, "function_call"],
  ]);
});

Deno.test("with include_usage a usage chunk without choices comes before [DONE]", async () => {
  const data = await payloads(
    [{ type: "text", text: "x" }, { type: "end", finish: "stop", usage }],
    {
      includeUsage: true,
    },
  );
  assert.equal(data.at(-1), "[DONE]");
  assert.deepEqual(data.at(-2), {
    ...identity,
    object: "chat.completion.chunk",
    choices: [],
    usage: toUsage(usage),
  });
  assert.deepEqual(deltas(data).at(-1), [{}, "stop"]);
});

Deno.test("without include_usage no chunk carries usage", async () => {
  const data = await payloads([{ type: "end", finish: "stop", usage: emptyUsage() }]);
  assert.ok(data.every((item) => typeof item === "string" || !("usage" in (item as object))));
});

Deno.test("an error after the stream began is one error event, and no [DONE]", async () => {
  const error = new HttpError(
    502,
    "upstream error",
    "Claude's API failed with 500; retry shortly.",
  );
  const data = await payloads([{ type: "text", text: "partial" }, { type: "error", error }]);
  assert.deepEqual(data, [
    {
      ...identity,
      object: "chat.completion.chunk",
      choices: [{
        index: 0,
        delta: { role: "assistant", content: "" },
        logprobs: null,
        finish_reason: null,
      }],
    },
    {
      ...identity,
      object: "chat.completion.chunk",
      choices: [{ index: 0, delta: { content: "partial" }, logprobs: null, finish_reason: null }],
    },
    {
      error: {
        message: "Claude's API failed with 500; retry shortly.",
        type: "server_error",
        code: "upstream error",
        status: 502,
      },
    },
  ]);
});

Deno.test("an error as the first event sends no role chunk", async () => {
  const error = new HttpError(429, "rate limited", "Slow down.");
  const data = await payloads([{ type: "error", error }]);
  assert.deepEqual(data, [{
    error: { message: "Slow down.", type: "rate_limit_error", code: "rate limited", status: 429 },
  }]);
});
