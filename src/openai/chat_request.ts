/**
 * The `POST /v1/chat/completions` request body, validated with zod.
 *
 * Follows OpenAI's Chat Completions shape. Unknown fields are ignored;
 * known fields with the wrong type are a 400 that names the field.
 *
 * @module
 */
import { z } from "zod";
import { HttpError } from "../http/http_error.ts";

const textPart = z.object({ type: z.literal("text"), text: z.string() });
const imagePart = z.object({
  type: z.literal("image_url"),
  image_url: z.object({ url: z.string().min(1), detail: z.string().optional() }),
});
const refusalPart = z.object({ type: z.literal("refusal"), refusal: z.string() });

/** One part of an array-valued message `content`. */
export const contentPartSchema = z.discriminatedUnion("type", [textPart, imagePart, refusalPart]);

/** A message's `content`: a string, an array of parts, or null (assistant turns with tool calls). */
export const contentSchema = z.union([z.string(), z.array(contentPartSchema), z.null()]);

const toolCallSchema = z.object({
  id: z.string().optional(),
  type: z.literal("function").optional(),
  function: z.object({ name: z.string(), arguments: z.string().default("") }),
});

/** One chat message. */
export const messageSchema = z.object({
  role: z.enum(["system", "developer", "user", "assistant", "tool"]),
  content: contentSchema.optional(),
  name: z.string().max(256).optional(),
  tool_calls: z.array(toolCallSchema).optional(),
  tool_call_id: z.string().optional(),
});

/** The request body. */
export const chatRequestSchema = z.object({
  model: z.string().min(1).optional(),
  messages: z.array(messageSchema).min(1, "messages must be a non-empty list"),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().nullish() }).nullish(),
  n: z.number().int().min(1).nullish(),
  stop: z.union([z.string(), z.array(z.string()).max(16)]).nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  max_tokens: z.number().int().min(1).nullish(),
  max_completion_tokens: z.number().int().min(1).nullish(),
  seed: z.number().int().nullish(),
  user: z.string().nullish(),
  metadata: z.record(z.string(), z.unknown()).nullish(),
  service_tier: z.string().nullish(),
  parallel_tool_calls: z.boolean().nullish(),
  tools: z.array(z.unknown()).nullish(),
  tool_choice: z.unknown().optional(),
  response_format: z.object({
    type: z.string(),
    json_schema: z.object({ schema: z.record(z.string(), z.unknown()).nullish() }).loose()
      .nullish(),
  }).loose().nullish(),
});

/** A validated chat request. */
export type ChatRequest = z.output<typeof chatRequestSchema>;
/** A validated chat message. */
export type ChatMessage = z.output<typeof messageSchema>;
/** A validated content part. */
export type ContentPart = z.output<typeof contentPartSchema>;

/** What a request asks of its run besides the messages. */
export interface ChatOptions {
  /** Stop sequences (OpenAI `stop`), possibly empty. */
  stop: string[];
  /** The schema the answer must satisfy (`response_format` json_schema / json_object). */
  jsonSchema?: Record<string, unknown>;
  /** Output token limit (`max_completion_tokens`, else `max_tokens`). */
  maxOutputTokens?: number;
  /** Send a usage chunk at the end of a stream (`stream_options.include_usage`). */
  includeUsage: boolean;
}

/** The schema used for `json_object`: any JSON object. */
export const ANY_OBJECT_SCHEMA: Record<string, unknown> = {
  type: "object",
  additionalProperties: true,
};

function unsupported(message: string): HttpError {
  return new HttpError(400, "unsupported parameter", message);
}

function jsonSchemaOf(format: ChatRequest["response_format"]): Record<string, unknown> | undefined {
  switch (format?.type ?? "text") {
    case "text":
      return undefined;
    case "json_object":
      return ANY_OBJECT_SCHEMA;
    case "json_schema": {
      const schema = format?.json_schema?.schema ?? ANY_OBJECT_SCHEMA;
      if (schema.type !== "object") {
        throw unsupported(
          'response_format.json_schema.schema must describe a JSON object at its root ("type": "object"); wrap other values in an object property.',
        );
      }
      return schema;
    }
    default:
      throw unsupported(
        `response_format type "${
          String(format?.type).slice(0, 50)
        }" is not supported; use "text", "json_object" or "json_schema".`,
      );
  }
}

/**
 * Reads the run options from a validated request, rejecting what the bridge
 * cannot honour before anything is spawned.
 *
 * @throws {HttpError} 400 `unsupported parameter` for `n` > 1, a non-empty
 * `tools` list (unless `tool_choice` is "none") and unknown `response_format` types.
 */
export function chatOptions(request: ChatRequest): ChatOptions {
  if ((request.n ?? 1) > 1) {
    throw unsupported("n > 1 is not supported; ask for one choice (n: 1).");
  }
  if (request.tools && request.tools.length > 0 && request.tool_choice !== "none") {
    throw unsupported(
      'Function calling is not supported yet: send the request without `tools` (or with tool_choice "none").',
    );
  }
  const stop = request.stop ?? [];
  return {
    stop: (typeof stop === "string" ? [stop] : stop).filter((item) => item !== ""),
    jsonSchema: jsonSchemaOf(request.response_format),
    maxOutputTokens: request.max_completion_tokens ?? request.max_tokens ?? undefined,
    includeUsage: request.stream_options?.include_usage ?? false,
  };
}

/** Renders zod issues as `path: problem` lines a client can act on. */
export function describeIssues(error: z.ZodError): string {
  return error.issues.slice(0, 5).map((issue) => {
    const path = issue.path.reduce<string>(
      (text, key) =>
        typeof key === "number" ? `${text}[${key}]` : text ? `${text}.${String(key)}` : String(key),
      "",
    );
    return `${path || "body"}: ${issue.message}`;
  }).join("; ");
}

/**
 * Validates a parsed body against `schema`.
 *
 * @throws {HttpError} 400 `invalid request` naming each wrong field.
 */
export function parseBody<T extends z.ZodType>(schema: T, body: unknown): z.output<T> {
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    throw new HttpError(
      400,
      "invalid request",
      `Invalid request body: ${describeIssues(parsed.error)}.`,
    );
  }
  return parsed.data;
}
