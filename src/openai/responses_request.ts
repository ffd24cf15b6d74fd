/**
 * The `POST /v1/responses` request: its zod schema, and its translation into
 * the engine's neutral {@linkcode Conversation} and run options.
 *
 * - `instructions`, then system and developer message items (each text part
 *   one instruction), become the run's instructions;
 * - `input` is a string (one user message) or items: messages (`input_text`,
 *   `input_image` as a data URL; `output_text` / `refusal` for assistant
 *   messages), `function_call` items (tool calls, `call_id` their id) and
 *   `function_call_output` items (tool results); `reasoning` items are
 *   dropped (their content is never sent back as text); `item_reference`s
 *   are resolved through the {@linkcode ResponsesStore}; other item types are
 *   a 400;
 * - `previous_response_id` puts a stored response's items in front of `input`;
 * - `function` tools are offered to the model; every other tool type (hosted
 *   or client-run tools the bridge cannot offer) is left out, and reported
 *   through `onLeftOutTool` so the handler can log it.
 *
 * Unknown fields are ignored; known fields with the wrong type, and what the
 * bridge cannot honour, are a 400 that names the field (`param`).
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
import { HttpError } from "../http/http_error.ts";
import { issuePath } from "../http/validate.ts";
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
import type { ResponsesStore } from "./responses_store.ts";

/** One input item, loosely: its type decides how the rest is read. */
const itemSchema = z.object({ type: z.string().nullish(), id: z.string().nullish() }).loose();

/** An input item as the request carried it (and as the store keeps it). */
export type InputItem = z.output<typeof itemSchema>;

/** Values of `reasoning.effort`: chat's `reasoning_effort` values and `max`. */
export const RESPONSES_EFFORTS = REASONING_EFFORTS;

/** The request body. */
export const responsesRequestSchema = z.object({
  model: z.string().min(1).optional(),
  input: z.union([z.string(), z.array(itemSchema)]).optional(),
  instructions: z.string().nullish(),
  previous_response_id: z.string().min(1).nullish(),
  store: z.boolean().nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_obfuscation: z.boolean().nullish() }).loose().nullish(),
  tools: z.array(z.object({ type: z.string() }).loose()).nullish(),
  tool_choice: z.union([
    z.enum(["none", "auto", "required"]),
    z.object({ type: z.string() }).loose(),
  ]).nullish(),
  parallel_tool_calls: z.boolean().nullish(),
  max_output_tokens: z.number().int().min(1).nullish(),
  max_tool_calls: z.number().int().min(0).nullish(),
  reasoning: z.object({
    effort: z.enum(RESPONSES_EFFORTS).nullish(),
    summary: z.string().nullish(),
    generate_summary: z.string().nullish(),
  }).loose().nullish(),
  text: z.object({
    format: z.object({
      type: z.string(),
      name: z.string().nullish(),
      schema: z.record(z.string(), z.unknown()).nullish(),
      strict: z.boolean().nullish(),
    }).loose().nullish(),
    verbosity: z.string().nullish(),
  }).loose().nullish(),
  include: z.array(z.string()).nullish(),
  metadata: z.record(z.string(), z.unknown()).nullish(),
  user: z.string().nullish(),
  safety_identifier: z.string().nullish(),
  prompt_cache_key: z.string().nullish(),
  prompt_cache_retention: z.string().nullish(),
  service_tier: z.string().nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  top_logprobs: z.number().int().min(0).max(20).nullish(),
  truncation: z.enum(["auto", "disabled"]).nullish(),
  background: z.boolean().nullish(),
  conversation: z.unknown().optional(),
  prompt: z.unknown().optional(),
  moderation: z.unknown().optional(),
  client_metadata: z.record(z.string(), z.unknown()).nullish(),
}).loose();

/** A validated Responses request. */
export type ResponsesRequest = z.output<typeof responsesRequestSchema>;

