/**
 * Drives any Claude Code CLI binary — the stand-in or the real one — over the
 * raw stream-json protocol, with no code of the bridge in between: it writes
 * control requests and user lines, reads every stdout line as JSON, and
 * answers the CLI's own control requests — the in-process MCP server
 * (`mcp_message`: initialize, notifications, tools/list, tools/call) and
 * PreToolUse `hook_callback`s — through handlers a test supplies. Used to
 * test the stand-in and to compare it with the real CLI ({@linkcode shapeOf}).
 * (Contract tests that read the real CLI through the bridge's own process
 * and event parsing use `cli_driver.ts` instead.)
 *
 * @example
 * ```ts
 * await using cli = new StreamJsonCli({ bin: FAKE_CLAUDE, tools: [weather], onToolCall: () => "sunny" });
 * cli.send(initialize({ sdkMcpServers: ["bridge"] }));
 * cli.user("hi");
 * const result = await cli.next((line) => line.type === "result");
 * ```
 * @module
 */

/** The flags every bridge run uses (`--model` and `--tools`, `--permission-mode` come after). */
export const STREAM_JSON_ARGS = [
  "--print",
  "--output-format",
  "stream-json",
  "--verbose",
  "--input-format",
  "stream-json",
  "--include-partial-messages",
  "--no-session-persistence",
  "--setting-sources",
  "",
  "--strict-mcp-config",
];

/** One stdout line, parsed (`{raw}` when it is not JSON). */
// deno-lint-ignore no-explicit-any
export type CliLine = Record<string, any>;

/** A tool the in-process MCP server lists. */
export interface McpTool {
  name: string;
  description?: string;
  inputSchema?: Record<string, unknown>;
  annotations?: Record<string, unknown>;
}

/** What a tools/call handler returns: a text, or a whole MCP result. */
export type ToolAnswer = string | { content: unknown[]; isError?: boolean };

/** Options of {@linkcode StreamJsonCli}. */
export interface StreamJsonCliOptions {
  /** The executable (the stand-in script, or the real `claude`). */
  bin: string;
  /** Arguments after {@linkcode STREAM_JSON_ARGS} (default: `--model sonnet --tools "" --permission-mode default`). */
  args?: string[];
  /** Environment added to this process's. */
  env?: Record<string, string>;
  /** Working directory (default: a fresh temporary one, removed on dispose). */
  cwd?: string;
  /** Tools the in-process MCP server lists (default none). */
  tools?: McpTool[];
  /** Answers a tools/call (default: an error result); may wait to hold the call. */
  onToolCall?: (
    name: string,
    input: Record<string, unknown>,
    meta: Record<string, unknown> | undefined,
  ) => ToolAnswer | Promise<ToolAnswer>;
  /** Answers a PreToolUse hook: a deny reason, or undefined for no decision (default). */
  onHook?: (toolName: string, input: CliLine) => string | undefined | Promise<string | undefined>;
}

const encoder = new TextEncoder();

/** A running CLI process driven over stream-json. */
export class StreamJsonCli implements AsyncDisposable {
  /** Every stdout line so far, parsed. */
  readonly lines: CliLine[] = [];
  /** The same lines as the CLI printed them. */
  readonly rawLines: string[] = [];
  /** The CLI's control requests the driver answered, in order. */
  readonly answered: CliLine[] = [];
  readonly child: Deno.ChildProcess;
  /** The working directory. */
  readonly cwd: string;
  /** stderr, read in full once the process ends. */
  readonly stderr: Promise<string>;
  #options: StreamJsonCliOptions;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #waiters: { match: (line: CliLine) => boolean; from: number; resolve: (l: CliLine) => void }[] =
    [];
  #reading: Promise<void>;
  #ownCwd: string | undefined;
  #closed = false;

