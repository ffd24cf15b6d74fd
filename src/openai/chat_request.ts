/**
 * The `POST /v1/chat/completions` request: its zod schema, and its
 * translation into the engine's neutral {@linkcode Conversation} and
 * {@linkcode ChatOptions}.
 *
 * Follows OpenAI's Chat Completions shape. Unknown fields are ignored; known
 * fields with the wrong type, and what the bridge cannot honour, are a 400
 * that names the field (`param`) and how to fix it. The README's field table
 * says what happens to every field.
 *
 * @module
 */
import { z } from "zod";
import { dataUrlImage } from "../conversation/images.ts";
import {
  appendTurn,
  type Block,
  type Conversation,
  type Tool,
  type ToolChoice,
  type Turn,
} from "../conversation/model.ts";
import {
  ANY_OBJECT_SCHEMA,
  argumentsOf,
  clip,
  effortOf,
  functionTool,
  invalid,
  objectSchema,
  REASONING_EFFORTS,
  samplingOf,
  type TurnOptions,
  unsupported,
} from "./request_fields.ts";

const part = z.object({ type: z.string() }).loose();
const content = z.union([z.string(), z.array(part), z.null()]);
const functionCall = z.object({ name: z.string().min(1), arguments: z.string().default("") });

/** One chat message. */
export const messageSchema = z.object({
  role: z.enum(["system", "developer", "user", "assistant", "tool", "function"]),
  content: content.optional(),
  name: z.string().max(256).optional(),
  tool_calls: z.array(
    z.object({ id: z.string().min(1), type: z.string().optional(), function: functionCall })
      .loose(),
  ).nullish(),
  function_call: functionCall.nullish(),
  tool_call_id: z.string().optional(),
  refusal: z.string().nullish(),
}).loose();

const functionSchema = z.object({
  name: z.string().min(1, "a function needs a name").max(128),
  description: z.string().optional(),
  parameters: z.record(z.string(), z.unknown()).optional(),
  strict: z.boolean().nullish(),
}).loose();

/** The request body. */
export const chatRequestSchema = z.object({
  model: z.string().min(1).optional(),
  messages: z.array(messageSchema).min(1, "messages must be a non-empty list"),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().nullish() }).loose().nullish(),
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
  logprobs: z.boolean().nullish(),
  top_logprobs: z.number().int().min(0).nullish(),
  modalities: z.array(z.string()).nullish(),
  audio: z.unknown().optional(),
  reasoning_effort: z.enum(REASONING_EFFORTS).nullish(),
  parallel_tool_calls: z.boolean().nullish(),
  tools: z.array(z.object({ type: z.string(), function: functionSchema.optional() }).loose())
    .nullish(),
  tool_choice: z.union([
    z.enum(["none", "auto", "required"]),
    z.object({ type: z.string(), function: z.object({ name: z.string() }).loose().optional() })
      .loose(),
  ]).nullish(),
  functions: z.array(functionSchema).nullish(),
  function_call: z.union([z.enum(["none", "auto"]), z.object({ name: z.string() }).loose()])
    .nullish(),
  response_format: z.object({
    type: z.string(),
    json_schema: z.object({ schema: z.record(z.string(), z.unknown()).nullish() }).loose()
      .nullish(),
  }).loose().nullish(),
  web_search_options: z.unknown().optional(),
}).loose();

/** A validated chat request. */
export type ChatRequest = z.output<typeof chatRequestSchema>;
/** A validated chat message. */
export type ChatMessage = z.output<typeof messageSchema>;

/** What a request asks of its run besides the conversation. */
export interface ChatOptions extends TurnOptions {
  /** Send a usage chunk at the end of a stream (`stream_options.include_usage`). */
  includeUsage: boolean;
  /** The client used the legacy `functions` API: answer with `function_call`. */
  legacyFunctions: boolean;
}