/** A request translated for the engine. */
export interface ResponsesPlan {
  conversation: Conversation;
  options: TurnOptions;
  /**
   * The whole input as items: the previous response's items, then `input`
   * with item references resolved — what a stored response keeps.
   */
  items: InputItem[];
  /** The `function` tools offered, as the client sent them (echoed in the response). */
  offeredTools: Record<string, unknown>[];
}

/** Where a request's stored state comes from, and where left-out tool types are reported. */
export interface PlanContext {
  store: ResponsesStore<InputItem>;
  /** Called once per request for each tool type that is left out. */
  onLeftOutTool?: (type: string) => void;
}

/** Validates `value` with `schema`; a failure is a 400 naming the fields under `param`. */
function parseAt<T extends z.ZodType>(schema: T, value: unknown, param: string): z.output<T> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const at = (path: readonly PropertyKey[]) => {
    const rest = issuePath(path);
    return rest === "" ? param : rest.startsWith("[") ? param + rest : `${param}.${rest}`;
  };
  const issues = parsed.error.issues;
  throw invalid(
    at(issues[0]?.path ?? []),
    `Invalid request body: ${
      issues.slice(0, 5).map((issue) => `${at(issue.path)}: ${issue.message}`).join("; ")
    }.`,
  );
}

const part = z.object({ type: z.string() }).loose();
const optionalId = z.string().nullish();

const messageItem = z.object({
  type: z.literal("message").nullish(),
  role: z.enum(["user", "assistant", "system", "developer"]),
  content: z.union([z.string(), z.array(part)]),
  id: optionalId,
  status: z.string().nullish(),
  phase: z.string().nullish(),
}).loose();

const functionCallItem = z.object({
  type: z.literal("function_call"),
  call_id: z.string().min(1),
  name: z.string().min(1),
  arguments: z.string(),
  id: optionalId,
  status: z.string().nullish(),
  namespace: z.string().nullish(),
}).loose();

const functionCallOutputItem = z.object({
  type: z.literal("function_call_output"),
  call_id: z.string({ error: "call_id is required: name the function_call this output answers" })
    .min(1),
  output: z.union([z.string(), z.array(part)]),
  id: optionalId,
  status: z.string().nullish(),
}).loose();

const functionToolSchema = z.object({
  type: z.literal("function"),
  name: z.string().min(1, "a function needs a name").max(128),
  description: z.string().nullish(),
  parameters: z.record(z.string(), z.unknown()).nullish(),
  strict: z.boolean().nullish(),
}).loose();

/**
 * The texts of `content` (a string, or input_text parts); any other part is a
 * 400 naming it, with `takes` saying what the field accepts.
 */
function textParts(
  param: string,
  content: string | z.output<typeof part>[],
  takes: string,
): string[] {
  if (typeof content === "string") return [content];
  return content.map((item, index) => {
    if ((item.type === "input_text" || item.type === "text") && typeof item.text === "string") {
      return item.text;
    }
    throw unsupported(
      `${param}[${index}].type`,
      `${param}[${index}] is a "${clip(item.type, 40)}" part; ${takes}`,
    );
  });
}

/** The text of an instruction (system/developer) message: one instruction per text part. */
function instructionTexts(param: string, content: string | z.output<typeof part>[]): string[] {
  return textParts(param, content, "system and developer messages take input_text parts.");
}

/** An image part as an image block; remote URLs and file ids are 400s. */
function imageBlock(param: string, item: z.output<typeof part>): Block {
  if (typeof item.image_url !== "string") {
    throw unsupported(
      `${param}.image_url`,
      item.file_id
        ? `${param} refers to an uploaded file (file_id); send the image inline as image_url: "data:image/png;base64,…".`
        : `${param}.image_url must be a data URL such as "data:image/png;base64,…".`,
    );
  }
  try {
    return dataUrlImage(item.image_url);
  } catch (error) {
    if (!(error instanceof HttpError)) throw error;
    throw new HttpError(error.status, error.code, error.message, {
      fields: { param: `${param}.image_url` },
    });
  }
}

