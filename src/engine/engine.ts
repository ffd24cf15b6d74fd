/**
 * The conversation engine: given a request's conversation, find or start the
 * CLI session that should answer it, and hand back the model's
 * {@linkcode Reply}.
 *
 * The paths, cheapest first:
 *
 * - **tool results** — the request answers exactly the tool calls a
 *   suspended session is waiting on: the held calls are answered and the
 *   same turn continues (no new process, full native context).
 * - **live** — the request is a parked idle session's conversation plus a
 *   new user message: the message is written to that process.
 * - **warm** — a first turn (no earlier turns) takes a pre-started process.
 * - **cold** — a first turn with no warm process free starts one.
 * - **resume** — any other history (another replica, a restart, an evicted
 *   session, an edited or barged-in history) is written as a session file
 *   and resumed natively by a new process.
 * - **tool fallback** — tool results that no suspended session waits for:
 *   the history up to the calls is resumed with the last call deferred, the
 *   CLI re-issues it and gets the client's result. The replayed calls carry no
 *   thinking, so this turn runs with extended thinking off (the API may refuse
 *   a replayed tool call without its thinking block otherwise).
 *
 * Every process holds a `MAX_CONCURRENT` slot for its whole life; a request
 * that finds none free first makes an idle warm process, then the least
 * recently used idle live session, give theirs up.
 *
 * @module
 */
import type { Agent } from "../claude/agents.ts";
import { buildArgs, processEnv, type ProcessSpec } from "../claude/args.ts";
import type { Effort, TurnSettings } from "../claude/control.ts";
import { ClaudeProcess, type GroupSignals } from "../claude/process.ts";
import { writeSessionFile } from "../claude/session_file.ts";
import { ToolNames } from "../claude/tool_names.ts";
import { Workspace } from "../claude/workspace.ts";
import { conversationKey } from "../conversation/key.ts";
import {
  type Block,
  type Conversation,
  lastTurnHasMessage,
  type Tool,
  type ToolChoice,
  toolResults,
  toolUses,
  type Turn,
} from "../conversation/model.ts";
import { normalizeConversation } from "../conversation/normalize.ts";
import { HttpError } from "../http/http_error.ts";
import type { Limiter, Permit } from "./limiter.ts";
import {
  LiveSessions,
  type LiveSessionsOptions,
  type LiveSessionsStatus,
  type ParkedKind,
} from "./live_sessions.ts";
import type { Reply } from "./reply.ts";
import { Session, type SessionSetup, type ToolGuard } from "./session.ts";
import type { WarmPool } from "./warm_pool.ts";

/** Output token limits below this turn extended thinking off (it needs at least 1024 of them). */
export const MIN_TOKENS_WITH_THINKING = 2048;

/** What a request asks of its reply besides the conversation. */
export interface RunOptions {
  agent: Agent;
  model: string;
  /** Output token limit (`max_tokens` of the turn's API calls). */
  maxOutputTokens?: number;
  /** The CLI's effort level (`output_config.effort`). */
  effort?: Effort;
  /** False turns extended thinking off. */
  thinking?: boolean;
  /** Stop sequences. */
  stop: readonly string[];
  /** Sampling temperature, 0–2 as OpenAI takes it (Claude's range is 0–1: higher is sent as 1). */
  temperature?: number;
  /** Nucleus sampling, 0–1. */
  topP?: number;
  /** A JSON Schema the answer must satisfy. */
  jsonSchema?: Record<string, unknown>;
  toolChoice: ToolChoice;
  /** False allows at most one tool call per reply. */
  parallelToolCalls: boolean;
  /** Park the session after the turn for the conversation's next request (default true). */
  keepAlive?: boolean;
}

/** How a request was served. */
export type RunPath = "tool_results" | "live" | "warm" | "cold" | "resume" | "tool_fallback";

/** A started reply and how it was served. */
export interface Run {
  reply: Reply;
  path: RunPath;
  /** Milliseconds spent waiting for a `MAX_CONCURRENT` slot. */
  queueWaitMs: number;
}

