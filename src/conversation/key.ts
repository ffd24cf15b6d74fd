/**
 * Comparing conversations across requests: {@linkcode conversationKey} keys
 * a conversation's state (what a CLI process fixed at start, and the turns it
 * holds) in a normalized form, so that a later request can be matched with
 * the live process that already holds its history.
 *
 * @module
 */
import { type Block, text, type Turn } from "./model.ts";

/** JSON with object keys sorted, for comparing values that differ only in key order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, inner) => {
    if (inner === null || typeof inner !== "object" || Array.isArray(inner)) return inner;
    return Object.fromEntries(
      Object.keys(inner).sort().map((key) => [key, (inner as Record<string, unknown>)[key]]),
    );
  });
}

/**
 * A block as it is compared across requests: text trimmed (clients often
 * trim what they keep), tool arguments in canonical JSON.
 */
function comparable(block: Block): unknown {
  switch (block.type) {
    case "text":
      return ["t", block.text.trim()];
    case "image":
      return ["i", block.mediaType, block.data];
    case "tool_use":
      return ["u", block.id, block.name, canonicalJson(block.input)];
    case "tool_result":
      return ["r", block.toolUseId, block.content.trim(), block.isError === true];
  }
}

/** Turns as they are compared: adjacent text blocks joined, empty text dropped. */
function comparableTurns(turns: readonly Turn[]): unknown[] {
  return turns.map((turn) => {
    const blocks: unknown[] = [];
    let pending: string | undefined;
    const flush = () => {
      if (pending !== undefined && pending.trim() !== "") blocks.push(comparable(text(pending)));
      pending = undefined;
    };
    for (const block of turn.content) {
      if (block.type === "text") {
        pending = pending === undefined ? block.text : `${pending}\n${block.text}`;
      } else {
        flush();
        blocks.push(comparable(block));
      }
    }
    flush();
    return [turn.role, blocks];
  });
}

/**
 * The key of everything a live CLI process holds for a conversation: its
 * `setup` (whatever was fixed when the process started) and its turns,
 * compared in normalized form. It is the canonical JSON itself (exact, no
 * collisions) and synchronous, so a session can be parked in the same tick
 * its reply ends, before the client can send the next request.
 */
export function conversationKey(setup: unknown, turns: readonly Turn[]): string {
  return canonicalJson([setup, comparableTurns(turns)]);
}
