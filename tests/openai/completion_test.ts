import assert from "node:assert/strict";
import {
  chunk,
  completion,
  contentChunkJson,
  finishReason,
  isFailedResult,
  newIdentity,
  resultAnswer,
  toUsage,
  usageChunk,
} from "../../src/openai/completion.ts";
import { HttpError } from "../../src/http/http_error.ts";

Deno.test("stop reasons map to OpenAI finish reasons", () => {
  assert.equal(finishReason("end_turn"), "stop");
  assert.equal(finishReason("stop_sequence"), "stop");
  assert.equal(finishReason("tool_use"), "stop");
  assert.equal(finishReason(null), "stop");
  assert.equal(finishReason("max_tokens"), "length");
  assert.equal(finishReason("refusal"), "content_filter");
});

Deno.test("usage counts cache reads and writes as prompt tokens, reads as cached", () => {
  // The numbers of the real CLI's result in the facts: 100 input, 30 written, 40 read, 20 out.
  assert.deepEqual(
    toUsage({
      input_tokens: 100,
      cache_creation_input_tokens: 30,
      cache_read_input_tokens: 40,
      output_tokens: 20,
    }),
    {
      prompt_tokens: 170,
      completion_tokens: 20,
      total_tokens: 190,
      prompt_tokens_details: { cached_tokens: 40 },
    },
  );
  assert.deepEqual(toUsage(undefined), {
    prompt_tokens: 0,
    completion_tokens: 0,
    total_tokens: 0,
    prompt_tokens_details: { cached_tokens: 0 },
  });
});

Deno.test("a chat.completion and a usage chunk have OpenAI's shape", () => {
  const identity = newIdentity("sonnet");
  assert.match(identity.id, /^chatcmpl-[0-9a-f]{32}$/);
  const usage = toUsage({
    input_tokens: 1,
    output_tokens: 2,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
  });
  assert.deepEqual(completion(identity, "hi", "stop", usage), {
    ...identity,
    object: "chat.completion",
    choices: [{
      index: 0,
      message: { role: "assistant", content: "hi", refusal: null },
      logprobs: null,
      finish_reason: "stop",
    }],
    usage,
  });
  assert.deepEqual(usageChunk(identity, usage), {
    ...identity,
    object: "chat.completion.chunk",
    choices: [],
    usage,
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
  for (const identity of identities) {
    const json = contentChunkJson(identity);
    for (const text of texts) {
      assert.equal(json(text), JSON.stringify(chunk(identity, { content: text })));
    }
  }
});

Deno.test("errors, error subtypes and interrupted runs are failures, never answers", () => {
  assert.equal(isFailedResult({ type: "result", is_error: false, result: "fine" }), false);
  assert.equal(isFailedResult({ type: "result", is_error: true, subtype: "success" }), true);
  assert.equal(isFailedResult({ type: "result", subtype: "error_during_execution" }), true);
  assert.equal(
    isFailedResult({ type: "result", is_error: false, result: "[Request interrupted by user]" }),
    true,
  );
  assert.equal(
    isFailedResult({ type: "result", result: "[Request interrupted by user for tool use]" }),
    true,
  );
});

Deno.test("a structured answer is the structured output as JSON text", () => {
  const result = {
    type: "result" as const,
    result: '{"name":"Bob"}',
    structured_output: { name: "Bob" },
  };
  assert.equal(resultAnswer(result, true), '{"name":"Bob"}');
  assert.equal(resultAnswer({ type: "result", result: "plain" }, false), "plain");
});

Deno.test("a structured request answered without structured output is a 502", () => {
  assert.throws(
    () => resultAnswer({ type: "result", result: "Sorry, here is prose." }, true),
    (error: unknown) => error instanceof HttpError && error.status === 502,
  );
});