/** What the engine is built from. */
export interface EngineOptions {
  /** The CLI binary (`CLAUDE_BIN`). */
  claudeBin: string;
  /** Parent directory of the processes' workspaces. */
  workspaceRoot: string;
  /** Variables set for every child, over the inherited environment and the CLI's own. */
  childEnv?: Record<string, string>;
  /** Milliseconds between SIGTERM and SIGKILL. */
  killGraceMs?: number;
  /** Longest stdout line kept, in characters. */
  maxLineLength?: number;
  /** Longest a turn may wait for the model's first event (ms). */
  firstEventTimeoutMs?: number;
  /** The `MAX_CONCURRENT` gate. */
  limiter: Limiter;
  /** Parked sessions' bounds. */
  live: LiveSessionsOptions;
  /** Signals process groups (see the reaper). */
  groups?: GroupSignals;
  /** The guard that confines an agent's file tools to `workspace`. */
  guard?: (workspace: Workspace) => ToolGuard;
  /** Where warnings go. */
  warn?: (message: string, fields: Record<string, unknown>) => void;
}

/** The error for a request that gave up before its process began (client gone, or out of time). */
function notStarted(reason: unknown): unknown {
  if (reason instanceof DOMException && reason.name === "TimeoutError") {
    return new HttpError(
      504,
      "timeout",
      "No CLI slot became free within REQUEST_TIMEOUT_MS; retry later, or raise MAX_CONCURRENT.",
    );
  }
  if (reason instanceof DOMException && reason.name === "AbortError") {
    return new HttpError(
      499,
      "client closed request",
      "The client went away before the run began.",
    );
  }
  return reason;
}

function invalid(message: string): HttpError {
  return new HttpError(400, "invalid request", message);
}

/** The system prompt of a run: the agent's, then the client's instructions, a blank line apart. */
export function systemPromptOf(agent: Agent, instructions: readonly string[]): string | undefined {
  const parts = [agent.settings.systemPrompt, ...instructions].filter(
    (part): part is string => part !== undefined && part.trim() !== "",
  );
  return parts.length === 0 ? undefined : parts.join("\n\n");
}

/**
 * A turn's settings, the one place that decides them: the token limit and
 * effort; what goes into the API request itself (`tool_choice`,
 * `temperature`, `top_p`, `stop_sequences`); and whether extended thinking
 * may run — not when a tool call is forced (the API refuses thinking then),
 * not under a small token limit, not with a temperature below 1 or a `top_p`
 * below 0.95 (the API allows no other values with thinking), and not when
 * `replayedCalls` (see the module documentation).
 *
 * Stop sequences are also sent to the API, which then stops at them itself
 * (the session stays resumable); the bridge still cuts at them too, and is
 * the only one to cut at a sequence of blanks, which the API refuses.
 */
