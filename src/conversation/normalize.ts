/**
 * The rules every face's conversation obeys before it reaches Claude:
 * consecutive messages of one role form one turn, a conversation starts with
 * a user turn (a fixed opening line is added when it does not), every tool
 * call is answered by the next user turn and every tool result answers a
 * call, and the last turn is the new user input.
 *
 * @module
 */
import { HttpError } from "../http/http_error.ts";
import {
  appendTurn,
  type Conversation,
  OPENING_LINE,
  text,
  type ToolUseBlock,
  type Turn,
} from "./model.ts";

function invalid(message: string): HttpError {
  return new HttpError(400, "invalid request", message);
}

/**
 * Checks and completes a conversation: merges same-role neighbours, adds
 * {@linkcode OPENING_LINE} when the first turn is not the user's, and
 * validates tool calls and results.
 *
 * Empty turns are dropped; a conversation with no turns at all (only
 * instructions) becomes the opening line alone.
 *
 * @throws {HttpError} 400 naming the problem: a conversation that ends with
 * the assistant, a tool call without its result, a result without its call,
 * duplicate call ids.
 */
export function normalizeConversation(conversation: Conversation): Conversation {
  const turns: Turn[] = [];
  for (const turn of conversation.turns) appendTurn(turns, turn.role, turn.content);
  if (turns[0]?.role !== "user") turns.unshift({ role: "user", content: [text(OPENING_LINE)] });
  const last = turns.at(-1)!;
  if (last.role !== "user") {
    throw invalid(
      "The conversation ends with an assistant message; end it with a user (or tool) message for the model to answer.",
    );
  }
  const seen = new Set<string>();
  for (const [index, turn] of turns.entries()) {
    if (turn.role !== "assistant") continue;
    const calls = turn.content.filter((block): block is ToolUseBlock => block.type === "tool_use");
    for (const call of calls) {
      if (seen.has(call.id)) {
        throw invalid(`Tool call id "${clip(call.id)}" appears twice; give each call its own id.`);
      }
      seen.add(call.id);
    }
    const next = turns[index + 1];
    const answered = new Set(
      (next?.content ?? []).flatMap((block) =>
        block.type === "tool_result" ? [block.toolUseId] : []
      ),
    );
    const missing = calls.filter((call) => !answered.has(call.id));
    if (missing.length > 0) {
      throw invalid(
        `The assistant's tool call "${clip(missing[0]!.id)}" (${
          clip(missing[0]!.name)
        }) has no tool result after it; send one tool message per call before anything else.`,
      );
    }
  }
  for (const [index, turn] of turns.entries()) {
    const before = turns[index - 1];
    const calls = new Set(
      (before?.content ?? []).flatMap((block) => block.type === "tool_use" ? [block.id] : []),
    );
    for (const block of turn.content) {
      if (block.type === "tool_result" && !calls.has(block.toolUseId)) {
        throw invalid(
          `A tool result answers "${
            clip(block.toolUseId)
          }", which is not a tool call of the assistant message just before it; check tool_call_id.`,
        );
      }
    }
  }
  return { ...conversation, turns };
}

function clip(value: string, max = 80): string {
  return value.length > max ? `${value.slice(0, max)}…` : value;
}