/** A user message's blocks: text and inline images. */
function userBlocks(param: string, content: string | z.output<typeof part>[]): Block[] {
  if (typeof content === "string") return [{ type: "text", text: content }];
  return content.map((item, index): Block => {
    const at = `${param}[${index}]`;
    if ((item.type === "input_text" || item.type === "text") && typeof item.text === "string") {
      return { type: "text", text: item.text };
    }
    if (item.type === "input_image") return imageBlock(at, item);
    throw unsupported(
      `${at}.type`,
      `${at} is a "${
        clip(item.type, 40)
      }" part; user messages take input_text and input_image parts (files and audio are not supported).`,
    );
  });
}

/** An assistant message's text: its output_text and refusal parts (input_text too), joined. */
function assistantText(param: string, content: string | z.output<typeof part>[]): string {
  if (typeof content === "string") return content;
  return content.map((item, index) => {
    if (
      (item.type === "output_text" || item.type === "input_text" || item.type === "text") &&
      typeof item.text === "string"
    ) {
      return item.text;
    }
    if (item.type === "refusal" && typeof item.refusal === "string") return item.refusal;
    throw unsupported(
      `${param}[${index}].type`,
      `${param}[${index}] is a "${
        clip(item.type, 40)
      }" part; assistant messages take output_text and refusal parts.`,
    );
  }).join("");
}

/** A function_call_output's output as tool-result text: a string, or its input_text parts joined. */
function outputText(param: string, output: string | z.output<typeof part>[]): string {
  return textParts(
    param,
    output,
    "function_call_output takes a string or input_text parts (images and files cannot be passed on as a tool result).",
  ).join("");
}

/** True for an item that is an item reference (`type: "item_reference"`, or only an id). */
function isReference(item: InputItem): boolean {
  return item.type === "item_reference" ||
    ((item.type === undefined || item.type === null) && !("role" in item));
}

/**
 * The effective input items: the previous response's, then `input` with
 * item references replaced by the items they name.
 *
 * @throws {HttpError} 400 for an unknown previous response or item, a missing input.
 */
function effectiveItems(
  request: ResponsesRequest,
  store: ResponsesStore<InputItem>,
): { items: InputItem[]; params: string[] } {
  const items: InputItem[] = [];
  const params: string[] = [];
  const previous = request.previous_response_id;
  if (previous !== undefined && previous !== null) {
    const stored = store.get(previous);
    if (!stored) {
      throw new HttpError(
        400,
        "previous_response_not_found",
        store.enabled
          ? `Previous response "${
            clip(previous, 100)
          }" is not stored here. Only responses created with store: true are kept, in memory on this server only, for RESPONSES_STORE_TTL_MS and at most RESPONSES_STORE_MAX of them; send the whole conversation in input instead.`
          : `Previous response "${
            clip(previous, 100)
          }" cannot be found: this server keeps no responses (RESPONSES_STORE_MAX=0); send the whole conversation in input instead.`,
        { fields: { param: "previous_response_id" } },
      );
    }
    items.push(...stored);
    params.push(...stored.map((_, index) => `previous_response_id (its item ${index})`));
  }
  const input = request.input;
  if (input === undefined) {
    if (items.length === 0) {
      throw invalid("input", "input is required: send a string or a list of input items.");
    }
    return { items, params };
  }
  if (typeof input === "string") {
    items.push({ type: "message", role: "user", content: input });
    params.push("input");
    return { items, params };
  }
  for (const [index, item] of input.entries()) {
    params.push(`input[${index}]`);
    if (!isReference(item)) {
      items.push(item);
      continue;
    }
    const id = item.id;
    const found = typeof id === "string" ? store.findItem(id) : undefined;
    if (!found) {
      throw new HttpError(
        400,
        "item_not_found",
        typeof id === "string"
          ? `input[${index}] refers to item "${
            clip(id, 100)
          }", which is not stored here (only items of responses created with store: true are kept, in memory on this server only); send the item itself instead.`
          : `input[${index}] has neither a type nor a role; give it a type (message, function_call, function_call_output, item_reference).`,
        { fields: { param: `input[${index}]` } },
      );
    }
    items.push(found);
  }
  return { items, params };
}