export function turnSettings(
  options: RunOptions,
  tools: readonly Tool[],
  names: ToolNames,
  replayedCalls = false,
): TurnSettings {
  const choice = options.toolChoice;
  if (choice.type === "function" && !tools.some((tool) => tool.name === choice.name)) {
    throw invalid(`tool_choice names the function "${choice.name}", which is not in tools.`);
  }
  if (choice.type === "required" && tools.length === 0) {
    throw invalid('tool_choice "required" needs at least one function in tools.');
  }
  const single = !options.parallelToolCalls && tools.length > 0;
  let toolChoice: Record<string, unknown> | undefined;
  switch (choice.type) {
    case "none":
      toolChoice = tools.length > 0 ? { type: "none" } : undefined;
      break;
    case "required":
      toolChoice = { type: "any" };
      break;
    case "function":
      toolChoice = { type: "tool", name: names.apiName(choice.name) };
      break;
    case "auto":
      toolChoice = single ? { type: "auto" } : undefined;
  }
  if (toolChoice && single && toolChoice.type !== "none") {
    toolChoice.disable_parallel_tool_use = true;
  }
  const temperature = options.temperature === undefined
    ? undefined
    : Math.min(options.temperature, 1);
  const stops = options.stop.filter((stop) => stop.trim() !== "");
  const extraBody: Record<string, unknown> = {
    ...(toolChoice ? { tool_choice: toolChoice } : {}),
    ...(temperature === undefined ? {} : { temperature }),
    ...(options.topP === undefined ? {} : { top_p: options.topP }),
    ...(stops.length > 0 ? { stop_sequences: stops } : {}),
  };
  const forced = choice.type === "required" || choice.type === "function";
  const small = options.maxOutputTokens !== undefined &&
    options.maxOutputTokens < MIN_TOKENS_WITH_THINKING;
  const sampled = (temperature !== undefined && temperature < 1) ||
    (options.topP !== undefined && options.topP < 0.95);
  return {
    maxOutputTokens: options.maxOutputTokens,
    effort: options.effort,
    thinking: options.thinking !== false && !forced && !small && !sampled && !replayedCalls,
    ...(Object.keys(extraBody).length > 0 ? { extraBody } : {}),
  };
}

function sameIds(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && [...a].sort().join("\n") === [...b].sort().join("\n");
}

