/**
 * The Responses API's objects as OpenAI defines them (`openai` 7.57.0,
 * `resources/responses/responses.d.ts`): the `response` object around a
 * reply, its `usage`, the ids of responses and output items, and error
 * bodies in the Responses shape (`{"error": {message, type, param, code}}`).
 *
 * @module
 */
import type { FinishReason, Usage } from "../engine/reply.ts";
import { errorType, type HttpError } from "../http/http_error.ts";

/** A random id with OpenAI's prefix: `resp_…`, `msg_…`, `fc_…`. */
export function newId(prefix: "resp" | "msg" | "fc"): string {
  return `${prefix}_${crypto.randomUUID().replaceAll("-", "")}`;
}

/** The request's settings a response object echoes, fixed for the whole response. */
export interface ResponseFrame {
  id: string;
  /** Unix seconds. */
  created_at: number;
  model: string;
  instructions: string | null;
  max_output_tokens: number | null;
  parallel_tool_calls: boolean;
  previous_response_id: string | null;
  reasoning: { effort: string | null; summary: string | null };
  store: boolean;
  temperature: number | null;
  top_p: number | null;
  text: { format: Record<string, unknown> };
  tool_choice: unknown;
  tools: Record<string, unknown>[];
  truncation: "auto" | "disabled";
  metadata: Record<string, unknown>;
  user?: string;
  prompt_cache_key?: string;
}

/** OpenAI's `ResponseUsage`. */
export interface ResponsesUsage {
  input_tokens: number;
  input_tokens_details: { cached_tokens: number; cache_write_tokens: number };
  output_tokens: number;
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
}

/**
 * A reply's usage in the Responses API's terms: input tokens include cache
 * reads and writes; `cached_tokens` are the reads. Claude's output tokens
 * include its thinking, which the CLI does not count apart, so
 * `reasoning_tokens` is 0.
 */
export function responsesUsage(usage: Usage): ResponsesUsage {
  const input = usage.inputTokens + usage.cacheReadTokens + usage.cacheWriteTokens;
  return {
    input_tokens: input,
    input_tokens_details: {
      cached_tokens: usage.cacheReadTokens,
      cache_write_tokens: usage.cacheWriteTokens,
    },
    output_tokens: usage.outputTokens,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: input + usage.outputTokens,
  };
}

/** A response's status. */
export type ResponseStatus = "in_progress" | "completed" | "incomplete" | "failed";

/** How a reply's end reads as a response's status and `incomplete_details`. */
export function statusOf(
  finish: FinishReason,
): { status: "completed" | "incomplete"; incomplete: { reason: string } | null } {
  switch (finish) {
    case "length":
      return { status: "incomplete", incomplete: { reason: "max_output_tokens" } };
    case "content_filter":
      return { status: "incomplete", incomplete: { reason: "content_filter" } };
    default:
      return { status: "completed", incomplete: null };
  }
}

/** The end state of a response object (absent while in progress). */
export interface ResponseEnd {
  status: Exclude<ResponseStatus, "in_progress">;
  usage?: Usage;
  incomplete?: { reason: string } | null;
  error?: HttpError;
}

/** The `error` of a failed response object (`ResponseError`: its code is one of OpenAI's). */
export function responseError(error: HttpError): { code: string; message: string } {
  return {
    code: error.status === 429 ? "rate_limit_exceeded" : "server_error",
    message: error.message,
  };
}

/** A whole `response` object: the frame, `output`, and the end state if over. */
export function responseObject(
  frame: ResponseFrame,
  output: readonly unknown[],
  end?: ResponseEnd,
): Record<string, unknown> {
  const { user, prompt_cache_key, ...echo } = frame;
  return {
    id: echo.id,
    object: "response",
    created_at: echo.created_at,
    status: end?.status ?? "in_progress",
    ...(end?.status === "completed" ? { completed_at: Math.floor(Date.now() / 1000) } : {}),
    background: false,
    error: end?.error ? responseError(end.error) : null,
    incomplete_details: end?.incomplete ?? null,
    instructions: echo.instructions,
    max_output_tokens: echo.max_output_tokens,
    model: echo.model,
    output,
    parallel_tool_calls: echo.parallel_tool_calls,
    previous_response_id: echo.previous_response_id,
    reasoning: echo.reasoning,
    store: echo.store,
    temperature: echo.temperature,
    text: echo.text,
    tool_choice: echo.tool_choice,
    tools: echo.tools,
    top_p: echo.top_p,
    truncation: echo.truncation,
    ...(end?.usage ? { usage: responsesUsage(end.usage) } : {}),
    ...(user !== undefined ? { user } : {}),
    ...(prompt_cache_key !== undefined ? { prompt_cache_key } : {}),
    metadata: echo.metadata,
  };
}

/** An error code as OpenAI spells them: `unsupported model` → `unsupported_model`. */
export function errorCode(code: string): string {
  return code.toLowerCase().replace(/[^a-z0-9]+/g, "_").replace(/^_|_$/g, "");
}

/**
 * OpenAI's standard error object for `error`: `message`, `type`, `param`,
 * `code`, plus the error's other fields (`supported`, `detail`, …).
 */
export function errorObject(error: HttpError): Record<string, unknown> {
  const { param, ...rest } = error.fields;
  return {
    message: error.message,
    type: errorType(error.status),
    param: typeof param === "string" ? param : null,
    code: errorCode(error.code),
    ...rest,
  };
}

/** An error as a Responses API error response: `{"error": {message, type, param, code}}`. */
export function errorResponse(error: HttpError): Response {
  const headers = new Headers(error.headers);
  headers.set("content-type", "application/json; charset=utf-8");
  return new Response(JSON.stringify({ error: errorObject(error) }), {
    status: error.status,
    headers,
  });
}
