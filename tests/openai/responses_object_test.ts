/** Responses API objects: ids, usage, statuses and the error shape. */
import assert from "node:assert/strict";
import { HttpError } from "../../src/http/http_error.ts";
import {
  errorCode,
  errorObject,
  errorResponse,
  newId,
  responsesUsage,
  statusOf,
} from "../../src/openai/responses_object.ts";

Deno.test("ids carry OpenAI's prefixes and 32 hex digits", () => {
  assert.match(newId("resp"), /^resp_[0-9a-f]{32}$/);
  assert.match(newId("msg"), /^msg_[0-9a-f]{32}$/);
  assert.match(newId("fc"), /^fc_[0-9a-f]{32}$/);
  assert.notEqual(newId("resp"), newId("resp"));
});

Deno.test("usage: input tokens include cache reads and writes; cached_tokens are the reads", () => {
  assert.deepEqual(
    responsesUsage({ inputTokens: 1, outputTokens: 7, cacheReadTokens: 40, cacheWriteTokens: 9 }),
    {
      input_tokens: 50,
      input_tokens_details: { cached_tokens: 40, cache_write_tokens: 9 },
      output_tokens: 7,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: 57,
    },
  );
});

Deno.test("finish reasons as statuses: length and content_filter are incomplete", () => {
  assert.deepEqual(statusOf("stop"), { status: "completed", incomplete: null });
  assert.deepEqual(statusOf("tool_calls"), { status: "completed", incomplete: null });
  assert.deepEqual(statusOf("length"), {
    status: "incomplete",
    incomplete: { reason: "max_output_tokens" },
  });
  assert.deepEqual(statusOf("content_filter"), {
    status: "incomplete",
    incomplete: { reason: "content_filter" },
  });
});

Deno.test("error codes are snake_case; snake_case codes stay as they are", () => {
  assert.equal(errorCode("unsupported model"), "unsupported_model");
  assert.equal(errorCode("previous_response_not_found"), "previous_response_not_found");
  assert.equal(errorCode("client closed request"), "client_closed_request");
});

Deno.test("the error body is {error: {message, type, param, code}} with the status and headers", async () => {
  const error = new HttpError(429, "queue full", "Too many requests; retry.", {
    fields: { param: null },
    headers: { "retry-after": "3" },
  });
  const response = errorResponse(error);
  assert.equal(response.status, 429);
  assert.equal(response.headers.get("retry-after"), "3");
  assert.match(response.headers.get("content-type")!, /application\/json/);
  assert.deepEqual(await response.json(), {
    error: {
      message: "Too many requests; retry.",
      type: "rate_limit_error",
      param: null,
      code: "queue_full",
    },
  });
});

Deno.test("an error's param and extra fields ride in the error object", () => {
  const error = new HttpError(400, "unsupported model", "Use one of: a, b.", {
    fields: { param: "model", supported: ["a", "b"] },
  });
  assert.deepEqual(errorObject(error), {
    message: "Use one of: a, b.",
    type: "invalid_request_error",
    param: "model",
    code: "unsupported_model",
    supported: ["a", "b"],
  });
});