function jsonSchemaOf(format: ChatRequest["response_format"]): Record<string, unknown> | undefined {
  switch (format?.type ?? "text") {
    case "text":
      return undefined;
    case "json_object":
      return ANY_OBJECT_SCHEMA;
    case "json_schema":
      return objectSchema("response_format.json_schema.schema", format?.json_schema?.schema);
    default:
      throw unsupported(
        "response_format.type",
        `response_format type "${
          String(format?.type).slice(0, 50)
        }" is not supported; use "text", "json_object" or "json_schema".`,
      );
  }
}

function toolsOf(request: ChatRequest): Tool[] {
  if (
    request.tools && request.tools.length > 0 && request.functions && request.functions.length > 0
  ) {
    throw invalid("functions", "Send either tools or the legacy functions, not both.");
  }
  const tools: Tool[] = [];
  for (const [index, tool] of (request.tools ?? []).entries()) {
    if (tool.type !== "function" || !tool.function) {
      throw unsupported(
        `tools[${index}].type`,
        `tools[${index}] has type "${
          clip(tool.type, 40)
        }"; only "function" tools (with a function object) are supported.`,
      );
    }
    tools.push(functionTool(`tools[${index}].function`, tools, tool.function));
  }
  for (const [index, fn] of (request.functions ?? []).entries()) {
    tools.push(functionTool(`functions[${index}]`, tools, fn));
  }
  return tools;
}

function toolChoiceOf(request: ChatRequest): ToolChoice {
  const legacy = request.function_call;
  if (legacy !== undefined && legacy !== null) {
    return typeof legacy === "string" ? { type: legacy } : { type: "function", name: legacy.name };
  }
  const choice = request.tool_choice;
  if (choice === undefined || choice === null) return { type: "auto" };
  if (typeof choice === "string") return { type: choice };
  if (choice.type === "function" && choice.function?.name) {
    return { type: "function", name: choice.function.name };
  }
  throw unsupported(
    "tool_choice",
    `tool_choice of type "${
      String(choice.type).slice(0, 40)
    }" is not supported; use "none", "auto", "required" or {"type": "function", "function": {"name": …}}.`,
  );
}

/**
 * Reads the run options from a validated request, refusing what the bridge
 * cannot honour before anything is spawned.
 *
 * @throws {HttpError} 400 naming the parameter.
 */
export function chatOptions(request: ChatRequest): ChatOptions {
  if ((request.n ?? 1) > 1) {
    throw unsupported("n", "n > 1 is not supported; ask for one choice (n: 1).");
  }
  if (request.logprobs === true || (request.top_logprobs ?? 0) > 0) {
    throw unsupported(
      "logprobs",
      "logprobs are not available through the Claude Code CLI; leave logprobs unset.",
    );
  }
  if (request.modalities?.some((modality) => modality !== "text") || request.audio !== undefined) {
    throw unsupported(
      "modalities",
      'Only text output is supported; send modalities ["text"] (or leave it unset) and no audio.',
    );
  }
  if (request.web_search_options !== undefined) {
    throw unsupported(
      "web_search_options",
      "Web search is not available here; leave web_search_options unset.",
    );
  }
  const stop = request.stop ?? [];
  const legacyFunctions = (request.functions?.length ?? 0) > 0;
  return {
    stop: (typeof stop === "string" ? [stop] : stop).filter((item) => item !== ""),
    jsonSchema: jsonSchemaOf(request.response_format),
    maxOutputTokens: request.max_completion_tokens ?? request.max_tokens ?? undefined,
    ...samplingOf(request.temperature, request.top_p),
    ...effortOf(request.reasoning_effort),
    toolChoice: toolChoiceOf(request),
    // The legacy API has one function call per message.
    parallelToolCalls: legacyFunctions ? false : request.parallel_tool_calls ?? true,
    includeUsage: request.stream_options?.include_usage ?? false,
    legacyFunctions,
  };
}

/** The text of text (and refusal) parts; other part types are refused, naming `param`. */
function textOf(param: string, value: z.output<typeof content> | undefined): string {
  if (value === undefined || value === null) return "";
  if (typeof value === "string") return value;
  return value.map((item, index) => {
    if (item.type === "text" && typeof item.text === "string") return item.text;
    if (item.type === "refusal" && typeof item.refusal === "string") return item.refusal;
    throw unsupported(
      `${param}[${index}].type`,
      `${param}[${index}] is a "${
        String(item.type).slice(0, 40)
      }" part; only text parts are accepted here.`,
    );
  }).join("");
}