/**
 * Input items as turns and instructions.
 *
 * @throws {HttpError} 400 naming the item and field for anything malformed or unsupported.
 */
export function itemsToTurns(
  items: readonly InputItem[],
  params: readonly string[] = items.map((_, index) => `input[${index}]`),
): { instructions: string[]; turns: Turn[] } {
  const instructions: string[] = [];
  const turns: Turn[] = [];
  for (const [index, raw] of items.entries()) {
    const param = params[index] ?? `input[${index}]`;
    const type = raw.type ?? "message";
    switch (type) {
      case "message": {
        const message = parseAt(messageItem, raw, param);
        const content = `${param}.content`;
        switch (message.role) {
          case "system":
          case "developer":
            instructions.push(...instructionTexts(content, message.content));
            break;
          case "user":
            appendTurn(turns, "user", userBlocks(content, message.content));
            break;
          case "assistant": {
            const text = assistantText(content, message.content);
            // An empty assistant message adds nothing.
            if (text !== "") appendTurn(turns, "assistant", [{ type: "text", text }]);
            break;
          }
        }
        break;
      }
      case "function_call": {
        const call = parseAt(functionCallItem, raw, param);
        appendTurn(turns, "assistant", [{
          type: "tool_use",
          id: call.call_id,
          name: call.name,
          input: argumentsOf(`${param}.arguments`, call.arguments),
        }]);
        break;
      }
      case "function_call_output": {
        const result = parseAt(functionCallOutputItem, raw, param);
        appendTurn(turns, "user", [{
          type: "tool_result",
          toolUseId: result.call_id,
          content: outputText(`${param}.output`, result.output),
        }]);
        break;
      }
      case "reasoning":
        // Earlier turns' reasoning: accepted, and not sent back as text.
        break;
      default:
        throw unsupported(
          `${param}.type`,
          `${param} is a "${
            clip(type, 40)
          }" item; the bridge takes message, function_call, function_call_output, reasoning and item_reference items.`,
        );
    }
  }
  return { instructions, turns };
}

/** The function tools, and the types of the others (left out). */
function toolsOf(request: ResponsesRequest): {
  tools: Tool[];
  offered: Record<string, unknown>[];
  leftOut: string[];
} {
  const tools: Tool[] = [];
  const offered: Record<string, unknown>[] = [];
  const leftOut = new Set<string>();
  for (const [index, raw] of (request.tools ?? []).entries()) {
    if (raw.type !== "function") {
      leftOut.add(raw.type);
      continue;
    }
    const param = `tools[${index}]`;
    tools.push(functionTool(param, tools, parseAt(functionToolSchema, raw, param)));
    offered.push(raw);
  }
  return { tools, offered, leftOut: [...leftOut] };
}

/** `tool_choice` as the engine's choice, and the tools an `allowed_tools` choice keeps. */
function toolChoiceOf(
  choice: ResponsesRequest["tool_choice"],
  tools: Tool[],
): { choice: ToolChoice; tools: Tool[] } {
  if (choice === undefined || choice === null) return { choice: { type: "auto" }, tools };
  if (typeof choice === "string") return { choice: { type: choice }, tools };
  if (choice.type === "function") {
    if (typeof choice.name !== "string" || choice.name === "") {
      throw invalid(
        "tool_choice.name",
        'tool_choice {"type": "function"} needs the name of a function in tools.',
      );
    }
    return { choice: { type: "function", name: choice.name }, tools };
  }
  if (
    choice.type === "allowed_tools" && (choice.mode === "auto" || choice.mode === "required") &&
    Array.isArray(choice.tools)
  ) {
    const allowed = new Set(
      choice.tools.flatMap((tool: { type?: unknown; name?: unknown }) =>
        tool?.type === "function" && typeof tool.name === "string" ? [tool.name] : []
      ),
    );
    return { choice: { type: choice.mode }, tools: tools.filter((tool) => allowed.has(tool.name)) };
  }
  throw unsupported(
    "tool_choice",
    `tool_choice of type "${
      clip(choice.type, 40)
    }" is not supported; use "none", "auto", "required", {"type": "function", "name": …} or {"type": "allowed_tools", …} (hosted tools are not available here).`,
  );
}

