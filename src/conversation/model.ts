/**
 * The neutral conversation model between the HTTP faces and the Claude side:
 * a conversation is the client's instructions, a list of turns made of text,
 * image, tool-use and tool-result blocks, and the tools the client offers.
 * Faces (OpenAI Chat Completions, the Responses API, `/execute`) translate
 * their requests into it; the engine turns it into native Claude turns.
 *
 * @module
 */

/** Plain text. */
export interface TextBlock {
  type: "text";
  text: string;
}

/** An inline image (base64). */
export interface ImageBlock {
  type: "image";
  mediaType: string;
  data: string;
}

/** A call of one of the client's tools, as the model made it. */
export interface ToolUseBlock {
  type: "tool_use";
  /** The call id (`tool_call_id` in OpenAI terms). */
  id: string;
  /** The client's own tool name. */
  name: string;
  /** The arguments, as a JSON value (an object for well-formed calls). */
  input: unknown;
}

/** The client's answer to a tool call. */
export interface ToolResultBlock {
  type: "tool_result";
  /** The id of the call it answers. */
  toolUseId: string;
  /** The result text. */
  content: string;
  /** True when the tool failed. */
  isError?: boolean;
}

/** One piece of a turn. */
export type Block = TextBlock | ImageBlock | ToolUseBlock | ToolResultBlock;

/** Who speaks a turn. */
export type Role = "user" | "assistant";

/** One turn: the blocks of consecutive messages of one role. */
export interface Turn {
  role: Role;
  content: Block[];
}

/** A function the client offers the model. */
export interface Tool {
  name: string;
  description?: string;
  /** JSON Schema of the arguments (an object schema). */
  parameters: Record<string, unknown>;
}

/** How the model may use the client's tools in this response. */
export type ToolChoice =
  | { type: "auto" }
  | { type: "none" }
  | { type: "required" }
  | { type: "function"; name: string };

/** A request's conversation, as a face hands it to the engine. */
export interface Conversation {
  /**
   * The client's instructions (system and developer messages, the Responses
   * API's `instructions`), in order. They become the run's system prompt.
   */
  instructions: string[];
  /** The messages, oldest first; the last one is the new input. */
  turns: Turn[];
  /** The functions the client offers (possibly none). */
  tools: Tool[];
}

/**
 * The user turn added in front of a conversation that does not start with
 * one (it starts with the assistant, say a greeting, or holds only
 * instructions): Claude needs a user turn first, and a fixed text keeps every
 * later request of the same conversation identical, so that it still matches
 * the live process and the prompt cache.
 */
export const OPENING_LINE = "(The conversation begins.)";

/** Appends `blocks` as `role`, joining them to the last turn when it has the same role. */
export function appendTurn(turns: Turn[], role: Role, blocks: readonly Block[]): void {
  if (blocks.length === 0) return;
  const last = turns.at(-1);
  if (last?.role === role) last.content.push(...blocks);
  else turns.push({ role, content: [...blocks] });
}

/** A text block. */
export function text(value: string): TextBlock {
  return { type: "text", text: value };
}

/** The tool calls of a turn. */
export function toolUses(turn: Turn | undefined): ToolUseBlock[] {
  return (turn?.content ?? []).filter((block): block is ToolUseBlock => block.type === "tool_use");
}

/** The tool results of a turn. */
export function toolResults(turn: Turn | undefined): ToolResultBlock[] {
  return (turn?.content ?? []).filter((block): block is ToolResultBlock =>
    block.type === "tool_result"
  );
}

/** What kind of new input a normalized conversation ends with. */
export function inputKind(conversation: Conversation): "message" | "tool_results" {
  const last = conversation.turns.at(-1)!;
  return toolResults(last).length > 0 ? "tool_results" : "message";
}

/** True for a turn that carries the user's new words or images (not only tool results). */
function hasUserInput(turn: Turn): boolean {
  return turn.content.some((block) => block.type === "text" || block.type === "image");
}

/** True when the last turn holds user words or images besides any tool results. */
export function lastTurnHasMessage(conversation: Conversation): boolean {
  return hasUserInput(conversation.turns.at(-1)!);
}
