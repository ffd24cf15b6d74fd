/**
 * Session files: a conversation written in the CLI's own transcript format,
 * so that `--resume <file>` hands the model the history as native turns
 * (text, images, tool calls and results), exactly as a live process would.
 *
 * Format facts (CLI 2.1.197, pinned by a contract test): one JSON object per
 * line, linked by `parentUuid`; every line needs `uuid` and `timestamp`;
 * every assistant line needs a unique `message.id` and a `message.model`; the
 * file must end with an assistant line — or, to resume a turn waiting on a
 * client tool, with a `hook_deferred_tool` attachment naming that call, which
 * the CLI re-issues over MCP when it starts.
 *
 * @module
 */
import type { Turn } from "../conversation/model.ts";
import { apiBlock } from "./control.ts";
import type { ToolNames } from "./tool_names.ts";

/** The pending client tool call a deferred session ends with. */
export interface DeferredCall {
  id: string;
  /** The client's tool name. */
  name: string;
  input: unknown;
}

/** Any model id: the CLI needs one on every assistant line, and does not check it. */
const TRANSCRIPT_MODEL = "claude-bridge-history";

/**
 * The JSONL text of a session holding `turns` (user and assistant turns, in
 * order, starting with the user and ending with the assistant), optionally
 * followed by `deferred`: then the last turn may be the user's results of all
 * the assistant's calls but the deferred one.
 *
 * @throws {TypeError} when the turns cannot form a valid session file.
 */
export function sessionFileText(
  turns: readonly Turn[],
  names: ToolNames,
  deferred?: DeferredCall,
): string {
  const kept = turns.filter((turn) => turn.content.length > 0);
  if (kept[0]?.role !== "user") throw new TypeError("a session must start with a user turn");
  const last = kept.at(-1);
  if (!deferred && last?.role !== "assistant") {
    throw new TypeError("a session must end with an assistant turn");
  }
  const timestamp = new Date().toISOString();
  const lines: string[] = [];
  let parent: string | null = null;
  const push = (entry: Record<string, unknown>) => {
    const uuid = crypto.randomUUID();
    lines.push(JSON.stringify({ parentUuid: parent, ...entry, uuid, timestamp }));
    parent = uuid;
  };
  for (const [index, turn] of kept.entries()) {
    const content = turn.content.map((block) => apiBlock(block, names));
    if (turn.role === "user") {
      push({ type: "user", message: { role: "user", content } });
    } else {
      push({
        type: "assistant",
        message: {
          id: `msg_history_${index}_${crypto.randomUUID().replaceAll("-", "")}`,
          type: "message",
          role: "assistant",
          model: TRANSCRIPT_MODEL,
          content,
        },
      });
    }
  }
  if (deferred) {
    push({
      type: "attachment",
      attachment: {
        type: "hook_deferred_tool",
        toolUseID: deferred.id,
        toolName: names.apiName(deferred.name),
        toolInput: deferred.input,
        hookName: "PreToolUse",
        hookEvent: "PreToolUse",
        permissionMode: "default",
      },
    });
  }
  return lines.join("\n") + "\n";
}

/** Writes a session file (mode 0600) and returns its path. */
export async function writeSessionFile(
  dir: string,
  turns: readonly Turn[],
  names: ToolNames,
  deferred?: DeferredCall,
): Promise<string> {
  const path = `${dir}/session.jsonl`;
  await Deno.writeTextFile(path, sessionFileText(turns, names, deferred), { mode: 0o600 });
  return path;
}
