/**
 * Chat Completions response objects: usage in OpenAI's terms, whole
 * completions (with tool calls, or a legacy function_call), chunks and the
 * per-token content writer, and folding a reply's events into one
 * completion for non-streaming requests.
 */
import assert from "node:assert/strict";
import { HttpError } from "../../src/http/http_error.ts";
import { emptyUsage, type ReplyEvent, type Usage } from "../../src/engine/reply.ts";
import {
  chunk,
  collectCompletion,
  completion,
  contentChunkJson,
  finishReasonFor,
  newIdentity,
  streamError,
  type ToolCall,
  toUsage,
  usageChunk,
} from "../../src/openai/completion.ts";

const identity = { id: "chatcmpl-test", created: 1_700_000_000, model: "sonnet" };
const usage: Usage = {
  inputTokens: 100,
  outputTokens: 20,
  cacheReadTokens: 40,
  cacheWriteTokens: 30,
};
const call = (id: string, name: string, args: string): ToolCall => ({
  id,
  type: "function",
  function: { name, arguments: args },
});

Deno.test("usage counts cache reads and writes as prompt tokens, reads as cached", () => {
  assert.deepEqual(toUsage(usage), {
    prompt_tokens: 170,
    completion_tokens: 20,
    total_tokens: 190,
    prompt_tokens_details: { cached_tokens: 40 },
  });
  assert.deepEqual(toUsage(emptyUsage()), {
    prompt_tokens: 0,
    completion_tokens: 0,
    total_tokens: 0,
    prompt_tokens_details: { cached_tokens: 0 },
  });
});

Deno.test("a new identity is chatcmpl-<32 hex>, created in whole seconds", () => {
  const before = Math.floor(Date.now() / 1000);
  const fresh = newIdentity("haiku");
  assert.match(fresh.id, /^chatcmpl-[0-9a-f]{32}$/);
  assert.equal(fresh.model, "haiku");
  assert.ok(Number.isInteger(fresh.created) && fresh.created >= before);
  assert.notEqual(newIdentity("haiku").id, fresh.id);
});

Deno.test("a text completion has OpenAI's shape", () => {
  assert.deepEqual(completion(identity, { content: "hi", toolCalls: [] }, "stop", usage), {
    ...identity,
    object: "chat.completion",
    choices: [{
      index: 0,
      message: { role: "assistant", content: "hi", refusal: null },
      logprobs: null,
      finish_reason: "stop",
    }],
    usage: toUsage(usage),
  });
});

Deno.test("a completion with tool calls lists them, content null", () => {
  const calls = [call("call_1", "get_weather", '{"city":"Paris"}'), call("call_2", "now", "{}")];
  const body = completion(identity, { content: null, toolCalls: calls }, "tool_calls", usage);
  assert.deepEqual((body.choices as unknown[])[0], {
    index: 0,
    message: { role: "assistant", content: null, refusal: null, tool_calls: calls },
    logprobs: null,
    finish_reason: "tool_calls",
  });
});

Deno.test("the legacy functions API gets function_call and finish reason function_call", () => {
  const calls = [call("call_1", "get_weather", '{"city":"Paris"}')];
  const body = completion(identity, { content: null, toolCalls: calls }, "tool_calls", usage, true);
  assert.deepEqual((body.choices as unknown[])[0], {
    index: 0,
    message: {
      role: "assistant",
      content: null,
      refusal: null,
      function_call: { name: "get_weather", arguments: '{"city":"Paris"}' },
    },
    logprobs: null,
    finish_reason: "function_call",
  });
  const plain = completion(identity, { content: "hi", toolCalls: [] }, "stop", usage, true);
  assert.deepEqual((plain.choices as { message: unknown }[])[0]!.message, {
    role: "assistant",
    content: "hi",
    refusal: null,
  });
});

Deno.test("finishReasonFor says function_call only for the legacy API's tool calls", () => {
  assert.equal(finishReasonFor("tool_calls", true), "function_call");
  assert.equal(finishReasonFor("tool_calls", false), "tool_calls");
  for (const finish of ["stop", "length", "content_filter"] as const) {
    assert.equal(finishReasonFor(finish, true), finish);
  }
});

Deno.test("a chunk and a usage chunk have OpenAI's shape", () => {
  assert.deepEqual(chunk(identity, { content: "x" }), {
    ...identity,
    object: "chat.completion.chunk",
    choices: [{ index: 0, delta: { content: "x" }, logprobs: null, finish_reason: null }],
  });
  assert.deepEqual(chunk(identity, {}, "length"), {
    ...identity,
    object: "chat.completion.chunk",
    choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: "length" }],
  });
  assert.deepEqual(usageChunk(identity, usage), {
    ...identity,
    object: "chat.completion.chunk",
    choices: [],
    usage: toUsage(usage),
  });
});