/** Finds or starts the session for each request; see the module documentation. */
export class Engine {
  /** Sessions parked between requests. */
  readonly live: LiveSessions;
  #options: EngineOptions;
  #pool: WarmPool | undefined;
  #sessions = new Set<Session>();
  /** Replies still running, so shutdown can wait for them. */
  #replies = new Set<Reply>();
  #closed: HttpError | undefined;
  #paths: Record<RunPath, number> = {
    tool_results: 0,
    live: 0,
    warm: 0,
    cold: 0,
    resume: 0,
    tool_fallback: 0,
  };

  /** @param options how processes are started and bounded. */
  constructor(options: EngineOptions) {
    this.#options = options;
    this.live = new LiveSessions(options.live);
  }

  /** Lets first turns take pre-started sessions from `pool`. */
  usePool(pool: WarmPool): void {
    this.#pool = pool;
  }

  /** Requests served so far, by path. */
  get paths(): Readonly<Record<RunPath, number>> {
    return this.#paths;
  }

  /** Parked sessions, for metrics and readiness. */
  status(): LiveSessionsStatus & { running: number } {
    return { ...this.live.status(), running: this.#sessions.size };
  }

  /**
   * Starts one session for `spec` holding `permit`, in a fresh workspace,
   * with an optional session file to resume (the cold path; also the warm
   * pool's launcher).
   *
   * @throws {HttpError} 503 when the CLI cannot be started.
   */
  async launch(
    spec: ProcessSpec,
    permit: Permit,
    history?: (privateDir: string) => Promise<string>,
  ): Promise<Session> {
    const options = this.#options;
    const workspace = await Workspace.create(options.workspaceRoot, spec.agent);
    let session: Session;
    try {
      const resumeFile = history ? await history(workspace.privateDir) : undefined;
      const full: ProcessSpec = resumeFile === undefined ? spec : { ...spec, resumeFile };
      const process = ClaudeProcess.spawn({
        bin: options.claudeBin,
        args: buildArgs(full),
        cwd: workspace.workDir,
        env: { ...processEnv(full), ...options.childEnv },
        killGraceMs: options.killGraceMs,
        maxLineLength: options.maxLineLength,
        groups: options.groups,
        onLineDropped: (length) =>
          (options.warn ?? console.warn)("dropped a CLI output line longer than MAX_LINE_CHARS", {
            length,
            limit: options.maxLineLength,
          }),
      });
      const guarded = !spec.clientTools && spec.agent.settings.tools.length > 0;
      session = new Session({
        spec: full,
        process,
        workspace,
        permit,
        guard: guarded ? options.guard?.(workspace) : undefined,
        warn: options.warn,
      });
    } catch (error) {
      await workspace.remove();
      throw error;
    }
    this.#sessions.add(session);
    void session.closed.then(() => this.#sessions.delete(session));
    return session;
  }

  /**
   * Answers `conversation`: validates it, picks the path, and returns the
   * started reply.
   *
   * @throws {HttpError} 400 for an invalid conversation or option, 503 when
   * the CLI cannot be started or the engine is closed, 429 when the queue is
   * full, 504 / 499 when `signal` times out / aborts before the process began.
   */
  async run(conversation: Conversation, options: RunOptions, signal: AbortSignal): Promise<Run> {
    if (this.#closed) throw this.#closed;
    if (signal.aborted) throw notStarted(signal.reason);
    const normalized = normalizeConversation(conversation);
    const { tools, turns } = normalized;
    const names = new ToolNames(tools.map((tool) => tool.name));
    const clientTools = tools.length > 0;
    const setup: SessionSetup = {
      systemPrompt: systemPromptOf(options.agent, normalized.instructions),
      tools,
      jsonSchema: options.jsonSchema,
    };
    // What a parked process must share with the request: an idle one also its
    // agent; a suspended one only the conversation (the follow-up continues the
    // same turn, whichever agent its stream mode would pick for a new one).
    const conversationSetup = [options.model, normalized.instructions, tools, options.jsonSchema];
    const keyOf = (kind: ParkedKind, of: readonly Turn[]) =>
      conversationKey(
        kind === "idle" ? [options.agent.name, conversationSetup] : conversationSetup,
        of,
      );
    const spec: ProcessSpec = { agent: options.agent, model: options.model, clientTools };
    const last = turns.at(-1)!;
    const prefix = turns.slice(0, -1);
    const results = toolResults(last);
    const replyOptions = {
      stop: options.stop,
      firstEventTimeoutMs: this.#options.firstEventTimeoutMs,
    };
    let session: Session | undefined;
    let reply: Reply;
    let path: RunPath;
    let queueWaitMs = 0;
    if (results.length > 0) {
      const ids = results.map((result) => result.toolUseId);
      const suspended = lastTurnHasMessage(normalized)
        ? undefined
        : this.live.take(keyOf("suspended", prefix), "suspended");
      if (suspended && sameIds(suspended.pendingCalls, ids)) {
        session = suspended;
        reply = session.resume(results, turnSettings(options, tools, names), replyOptions);
        path = "tool_results";
      } else {
        if (suspended) void suspended.close();
        this.live.dropSuspended(ids);
        const calls = toolUses(prefix.at(-1));
        const deferred = calls.at(-1)!;
        const answer = results.find((result) => result.toolUseId === deferred.id)!;
        const others = results.filter((result) => result !== answer);
        const extra = last.content.filter((block) =>
          block.type === "text" || block.type === "image"
        );
        if (extra.some((block) => block.type === "image")) {
          throw invalid(
            "Images in the same message as tool results cannot be passed on; send them in a user message of their own.",
          );
        }
        const fileTurns: Turn[] = others.length > 0
          ? [...prefix, { role: "user", content: others }]
          : prefix;
        const started = await this.#cold(
          spec,
          signal,
          (dir) =>
            writeSessionFile(dir, fileTurns, names, {
              id: deferred.id,
              name: deferred.name,
              input: deferred.input,
            }),
          true,
        );
        session = started.session;
        queueWaitMs = started.queueWaitMs;
        reply = session.begin(
          setup,
          undefined,
          turnSettings(options, tools, names, true),
          replyOptions,
          {
            name: deferred.name,
            result: answer,
            extra: extra as Block[],
          },
        );
        path = "tool_fallback";
      }
    } else {
      const liveSession = prefix.length === 0
        ? undefined
        : this.live.take(keyOf("idle", prefix), "idle");
      const settings = turnSettings(options, tools, names);
      if (liveSession) {
        session = liveSession;
        path = "live";
      } else if (prefix.length === 0) {
        session = this.#pool?.take(spec);
        path = "warm";
      } else {
        path = "resume";
      }
      if (!session) {
        const started = await this.#cold(
          spec,
          signal,
          prefix.length > 0 ? (dir) => writeSessionFile(dir, prefix, names) : undefined,
        );
        session = started.session;
        queueWaitMs = started.queueWaitMs;
        if (path === "warm") path = "cold";
      }
      reply = session.begin(setup, last.content, settings, replyOptions);
    }
    this.#paths[path]++;
    this.#follow(session, reply, keyOf, turns, options.keepAlive ?? true, signal);
    return { reply, path, queueWaitMs };
  }

  /**
   * Shuts down: refuses new runs (and everyone waiting for a slot) with 503,
   * stops the warm pool and every parked session, lets running replies
   * finish for up to `graceMs`, then stops the rest and waits until every
   * process has exited.
   */
  async close(graceMs: number): Promise<void> {
    this.#closed ??= new HttpError(
      503,
      "shutting down",
      "The bridge is shutting down; retry in a moment (or on another instance).",
      { headers: { "retry-after": "5" } },
    );
    const reason = this.#closed;
    this.#options.limiter.close(reason);
    const pool = this.#pool?.[Symbol.asyncDispose]();
    const parked = this.live.close(reason);
    const all = () => Promise.all([...this.#sessions].map((session) => session.closed));
    const running = Promise.all([...this.#replies].map((reply) => reply.ended));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const grace = new Promise<void>((resolve) => timer = setTimeout(resolve, graceMs));
    await Promise.race([running, grace]);
    clearTimeout(timer);
    for (const session of this.#sessions) void session.close(reason);
    await Promise.all([all(), pool, parked]);
  }

  /** After a reply: park its session for the conversation's next request, or let it go. */
  #follow(
    session: Session,
    reply: Reply,
    keyOf: (kind: ParkedKind, turns: readonly Turn[]) => string,
    turns: readonly Turn[],
    keepAlive: boolean,
    signal: AbortSignal,
  ): void {
    const onAbort = () => {
      if (!reply.over) void session.close(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    this.#replies.add(reply);
    void reply.ended.then(async (end) => {
      this.#replies.delete(reply);
      signal.removeEventListener("abort", onAbort);
      if (end.kind !== "answered" && end.kind !== "tool_calls") return;
      const history = [...turns, reply.turn];
      session.history = history;
      const kind = end.kind === "answered" ? "idle" : "suspended";
      const keep = (kind === "suspended" || (keepAlive && session.resumable)) && !this.#closed &&
        session.state === (kind === "idle" ? "idle" : "suspended");
      if (keep && this.live.park(keyOf(kind, history), kind, session)) return;
      if (kind === "idle") await session.release();
      else await session.close();
    });
  }

  /** A cold start: waits for a slot, then launches. */
  async #cold(
    spec: ProcessSpec,
    signal: AbortSignal,
    history?: (privateDir: string) => Promise<string>,
    deferredTool = false,
  ): Promise<{ session: Session; queueWaitMs: number }> {
    const queuedAt = performance.now();
    const permit = await this.#acquire(signal).catch((error) => {
      throw error === signal.reason ? notStarted(error) : error;
    });
    try {
      const session = await this.launch(
        deferredTool ? { ...spec, deferredTool } : spec,
        permit,
        history,
      );
      if (this.#closed) void session.close(this.#closed);
      return { session, queueWaitMs: performance.now() - queuedAt };
    } catch (error) {
      permit.release();
      throw error;
    }
  }

  /** A slot for a cold start; when none is free, an idle warm process or live session gives up its own. */
  async #acquire(signal: AbortSignal): Promise<Permit> {
    const { limiter } = this.#options;
    const free = limiter.tryAcquire();
    if (free) return free;
    if (!this.#pool?.shed()) this.live.shed();
    return await limiter.acquire(signal);
  }
}
