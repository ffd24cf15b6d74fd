/**
 * What both OpenAI faces (Chat Completions and the Responses API) read the
 * same way: function tools and their names and parameters, function-call
 * arguments, output formats (JSON schema), reasoning effort, and the shape of
 * their 400s (a short `error`, a message naming the fix, and the `param`).
 *
 * @module
 */
import type { Effort } from "../claude/control.ts";
import type { Tool } from "../conversation/model.ts";
import type { RunOptions } from "../engine/engine.ts";
import { HttpError } from "../http/http_error.ts";

/** What a face reads from a request for its turn: the engine's run options but the agent and model (the handler's). */
export type TurnOptions = Omit<RunOptions, "agent" | "model" | "keepAlive">;

/** A 400 `unsupported parameter` naming `param`. */
export function unsupported(param: string, message: string): HttpError {
  return new HttpError(400, "unsupported parameter", message, { fields: { param } });
}

/** A 400 `invalid request` naming `param`. */
export function invalid(param: string, message: string): HttpError {
  return new HttpError(400, "invalid request", message, { fields: { param } });
}

/** `value` as text, cut to `max` characters for an error message. */
export function clip(value: unknown, max = 60): string {
  const text = String(value);
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** The schema used for `json_object`: any JSON object. */
export const ANY_OBJECT_SCHEMA: Record<string, unknown> = {
  type: "object",
  additionalProperties: true,
};

/**
 * The output schema of a `json_schema` format: a schema whose root is an
 * object (the CLI's structured output is an object), or any object without one.
 *
 * @throws {HttpError} 400 naming `param` for another root type.
 */
export function objectSchema(
  param: string,
  schema: Record<string, unknown> | null | undefined,
): Record<string, unknown> {
  const found = schema ?? ANY_OBJECT_SCHEMA;
  if (found.type !== "object") {
    throw unsupported(
      param,
      `${param} must describe a JSON object at its root ("type": "object"); wrap other values in an object property.`,
    );
  }
  return found;
}

/** Values of `reasoning_effort` (and the Responses API's `reasoning.effort`). */
export const REASONING_EFFORTS = [
  "none",
  "minimal",
  "low",
  "medium",
  "high",
  "xhigh",
  "max",
] as const;

/** A reasoning effort as the CLI's effort level and thinking switch: "none" and "minimal" turn thinking off. */
export function effortOf(
  value: typeof REASONING_EFFORTS[number] | null | undefined,
): { effort?: Effort; thinking?: boolean } {
  switch (value) {
    case undefined:
    case null:
      return {};
    case "none":
      return { thinking: false };
    case "minimal":
      return { effort: "low", thinking: false };
    default:
      return { effort: value };
  }
}

/** `temperature` and `top_p` as run options (unset or null ones left out). */
export function samplingOf(
  temperature: number | null | undefined,
  topP: number | null | undefined,
): { temperature?: number; topP?: number } {
  return {
    ...(temperature === undefined || temperature === null ? {} : { temperature }),
    ...(topP === undefined || topP === null ? {} : { topP }),
  };
}

/** A function's parameters as an object schema (an object schema without `type` gets one). */
export function parametersOf(
  param: string,
  parameters: Record<string, unknown> | null | undefined,
): Record<string, unknown> {
  if (parameters === undefined || parameters === null) return { type: "object", properties: {} };
  if (parameters.type === undefined) return { ...parameters, type: "object" };
  if (parameters.type !== "object") {
    throw invalid(param, `${param} must be a JSON Schema of an object ("type": "object").`);
  }
  return parameters;
}

/**
 * A function tool, checked: its name must be new (not in `known`) and free of
 * whitespace and control characters.
 *
 * @throws {HttpError} 400 naming `param`.
 */
export function functionTool(
  param: string,
  known: readonly Tool[],
  fn: { name: string; description?: string | null; parameters?: Record<string, unknown> | null },
): Tool {
  if (known.some((tool) => tool.name === fn.name)) {
    throw invalid(
      `${param}.name`,
      `The function name "${clip(fn.name, 80)}" is defined twice; names must be unique.`,
    );
  }
  if (/\s/.test(fn.name) || [...fn.name].some((char) => char.charCodeAt(0) < 0x20)) {
    throw invalid(
      `${param}.name`,
      `The function name "${clip(fn.name, 80)}" contains whitespace or control characters.`,
    );
  }
  return {
    name: fn.name,
    ...(fn.description ? { description: fn.description } : {}),
    parameters: parametersOf(`${param}.parameters`, fn.parameters),
  };
}

/**
 * Function-call arguments (JSON text) as an object; blank means `{}`.
 *
 * @throws {HttpError} 400 naming `param` for anything but a JSON object.
 */
export function argumentsOf(param: string, text: string): unknown {
  if (text.trim() === "") return {};
  try {
    const value = JSON.parse(text);
    if (typeof value === "object" && value !== null && !Array.isArray(value)) return value;
  } catch {
    // Reported below.
  }
  throw invalid(param, `${param} must be a JSON object encoded as a string.`);
}
