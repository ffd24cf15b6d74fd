/**
 * A {@linkcode Session}: one Claude Code CLI process as a conversation over
 * its whole life — started ahead of time or for a request, fixed at its first
 * turn (system prompt, tools, output schema), then one turn after another
 * while it stays alive, each turn a {@linkcode Reply}.
 *
 * The session reads the process's events from start to exit (one pipe,
 * `process.events` → the session's sink) and routes them: the CLI's control
 * requests are answered here — MCP messages of the in-process server that
 * serves the client's tools, and the PreToolUse hook that confines file
 * tools to the run's workspace — its control responses settle the bridge's
 * own requests, and everything else goes to the current reply.
 *
 * A turn that ends in calls of the client's tools leaves the process waiting
 * on those `tools/call` requests (the session holds them, unanswered) until
 * {@linkcode Session.resume} answers them with the client's results and the
 * turn continues in a new reply.
 *
 * @module
 */
import type { ProcessSpec } from "../claude/args.ts";
import {
  controlError,
  controlSuccess,
  DEFAULT_TURN_SETTINGS,
  GUARD_HOOK,
  initializeRequest,
  mcpToolResult,
  settingsRequests,
  type TurnSettings,
  userMessage,
  versionRequest,
} from "../claude/control.ts";
import type { CliEvent } from "../claude/events.ts";
import type { ClaudeProcess } from "../claude/process.ts";
import { MCP_SERVER, ToolNames } from "../claude/tool_names.ts";
import type { Workspace } from "../claude/workspace.ts";
import type { Block, Tool, ToolResultBlock, Turn } from "../conversation/model.ts";
import { HttpError } from "../http/http_error.ts";
import type { Permit } from "./limiter.ts";
import { Reply, type ReplyEnd } from "./reply.ts";

/** What a session is fixed with at its first turn. */
export interface SessionSetup {
  /** The whole system prompt (agent's, then the client's instructions). */
  systemPrompt?: string;
  /** The client's tools (served through the in-process MCP server). */
  tools: Tool[];
  /** An output schema (`response_format`). */
  jsonSchema?: Record<string, unknown>;
}

/**
 * Decides whether a built-in tool call may run: `undefined` to let the CLI's
 * own permission rules decide, or the reason it is refused.
 */
export type ToolGuard = (toolName: string, input: unknown) => Promise<string | undefined>;

/** What a session needs besides its process. */
export interface SessionOptions {
  spec: ProcessSpec;
  process: ClaudeProcess;
  workspace: Workspace;
  /** The `MAX_CONCURRENT` slot the process holds; released once it has exited. */
  permit?: Permit;
  /** Confines the agent's file tools; without it, no hook is registered. */
  guard?: ToolGuard;
  /** Where unexpected protocol events are reported. */
  warn?: (message: string, fields: Record<string, unknown>) => void;
}

/** What a session is doing. */
export type SessionState = "fresh" | "busy" | "suspended" | "idle" | "closed";

/** The client's answer to a held tool call. */
interface ToolAnswer {
  content: string;
  isError?: boolean;
  /** Text the client sent after its tool results (fallback path only). */
  extra?: Block[];
}

/** A `tools/call` the session holds until the client's result arrives. */
interface HeldCall {
  requestId: string;
  rpcId: unknown;
}

/** One CLI process as a conversation; see the module documentation. */
export class Session {
  readonly spec: ProcessSpec;
  readonly process: ClaudeProcess;
  readonly workspace: Workspace;
  /** Resolves once the process has exited and the workspace and slot are released. */
  readonly closed: Promise<void>;
  /** The turns the process holds, as the client sees them (set by the engine after each turn). */
  history: Turn[] = [];
  /** The setup the process was fixed with, once its first turn began. */
  setup: SessionSetup | undefined;
  /** True when the process was taken from the warm pool. */
  warm = false;