Deno.test("the content-chunk writer gives exactly the JSON of the whole chunk object", () => {
  const identities = [
    newIdentity("sonnet"),
    // A model name that mimics the delta's key and needs escaping must not confuse the writer.
    { id: "chatcmpl-x", created: 1, model: 'a"content":""b\\"\n\u2028é' },
  ];
  const texts = [
    "x",
    "",
    'say "hi"\n',
    "\\",
    "tab\tand\r\n",
    "é漢字🙂",
    "\ud800 lone",
    "\u2028\u0000",
  ];
  for (const each of identities) {
    const json = contentChunkJson(each);
    for (const text of texts) {
      assert.equal(json(text), JSON.stringify(chunk(each, { content: text })));
    }
  }
});

Deno.test("an in-stream error carries message, type, code and status", () => {
  const error = new HttpError(429, "rate limited", "Slow down.");
  assert.deepEqual(streamError(error), {
    error: { message: "Slow down.", type: "rate_limit_error", code: "rate limited", status: 429 },
  });
});

/** A reply's events as a stream. */
const events = (list: ReplyEvent[]) => ReadableStream.from(list);

Deno.test("collectCompletion folds text events into one message", async () => {
  const body = await collectCompletion(
    events([
      { type: "text", text: "Hel" },
      { type: "text", text: "lo" },
      { type: "end", finish: "length", usage },
    ]),
    identity,
    false,
  );
  assert.deepEqual(
    body,
    completion(identity, { content: "Hello", toolCalls: [] }, "length", usage),
  );
});

Deno.test("collectCompletion gathers tool calls by index, with their whole arguments", async () => {
  const body = await collectCompletion(
    events([
      { type: "text", text: "Checking." },
      { type: "tool_call", index: 0, id: "call_1", name: "get_weather" },
      { type: "tool_arguments", index: 0, delta: '{"ci' },
      { type: "tool_call", index: 1, id: "call_2", name: "now" },
      { type: "tool_arguments", index: 0, delta: 'ty":"Paris"}' },
      { type: "tool_call_done", index: 0, arguments: '{"city":"Paris"}' },
      { type: "tool_call_done", index: 1, arguments: "" },
      { type: "end", finish: "tool_calls", usage },
    ]),
    identity,
    false,
  );
  assert.deepEqual(
    body,
    completion(
      identity,
      {
        content: "Checking.",
        toolCalls: [call("call_1", "get_weather", '{"city":"Paris"}'), call("call_2", "now", "")],
      },
      "tool_calls",
      usage,
    ),
  );
});

Deno.test("collectCompletion: tool calls without text have content null; the legacy API a function_call", async () => {
  const list: ReplyEvent[] = [
    { type: "tool_call", index: 0, id: "call_1", name: "f" },
    { type: "tool_call_done", index: 0, arguments: "{}" },
    { type: "end", finish: "tool_calls", usage },
  ];
  const body = await collectCompletion(events(list), identity, false);
  const message = (body.choices as { message: Record<string, unknown> }[])[0]!.message;
  assert.equal(message.content, null);
  const legacy = await collectCompletion(events(list), identity, true);
  const choice =
    (legacy.choices as { message: Record<string, unknown>; finish_reason: string }[])[0]!;
  assert.deepEqual(choice.message.function_call, { name: "f", arguments: "{}" });
  assert.equal(choice.finish_reason, "function_call");
});

Deno.test("collectCompletion: an empty answer is an empty string, not null", async () => {
  const body = await collectCompletion(
    events([{ type: "end", finish: "stop", usage }]),
    identity,
    false,
  );
  assert.equal((body.choices as { message: { content: unknown } }[])[0]!.message.content, "");
});

Deno.test("collectCompletion throws the reply's error, even after text", async () => {
  const error = new HttpError(503, "execution failed", "The CLI failed.");
  await assert.rejects(
    collectCompletion(
      events([{ type: "text", text: "partial" }, { type: "error", error }]),
      identity,
      false,
    ),
    (thrown) => thrown === error,
  );
});

Deno.test("collectCompletion refuses a stream that ends without an end event", async () => {
  await assert.rejects(
    collectCompletion(events([{ type: "text", text: "x" }]), identity, false),
    TypeError,
  );
});