/** A user message's blocks: text and images. */
function userBlocks(param: string, value: z.output<typeof content> | undefined): Block[] {
  if (value === undefined || value === null) {
    throw invalid(
      param,
      `${param} is required for user messages: send a string or a list of parts.`,
    );
  }
  if (typeof value === "string") return [{ type: "text", text: value }];
  return value.map((item, index): Block => {
    if (item.type === "text" && typeof item.text === "string") {
      return { type: "text", text: item.text };
    }
    if (item.type === "image_url") {
      const url = (item.image_url as { url?: unknown } | undefined)?.url;
      if (typeof url !== "string") {
        throw invalid(
          `${param}[${index}].image_url.url`,
          `${param}[${index}].image_url.url must be a string.`,
        );
      }
      return dataUrlImage(url, `${param}[${index}].image_url.url`);
    }
    throw unsupported(
      `${param}[${index}].type`,
      `${param}[${index}] is a "${
        String(item.type).slice(0, 40)
      }" part; user messages take text and image_url parts.`,
    );
  });
}

/**
 * The request's messages as a neutral conversation: system and developer
 * messages become instructions, user and assistant messages turns, tool
 * calls and tool (and legacy function) results tool-use and tool-result blocks.
 *
 * @throws {HttpError} 400 naming the message and field for anything malformed.
 */
export function toConversation(request: ChatRequest): Conversation {
  const instructions: string[] = [];
  const turns: Turn[] = [];
  /** The id given to each legacy `function_call`, by message index, to pair it with its result. */
  let legacyCall: string | undefined;
  for (const [index, message] of request.messages.entries()) {
    const param = `messages[${index}]`;
    switch (message.role) {
      case "system":
      case "developer": {
        if (message.content === undefined || message.content === null) {
          throw invalid(
            `${param}.content`,
            `${param}.content is required for ${message.role} messages.`,
          );
        }
        instructions.push(textOf(`${param}.content`, message.content));
        break;
      }
      case "user":
        appendTurn(turns, "user", userBlocks(`${param}.content`, message.content));
        break;
      case "assistant": {
        const blocks: Block[] = [];
        const text = textOf(`${param}.content`, message.content);
        if (text !== "") blocks.push({ type: "text", text });
        for (const [at, call] of (message.tool_calls ?? []).entries()) {
          blocks.push({
            type: "tool_use",
            id: call.id,
            name: call.function.name,
            input: argumentsOf(
              `${param}.tool_calls[${at}].function.arguments`,
              call.function.arguments,
            ),
          });
        }
        if (message.function_call) {
          legacyCall = `call_legacy_${index}`;
          blocks.push({
            type: "tool_use",
            id: legacyCall,
            name: message.function_call.name,
            input: argumentsOf(`${param}.function_call.arguments`, message.function_call.arguments),
          });
        }
        // An empty assistant message (no text, no calls) adds nothing.
        appendTurn(turns, "assistant", blocks);
        break;
      }
      case "tool": {
        if (!message.tool_call_id) {
          throw invalid(
            `${param}.tool_call_id`,
            `${param}.tool_call_id is required: name the call this result answers.`,
          );
        }
        if (message.content === undefined || message.content === null) {
          throw invalid(`${param}.content`, `${param}.content is required for tool messages.`);
        }
        appendTurn(turns, "user", [{
          type: "tool_result",
          toolUseId: message.tool_call_id,
          content: textOf(`${param}.content`, message.content),
        }]);
        break;
      }
      case "function": {
        if (legacyCall === undefined) {
          throw invalid(
            param,
            `${param} is a function result with no assistant function_call before it.`,
          );
        }
        appendTurn(turns, "user", [{
          type: "tool_result",
          toolUseId: legacyCall,
          content: textOf(`${param}.content`, message.content),
        }]);
        legacyCall = undefined;
        break;
      }
    }
  }
  return { instructions, turns, tools: toolsOf(request) };
}