  constructor(options: StreamJsonCliOptions) {
    this.#options = options;
    this.#ownCwd = options.cwd ? undefined : Deno.makeTempDirSync({ prefix: "stream-json-cli-" });
    const cwd = options.cwd ?? this.#ownCwd!;
    this.cwd = cwd;
    const args = options.args ??
      ["--model", "sonnet", "--tools", "", "--permission-mode", "default"];
    this.child = new Deno.Command(options.bin, {
      args: [...STREAM_JSON_ARGS, ...args],
      cwd,
      env: options.env,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#writer = this.child.stdin.getWriter();
    this.stderr = new Response(this.child.stderr).text();
    this.#reading = this.#read();
  }

  async #read(): Promise<void> {
    let buffer = "";
    for await (const chunk of this.child.stdout.pipeThrough(new TextDecoderStream())) {
      buffer += chunk;
      let end: number;
      while ((end = buffer.indexOf("\n")) >= 0) {
        const raw = buffer.slice(0, end);
        buffer = buffer.slice(end + 1);
        let line: CliLine;
        try {
          line = JSON.parse(raw);
        } catch {
          line = { raw };
        }
        this.lines.push(line);
        this.rawLines.push(raw);
        this.#answer(line);
        for (const waiter of [...this.#waiters]) {
          if (this.lines.length - 1 >= waiter.from && waiter.match(line)) {
            this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
            waiter.resolve(line);
          }
        }
      }
    }
  }

  /** Writes one stdin line (a JSON value). */
  send(value: unknown): void {
    if (this.#closed) return;
    this.#writer.write(encoder.encode(JSON.stringify(value) + "\n")).catch(() => {});
  }

  /** Writes a user message with these content blocks (or one text block). */
  user(content: string | unknown[]): void {
    const blocks = typeof content === "string" ? [{ type: "text", text: content }] : content;
    this.send({
      type: "user",
      message: { role: "user", content: blocks },
      parent_tool_use_id: null,
      session_id: "",
    });
  }

  /** Writes a control request. */
  control(requestId: string, request: Record<string, unknown>): void {
    this.send({ type: "control_request", request_id: requestId, request });
  }

  /**
   * The first line (from index `from`, default 0) that `match` accepts,
   * waiting up to `ms` (default 20 s) for it.
   */
  next(match: (line: CliLine) => boolean, ms = 20_000, from = 0): Promise<CliLine> {
    const found = this.lines.slice(from).find(match);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const waiter = {
        match,
        from,
        resolve: (line: CliLine) => (clearTimeout(timer), resolve(line)),
      };
      const timer = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        const tail = this.lines.slice(-5).map((line) => JSON.stringify(line).slice(0, 300));
        reject(new Error(`no matching CLI line within ${ms} ms; last lines:\n${tail.join("\n")}`));
      }, ms);
      this.#waiters.push(waiter);
    });
  }

  /** The next `result` line after the lines seen so far. */
  result(ms?: number): Promise<CliLine> {
    return this.next((line) => line.type === "result", ms, this.lines.length);
  }

  /** Closes stdin and waits for the exit; returns its code. */
  async close(): Promise<number> {
    if (!this.#closed) {
      this.#closed = true;
      await this.#writer.close().catch(() => {});
    }
    const status = await this.child.status;
    await this.#reading;
    return status.code;
  }

  async #answer(line: CliLine): Promise<void> {
    if (line.type !== "control_request") return;
    const request = line.request ?? {};
    let response: unknown;
    if (request.subtype === "mcp_message") {
      response = { mcp_response: await this.#mcp(request.message) };
    } else if (request.subtype === "hook_callback") {
      const reason = await this.#options.onHook?.(request.input?.tool_name, request.input);
      response = reason === undefined ? {} : {
        hookSpecificOutput: {
          hookEventName: "PreToolUse",
          permissionDecision: "deny",
          permissionDecisionReason: reason,
        },
      };
    } else return;
    this.answered.push(line);
    this.send({
      type: "control_response",
      response: { subtype: "success", request_id: line.request_id, response },
    });
  }

  // deno-lint-ignore no-explicit-any
  async #mcp(message: any): Promise<unknown> {
    const reply = (result: unknown) => ({ jsonrpc: "2.0", id: message.id ?? 0, result });
    switch (message.method) {
      case "initialize":
        return reply({
          protocolVersion: message.params?.protocolVersion,
          capabilities: { tools: {} },
          serverInfo: { name: "bridge", version: "1" },
        });
      case "tools/list":
        return reply({ tools: this.#options.tools ?? [] });
      case "tools/call": {
        const { name, arguments: input, _meta } = message.params ?? {};
        const answer = this.#options.onToolCall
          ? await this.#options.onToolCall(name, input ?? {}, _meta)
          : { content: [{ type: "text", text: `no handler for ${name}` }], isError: true };
        return reply(
          typeof answer === "string" ? { content: [{ type: "text", text: answer }] } : answer,
        );
      }
      default:
        return reply({});
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.child.kill("SIGKILL");
    } catch { /* already gone */ }
    await this.close();
    await this.stderr;
    if (this.#ownCwd) await Deno.remove(this.#ownCwd, { recursive: true }).catch(() => {});
  }
}

/**
 * The text of a session file made of `entries` (`{type, message}` or
 * `{type: "attachment", attachment}`), each given a `uuid`, a `timestamp` and
 * the `parentUuid` of the line before, as the real CLI requires.
 */
export function sessionFile(entries: Record<string, unknown>[]): string {
  let parent: string | null = null;
  return entries.map((entry) => {
    const uuid = crypto.randomUUID();
    const line = { parentUuid: parent, ...entry, uuid, timestamp: new Date().toISOString() };
    parent = uuid;
    return JSON.stringify(line);
  }).join("\n") + "\n";
}

/** A session-file user entry with these blocks (or one text block). */
export function userEntry(content: string | unknown[]): Record<string, unknown> {
  const blocks = typeof content === "string" ? [{ type: "text", text: content }] : content;
  return { type: "user", message: { role: "user", content: blocks } };
}

/** A session-file assistant entry (`id` must be unique in the file). */
export function assistantEntry(id: string, content: unknown[]): Record<string, unknown> {
  return {
    type: "assistant",
    message: { id, type: "message", role: "assistant", model: "claude-history", content },
  };
}

/** The attachment that ends a session file waiting on `call` (a tool_use block). */
export function deferredEntry(
  call: { id: string; name: string; input: unknown },
): Record<string, unknown> {
  return {
    type: "attachment",
    attachment: {
      type: "hook_deferred_tool",
      toolUseID: call.id,
      toolName: call.name,
      toolInput: call.input,
      hookName: "PreToolUse",
      hookEvent: "PreToolUse",
      permissionMode: "default",
    },
  };
}

/** Writes `text` as `session.jsonl` in a fresh directory for `run`, then removes it. */
export async function withSessionFile(
  text: string,
  run: (path: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "session-file-" });
  try {
    await Deno.writeTextFile(`${dir}/session.jsonl`, text);
    await run(`${dir}/session.jsonl`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * A line's shape, for comparing two CLIs' outputs: its type and subtype,
 * a stream event's type and delta or block type, a content block's type, a
 * control request's subtype (and MCP method).
 */
export function shapeOf(line: CliLine): string {
  switch (line.type) {
    case "stream_event": {
      const e = line.event ?? {};
      const detail = e.delta?.type ?? e.content_block?.type ?? e.delta?.stop_reason ?? "";
      return `event:${e.type}${detail ? ":" + detail : ""}`;
    }
    case "assistant":
      return `assistant:${line.message?.content?.map((b: CliLine) => b.type).join(",")}`;
    case "user": {
      const blocks = line.message?.content ?? [];
      return `user:${blocks.map((b: CliLine) => b.type + (b.is_error ? "(error)" : "")).join(",")}`;
    }
    case "control_request": {
      const r = line.request ?? {};
      return `control_request:${r.subtype}${r.message?.method ? ":" + r.message.method : ""}`;
    }
    case "control_response":
      return `control_response:${line.response?.subtype}`;
    case "system":
      return `system:${line.subtype}${line.status ? ":" + line.status : ""}`;
    case "result":
      return `result:${line.subtype}:${line.is_error ? "error" : "ok"}:${line.stop_reason}`;
    default:
      return String(line.type ?? "raw");
  }
}