function jsonSchemaOf(
  format: NonNullable<ResponsesRequest["text"]>["format"],
): Record<string, unknown> | undefined {
  switch (format?.type ?? "text") {
    case "text":
      return undefined;
    case "json_object":
      return ANY_OBJECT_SCHEMA;
    case "json_schema":
      return objectSchema("text.format.schema", format?.schema);
    default:
      throw unsupported(
        "text.format.type",
        `text.format type "${
          clip(format?.type, 50)
        }" is not supported; use "text", "json_object" or "json_schema".`,
      );
  }
}

/** Fields refused whenever set, with what to do instead. */
const REFUSED_FIELDS = [
  [
    "conversation",
    "The Conversations API is not available here; use previous_response_id with store: true, or send the whole conversation in input.",
  ],
  [
    "prompt",
    "Stored prompt templates are not available here; send the text in instructions and input.",
  ],
  [
    "moderation",
    "Moderation is not available through the Claude Code CLI; leave moderation unset.",
  ],
] as const;

/** Refuses the fields the bridge cannot honour (see the README's field table). */
function refuseUnsupported(request: ResponsesRequest): void {
  if (request.background === true) {
    throw unsupported(
      "background",
      "Background responses are not supported; leave background unset and keep the connection open (stream: true shows progress).",
    );
  }
  for (const [field, message] of REFUSED_FIELDS) {
    if (request[field] !== undefined && request[field] !== null) throw unsupported(field, message);
  }
  if (
    (request.top_logprobs ?? 0) > 0 || request.include?.includes("message.output_text.logprobs")
  ) {
    throw unsupported(
      request.include?.includes("message.output_text.logprobs") ? "include" : "top_logprobs",
      "logprobs are not available through the Claude Code CLI; leave top_logprobs unset and do not include message.output_text.logprobs.",
    );
  }
}

/**
 * Translates a validated request: its conversation (with the previous
 * response's items and resolved references), run options and the items to
 * store.
 *
 * @throws {HttpError} 400 naming the parameter.
 */
export function planResponse(request: ResponsesRequest, context: PlanContext): ResponsesPlan {
  refuseUnsupported(request);
  const offeredAll = toolsOf(request);
  for (const type of offeredAll.leftOut) context.onLeftOutTool?.(type);
  const { choice, tools } = toolChoiceOf(request.tool_choice, offeredAll.tools);
  const { items, params } = effectiveItems(request, context.store);
  const fromItems = itemsToTurns(items, params);
  const instructions = [
    ...(request.instructions ? [request.instructions] : []),
    ...fromItems.instructions,
  ];
  const effort = request.reasoning?.effort;
  return {
    conversation: { instructions, turns: fromItems.turns, tools },
    options: {
      stop: [],
      jsonSchema: jsonSchemaOf(request.text?.format),
      maxOutputTokens: request.max_output_tokens ?? undefined,
      ...samplingOf(request.temperature, request.top_p),
      ...effortOf(effort),
      toolChoice: choice,
      parallelToolCalls: request.parallel_tool_calls ?? true,
    },
    items,
    offeredTools: offeredAll.offered.filter((raw) => tools.some((tool) => tool.name === raw.name)),
  };
}