  #options: SessionOptions;
  #state: SessionState = "fresh";
  #names = new ToolNames([]);
  #reply: Reply | undefined;
  #requests = new Map<string, PromiseWithResolvers<Record<string, unknown>>>();
  #held = new Map<string, HeldCall>();
  #answers = new Map<string, ToolAnswer>();
  #deferred: { name: string; answer: ToolAnswer } | undefined;
  #pending: string[] = [];
  /** The settings the process runs with (a new process has the defaults). */
  #settings: TurnSettings = DEFAULT_TURN_SETTINGS;
  #nextId = 0;
  #usedAgentTools = false;

  /** Takes over a started process: reads its events until it exits. */
  constructor(options: SessionOptions) {
    this.#options = options;
    this.spec = options.spec;
    this.process = options.process;
    this.workspace = options.workspace;
    const pump = this.process.events
      .pipeTo(new WritableStream({ write: (batch) => this.#dispatchAll(batch) }))
      .catch(() => {});
    this.closed = pump.then(async () => {
      const exit = await this.process.exited;
      this.#state = "closed";
      for (const request of this.#requests.values()) {
        request.reject(new Error(`the CLI exited (code ${exit.code})`));
      }
      this.#requests.clear();
      this.#reply?.exited(exit);
      await this.workspace.remove();
      options.permit?.release();
    });
  }

  /** What the session is doing. */
  get state(): SessionState {
    return this.#state;
  }

  /** The tool_use ids a suspended session waits for. */
  get pendingCalls(): readonly string[] {
    return this.#pending;
  }

  /**
   * True when the session's history is what a client would send back: no
   * turn used the agent's own tools (whose calls the client never saw).
   */
  get resumable(): boolean {
    return !this.#usedAgentTools;
  }

  /** Resolves once the CLI answers a harmless control request (it is up and reading stdin). */
  async probe(): Promise<void> {
    await this.#request((id) => versionRequest(id));
  }

  /**
   * Begins a turn: on the first, fixes the session with `setup`; then writes
   * the turn's settings and `input` (omitted to resume a deferred tool call,
   * whose answer `deferred` gives).
   */
  begin(
    setup: SessionSetup,
    input: readonly Block[] | undefined,
    settings: TurnSettings,
    options: { stop: readonly string[]; firstEventTimeoutMs?: number },
    deferred?: { name: string; result: ToolResultBlock; extra: Block[] },
  ): Reply {
    let text = "";
    if (this.setup === undefined) {
      this.setup = setup;
      this.#names = new ToolNames(setup.tools.map((tool) => tool.name));
      const initialize = this.#request((id) =>
        initializeRequest(id, {
          systemPrompt: setup.systemPrompt,
          jsonSchema: setup.jsonSchema,
          clientTools: setup.tools.length > 0,
          guard: this.#options.guard !== undefined,
        })
      );
      initialize.catch((error) =>
        this.#reply?.fail(
          new HttpError(
            503,
            "execution failed",
            `The Claude Code CLI refused the session set-up: ${
              error instanceof Error ? error.message : error
            }`,
          ),
        )
      );
    }
    if (deferred) {
      this.#deferred = {
        name: deferred.name,
        answer: {
          content: deferred.result.content,
          isError: deferred.result.isError,
          extra: deferred.extra,
        },
      };
    }
    text += this.#apply(settings);
    if (input) text += userMessage(input, this.#names);
    const reply = this.#attach(options);
    void this.process.write(text);
    return reply;
  }

  /**
   * Continues a suspended turn: answers its held tool calls with the
   * client's `results` (and applies `settings` to the rest of the turn;
   * thinking cannot change mid-turn).
   */
  resume(
    results: readonly ToolResultBlock[],
    settings: TurnSettings,
    options: { stop: readonly string[]; firstEventTimeoutMs?: number },
  ): Reply {
    if (this.#state !== "suspended") throw new Error(`cannot resume a ${this.#state} session`);
    this.#pending = [];
    const change = this.#apply(settings);
    if (change !== "") void this.process.write(change);
    const reply = this.#attach(options);
    for (const result of results) {
      this.#answer(result.toolUseId, { content: result.content, isError: result.isError });
    }
    return reply;
  }

  /** Stops the process (if still running); resolves once everything is released. */
  async close(reason?: unknown): Promise<void> {
    if (this.#state !== "closed") this.#state = "closed";
    await this.process.stop(reason);
    await this.closed;
  }

  /** Lets an idle process exit by closing its stdin (stopped after the grace period). */
  async release(): Promise<void> {
    this.#state = "closed";
    await this.process.release(new DOMException("session released", "AbortError"));
    await this.closed;
  }

  /** The requests that change the process's settings to `settings` (often none). */
  #apply(settings: TurnSettings): string {
    const text = settingsRequests([this.#id(), this.#id()], settings, this.#settings);
    this.#settings = settings;
    return text;
  }

  #id(): string {
    return `bridge-${++this.#nextId}`;
  }

  #attach(options: { stop: readonly string[]; firstEventTimeoutMs?: number }): Reply {
    const reply = new Reply({
      stop: options.stop,
      structured: this.setup?.jsonSchema !== undefined,
      names: this.#names,
    });
    this.#reply = reply;
    this.#state = "busy";
    if (options.firstEventTimeoutMs !== undefined) {
      const ms = options.firstEventTimeoutMs;
      const timer = setTimeout(() => {
        void this.close(
          new HttpError(
            504,
            "timeout",
            `The Claude Code CLI produced no model output within FIRST_EVENT_TIMEOUT_MS (${ms} ms); retry, or raise the limit.`,
          ),
        );
      }, ms);
      reply.onFirstModelEvent(() => clearTimeout(timer));
      void reply.ended.then(() => clearTimeout(timer));
    }
    void reply.ended.then((end) => this.#ended(reply, end));
    return reply;
  }

  #ended(reply: Reply, end: ReplyEnd): void {
    if (this.#reply !== reply || this.#state === "closed") return;
    switch (end.kind) {
      case "answered":
        this.#state = "idle";
        return;
      case "tool_calls":
        this.#state = "suspended";
        this.#pending = end.calls.map((call) => call.id);
        return;
      case "cut":
      case "failed":
        void this.close(end.kind === "failed" ? end.error : undefined);
    }
  }

  /** Writes a control request and resolves with the CLI's answer. */
  #request(line: (id: string) => string): Promise<Record<string, unknown>> {
    const id = this.#id();
    const answer = Promise.withResolvers<Record<string, unknown>>();
    this.#requests.set(id, answer);
    void this.process.write(line(id));
    return answer.promise;
  }

  /** Routes a batch of events; waits only while the reply's reader is behind. */
  async #dispatchAll(batch: readonly CliEvent[]): Promise<void> {
    for (const event of batch) {
      const wait = this.#dispatch(event);
      if (wait) await wait;
    }
  }

  #dispatch(event: CliEvent): Promise<void> | undefined {
    switch (event.type) {
      case "control_request":
        this.#controlRequest(event.requestId, event.request);
        return;
      case "control_response": {
        const request = this.#requests.get(event.requestId);
        if (!request) return; // Settings requests: nobody waits for them.
        this.#requests.delete(event.requestId);
        if (event.ok) request.resolve(event.response);
        else request.reject(new Error(event.error));
        return;
      }
      case "init":
        return this.#checkInit(event.mcpServers);
      case "tool_start":
        if (!this.#names.isClientTool(event.name)) this.#usedAgentTools = true;
        break;
    }
    const reply = this.#reply;
    return reply && !reply.over ? reply.take(event) : undefined;
  }

  /** A turn that needs the client's tools must run with them: fail it if the server did not connect. */
  #checkInit(servers: { name: string; status: string }[]): undefined {
    if (!this.setup || this.setup.tools.length === 0) return;
    const bridge = servers.find((server) => server.name === MCP_SERVER);
    if (bridge?.status === "connected") return;
    this.#reply?.fail(
      new HttpError(
        503,
        "tools unavailable",
        `The Claude Code CLI did not connect the bridge's tool server (status: ${
          bridge?.status ?? "missing"
        }); retry the request.`,
      ),
    );
    void this.close();
  }

  #controlRequest(requestId: string, request: Record<string, unknown>): void {
    if (request.subtype === "mcp_message" && request.server_name === MCP_SERVER) {
      return this.#mcp(requestId, request.message as Record<string, unknown> | undefined);
    }
    if (request.subtype === "hook_callback" && request.callback_id === GUARD_HOOK) {
      void this.#guard(requestId, request.input as Record<string, unknown> | undefined);
      return;
    }
    this.#options.warn?.("unexpected control request from the CLI", { subtype: request.subtype });
    void this.process.write(
      controlError(requestId, `unsupported request ${String(request.subtype)}`),
    );
  }

  #rpc(requestId: string, reply: Record<string, unknown>): void {
    void this.process.write(
      controlSuccess(requestId, { mcp_response: { jsonrpc: "2.0", ...reply } }),
    );
  }

  /** The in-process MCP server that serves the client's tools. */
  #mcp(requestId: string, message: Record<string, unknown> | undefined): void {
    const id = message?.id;
    const params = (message?.params ?? {}) as Record<string, unknown>;
    switch (message?.method) {
      case "initialize":
        return this.#rpc(requestId, {
          id,
          result: {
            protocolVersion: params.protocolVersion ?? "2025-06-18",
            capabilities: { tools: {} },
            serverInfo: { name: MCP_SERVER, version: "1.0.0" },
          },
        });
      case "tools/list":
        return this.#rpc(requestId, {
          id,
          result: {
            tools: (this.setup?.tools ?? []).map((tool) => ({
              name: this.#names.alias(tool.name),
              ...(tool.description ? { description: tool.description } : {}),
              inputSchema: tool.parameters,
              // Lets the CLI issue several calls of one message together, not one by one.
              annotations: { readOnlyHint: true },
            })),
          },
        });
      case "tools/call":
        return this.#toolCall(requestId, id, params);
      default:
        if (id === undefined) return this.#rpc(requestId, { result: {} }); // A notification.
        return this.#rpc(requestId, {
          id,
          error: { code: -32601, message: `method ${String(message?.method)} not supported` },
        });
    }
  }

  /** A call of a client tool: answered from the client's result when known, else held. */
  #toolCall(requestId: string, rpcId: unknown, params: Record<string, unknown>): void {
    const meta = (params._meta ?? {}) as Record<string, unknown>;
    const toolUseId = meta["claudecode/toolUseId"];
    const name = this.#names.clientName(String(params.name ?? ""));
    if (this.#deferred && name === this.#deferred.name) {
      // The deferred call re-issued on resume (its _meta names another call; do not match on it).
      const { answer } = this.#deferred;
      this.#deferred = undefined;
      return this.#rpc(requestId, mcpToolResult(rpcId, answer));
    }
    if (typeof toolUseId !== "string") {
      return this.#rpc(
        requestId,
        mcpToolResult(rpcId, { content: "The call had no id.", isError: true }),
      );
    }
    this.#held.set(toolUseId, { requestId, rpcId });
    const early = this.#answers.get(toolUseId);
    if (early) this.#answer(toolUseId, early);
  }

  /** Answers a held call, or keeps the answer until the call arrives. */
  #answer(toolUseId: string, answer: ToolAnswer): void {
    const held = this.#held.get(toolUseId);
    if (!held) {
      this.#answers.set(toolUseId, answer);
      return;
    }
    this.#held.delete(toolUseId);
    this.#answers.delete(toolUseId);
    this.#rpc(held.requestId, mcpToolResult(held.rpcId, answer));
  }

  /** The PreToolUse hook: refuses a built-in tool call the guard objects to. */
  async #guard(requestId: string, input: Record<string, unknown> | undefined): Promise<void> {
    const toolName = String(input?.tool_name ?? "");
    let reason: string | undefined;
    try {
      reason = await this.#options.guard?.(toolName, input?.tool_input);
    } catch (error) {
      reason = `The bridge could not check this call (${
        error instanceof Error ? error.message : error
      }), so it is refused.`;
    }
    const response = reason === undefined ? {} : {
      hookSpecificOutput: {
        hookEventName: "PreToolUse",
        permissionDecision: "deny",
        permissionDecisionReason: reason,
      },
    };
    void this.process.write(controlSuccess(requestId, response));
  }
}
