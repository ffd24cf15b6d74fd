#!/usr/bin/env -S deno run --quiet --no-config --allow-read --allow-write --allow-env --allow-run=sleep
/**
 * A stand-in for the Claude Code CLI (2.1.197) for fast tests. It speaks the
 * protocol the real CLI speaks with `--print --input-format stream-json
 * --output-format stream-json --verbose --include-partial-messages`:
 *
 * - control requests on stdin: `get_binary_version` (answered at once, no
 *   initialization), `initialize` (only the first counts: `systemPrompt`,
 *   `appendSystemPrompt`, `jsonSchema`, `sdkMcpServers`, `hooks`),
 *   `apply_flag_settings`, `set_max_thinking_tokens`, `interrupt`; others
 *   get the real CLI's "Unsupported control request subtype" error;
 * - the in-process MCP handshake over the control channel for every sdk
 *   server (from `initialize` and `--mcp-config`): `initialize`,
 *   `notifications/initialized`, `tools/list`, each waiting for its answer;
 * - per user turn: `system`/`init` (tools, `mcp_servers` with status), a
 *   `system`/`status` line before each model call, stream events and one
 *   `assistant` line per content block, `user` lines with tool results, and
 *   a `result` line; then it waits for the next user line (user lines sent
 *   during a turn are joined into the next one) and exits when stdin closes
 *   while idle (code 1 when the last result was an error, else 0);
 * - client tools: a scripted call of a tool the MCP server listed is emitted
 *   as a `mcp__<server>__<name>` tool_use (characters outside
 *   `[A-Za-z0-9_-]` become `_`) and sent as `tools/call` with
 *   `_meta["claudecode/toolUseId"]` — calls of tools whose annotations say
 *   `readOnlyHint` run together, others one after another — and the turn
 *   continues once they are answered;
 * - PreToolUse hooks: every tool call whose name a registered matcher
 *   matches is first sent as a `hook_callback`; a `deny` turns it into an
 *   error tool_result carrying the reason;
 * - `--resume FILE`: the file is read and validated (see {@linkcode loadSession})
 *   and its turns become the history; one ending in a `hook_deferred_tool`
 *   attachment re-issues that call over MCP (no toolUseId in `_meta`) after
 *   `initialize`, with no user line, and continues the turn when answered.
 *
 * Built-in tools (`builtin: true` calls) run with NO permission checks of
 * the stand-in's own — only the bridge's hook protects the host — and only
 * Read, Write, Edit and Glob are emulated.
 *
 * It is steered by the last `[[fake:{…}]]` directive in the text of the
 * latest user message (see {@linkcode Script}); without one it answers "ok".
 * `--version` prints a version line like the real CLI's. Other input formats
 * (plain text on stdin) run one turn and print only the result line.
 *
 * When `FAKE_CLAUDE_RECORD` names a directory, it keeps `<pid>.json` there
 * (rewritten atomically at each turn and at exit) with its argv, stdin, cwd
 * and the files in it, an environment subset, the resume file's text, the
 * first `initialize` request, and per turn its prompt, system prompt and
 * settings.
 *
 * @module
 */

// deno-lint-ignore-file no-explicit-any

/** A scripted tool call. */
interface Call {
  /** The client's tool name (or the built-in tool's name with `builtin`). */
  name: string;
  input?: unknown;
  /** The tool_use id (default `toolu_fake_<n>`). */
  id?: string;
  /** A built-in Claude Code tool (Read, Write, …) instead of a client tool. */
  builtin?: boolean;
}

/** One assistant message (one model call) of a turn. */
interface Step {
  /** Thinking deltas, as a thinking block before the text. */
  thinking?: string[];
  /** Text deltas (default `["ok"]` in a step without tool calls). */
  say?: string[];
  /** Tool calls after the text; the turn continues with the next step once they have results. */
  toolCalls?: Call[];
  /** Stop reason of this message (default `tool_use` with calls, else `end_turn`). */
  stopReason?: string;
}

/** What a directive may ask for. Every field is optional. */
interface Script {
  /** Text deltas to stream (default `["ok"]`). */
  say?: string[];
  /** Thinking deltas before the text. */
  thinking?: string[];
  /** Milliseconds before the first delta, and between deltas. */
  firstDelayMs?: number;
  delayMs?: number;
  /** Stop reason reported in `message_delta` and the result. */
  stopReason?: string;
  /** Usage reported in the events and the result. */
  usage?: Record<string, number>;
  /** Fields merged into the result line, e.g. `{"is_error": true, "api_error_status": 429}`. */
  result?: Record<string, unknown>;
  /** Answer like the real CLI after the API refused the call (synthetic message, error result). */
  apiError?: { status: number; message?: string };
  /** Emit no result line (and exit once the turn is over). */
  noResult?: boolean;
  /** Print this plain text instead of any JSON, and exit. */
  plain?: string;
  /** Lines printed (verbatim) before the answer: garbage, unknown events. */
  before?: string[];
  /** A line of this many characters printed before the answer. */
  hugeLine?: number;
  /** Write to stderr. */
  stderr?: string;
  /** Exit with this code once the turn is over (default: wait for the next turn). */
  exit?: number;
  /** Exit with `exit` (default 1) after this many deltas, without finishing. */
  crashAfter?: number;
  /** Never finish: wait forever after the deltas (an `interrupt` still ends the turn). */
  hang?: boolean;
  /** Milliseconds to stay alive before exiting, as the real CLI does while it winds down. */
  lingerMs?: number;
  /** Ignore SIGTERM (so only SIGKILL stops it). */
  ignoreSigterm?: boolean;
  /** Print the init line, then nothing more, and never finish. */
  stall?: boolean;
  /** Write this many bytes to stderr (synchronously, so a full pipe would block it) first. */
  stderrBytes?: number;
  /**
   * Start a `sleep` grandchild first and write its pid to
   * `$FAKE_CLAUDE_RECORD/grandchild-<own pid>.txt`.
   */
  grandchild?: boolean;
  /**
   * Answer with what the stand-in received instead of `say`: `true` or
   * `"prompt"` the user text of this turn; `"system"` the system prompt as
   * the API would get it; `"history"` the messages as the API would get them
   * (JSON); `"settings"` this turn's settings (JSON, see `TurnSettings`).
   */
  echo?: boolean | "prompt" | "system" | "history" | "settings";
  /** Answer through the output schema's StructuredOutput tool with this value (`say` is the preamble). */
  structured?: unknown;
  /** After a `max_tokens` stop, continue (as the real CLI does) with a second message saying this. */
  then?: string[];
  /** Say the `say` list this many times over (for long streams). */
  repeat?: number;
  /** Append the send time (`performance.timeOrigin + performance.now()`, ms) and `;` to every delta. */
  stamp?: boolean;
  /** Call these tools after `say`, then say `thenSay` (default `["ok"]`) once they have results. */
  toolCalls?: Call[];
  thenSay?: string[];
  /** The turn's assistant messages, for several rounds of tool calls (overrides the fields above). */
  steps?: Step[];
}

/** The settings one turn's API calls would be made with. */
interface TurnSettings {
  model: string | undefined;
  maxTokens: number;
  thinking: Record<string, unknown>;
  effort: string;
  /** `CLAUDE_CODE_EXTRA_BODY`, parsed (e.g. `{tool_choice: …}`), or null. */
  extraBody: unknown;
  /** The tool names offered to the model. */
  tools: string[];
  permissionMode: string | undefined;
  allowedTools: string[];
  maxTurns: number | undefined;
  jsonSchema: unknown;
}

type Block = Record<string, any>;
interface Message {
  role: "user" | "assistant";
  content: Block[];
}

const VERSION = "2.1.197";
const args = Deno.args;
const option = (name: string) => {
  const at = args.lastIndexOf(name);
  return at >= 0 ? args[at + 1] : undefined;
};
const encoder = new TextEncoder();
const SESSION_ID = crypto.randomUUID();
const recordDir = Deno.env.get("FAKE_CLAUDE_RECORD");
const streamInput = option("--input-format") === "stream-json";
const streamOutput = option("--output-format") === "stream-json";

// ------------------------------------------------------------------ output

function write(text: string): void {
  let bytes = encoder.encode(text);
  while (bytes.length > 0) bytes = bytes.subarray(Deno.stdout.writeSync(bytes));
}
const line = (value: unknown) => write(JSON.stringify(value) + "\n");
/** A stream-json line (only with `--output-format stream-json`). */
const out = (value: unknown) => streamOutput && line(value);
const tail = () => `"session_id":"${SESSION_ID}","parent_tool_use_id":null,"uuid":"${uuid()}"}\n`;
const uuid = () => crypto.randomUUID();
const event = (inner: Record<string, unknown>) =>
  streamOutput && write(`{"type":"stream_event","event":${JSON.stringify(inner)},${tail()}`);
/** The hot path: one delta line, built as a string. */
const delta = (index: number, kind: string, field: string, value: string) =>
  streamOutput &&
  write(
    `{"type":"stream_event","event":{"type":"content_block_delta","index":${index},"delta":{"type":"${kind}","${field}":${
      JSON.stringify(value)
    }}},${tail()}`,
  );

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (ms <= 0 || signal?.aborted) return resolve();
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => (clearTimeout(timer), resolve()), { once: true });
  });
/** Waits until `signal` aborts (forever without one). */
const forever = (signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const keepAlive = setInterval(() => {}, 60_000);
    signal?.addEventListener("abort", () => (clearInterval(keepAlive), resolve()), { once: true });
  });

// ------------------------------------------------------------------- state

const argvSystem = (flag: string, fileFlag: string) => {
  const file = option(fileFlag);
  return file !== undefined ? Deno.readTextFileSync(file) : option(flag);
};
const state = {
  initialize: undefined as Record<string, any> | undefined,
  flagEnv: {} as Record<string, string>,
  effortLevel: undefined as string | undefined,
  maxThinkingTokens: undefined as number | undefined,
  servers: new Map<string, { status: string; tools: any[] }>(),
  mcpReady: Promise.resolve() as Promise<unknown>,
  history: [] as Message[],
  resumeText: undefined as string | undefined,
  deferred: undefined as Block | undefined,
  stdin: [] as string[],
  turns: [] as unknown[],
  lastError: false,
  /** How the process ended, once it did by itself. */
  exited: undefined as { code: number; reason: string } | undefined,
  lingerMs: 0,
  busy: false,
  eof: false,
  queue: [] as { content: Block[]; settings: TurnSettings }[],
  turn: undefined as AbortController | undefined,
  rpcId: 2,
  messages: 0,
  toolIds: 0,
};
const pending = new Map<string, PromiseWithResolvers<any>>();
/** Text the CLI itself inserts into the history (not the user's, so never a directive). */
const synthetic = new WeakSet<Block>();

function mcpConfigServers(): string[] {
  const raw = option("--mcp-config");
  if (!raw) return [];
  const config = JSON.parse(raw.trim().startsWith("{") ? raw : Deno.readTextFileSync(raw));
  return Object.entries(config.mcpServers ?? {})
    .filter(([, server]: [string, any]) => server?.type === "sdk")
    .map(([name]) => name);
}

/** The system prompt as the API gets it (after the CLI's billing and identity blocks). */
function systemPrompt(): string {
  const init = state.initialize ?? {};
  const base = init.systemPrompt ?? argvSystem("--system-prompt", "--system-prompt-file") ??
    "<default Claude Code system prompt>";
  const append = init.appendSystemPrompt ??
    argvSystem("--append-system-prompt", "--append-system-prompt-file");
  return append === undefined ? base : `${base}\n\n${append}`;
}

function jsonSchema(): unknown {
  const schema = state.initialize?.jsonSchema ?? option("--json-schema");
  return typeof schema === "string" ? JSON.parse(schema) : schema;
}

const BUILTIN_DEFAULT = ["Bash", "Edit", "Glob", "Grep", "Read", "Write", "WebFetch", "WebSearch"];
function builtinTools(): string[] {
  const value = option("--tools");
  if (value === undefined || value === "default") return BUILTIN_DEFAULT;
  return value.split(",").map((name) => name.trim()).filter((name) => name !== "");
}

const apiToolName = (server: string, name: string) =>
  `mcp__${server}__${name.replace(/[^A-Za-z0-9_-]/g, "_")}`;

function offeredTools(): string[] {
  const names = [...builtinTools()];
  for (const [server, { tools }] of state.servers) {
    for (const tool of tools) names.push(apiToolName(server, tool.name));
  }
  if (jsonSchema() !== undefined) names.push("StructuredOutput");
  return names;
}

function settingsNow(): TurnSettings {
  const env = (name: string) => state.flagEnv[name] ?? Deno.env.get(name);
  const model = option("--model");
  const maxTokens = Number(env("CLAUDE_CODE_MAX_OUTPUT_TOKENS") ?? 64000);
  const off = state.maxThinkingTokens === 0 ||
    (state.maxThinkingTokens === undefined && Deno.env.get("MAX_THINKING_TOKENS") === "0");
  const thinking = off
    ? { type: "disabled" }
    : model?.includes("haiku")
    ? { type: "enabled", budget_tokens: maxTokens - 1 }
    : { type: "adaptive" };
  const extra = env("CLAUDE_CODE_EXTRA_BODY");
  const allowed = option("--allowedTools") ?? option("--allowed-tools");
  const maxTurns = option("--max-turns");
  return {
    model,
    maxTokens,
    thinking,
    effort: state.effortLevel ?? option("--effort") ?? "high",
    extraBody: extra ? JSON.parse(extra) : null,
    tools: offeredTools(),
    permissionMode: option("--permission-mode"),
    allowedTools: allowed ? allowed.split(/[ ,]+/).filter((name) => name !== "") : [],
    maxTurns: maxTurns === undefined ? undefined : Number(maxTurns),
    jsonSchema: jsonSchema() ?? null,
  };
}

// --------------------------------------------------------------- recording

const RECORDED_ENV = [
  "API_KEYS",
  "CLAUDE_CODE_OAUTH_TOKEN",
  "CLAUDE_CODE_DISABLE_CLAUDE_MDS",
  "HOME",
  "CLAUDE_CODE_MAX_OUTPUT_TOKENS",
  "MAX_THINKING_TOKENS",
  "CLAUDE_CODE_RESUME_PROMPT",
  "CLAUDE_CODE_EXTRA_BODY",
];
let recordedFiles: string[] | undefined;

/** Writes `<pid>.json` (atomically: a reader never sees half a file). */
function record(): void {
  if (!recordDir) return;
  recordedFiles ??= [...Deno.readDirSync(".")].map((entry) => entry.name).sort();
  const env = Object.fromEntries(RECORDED_ENV.map((key) => [key, Deno.env.get(key)]));
  const data = {
    argv: args,
    stdin: state.stdin.map((raw) => raw + "\n").join(""),
    cwd: Deno.cwd(),
    files: recordedFiles,
    env,
    resume: state.resumeText ?? null,
    initialize: state.initialize ?? null,
    turns: state.turns,
    exited: state.exited ?? null,
  };
  const path = `${recordDir}/${Deno.pid}.json`;
  Deno.writeTextFileSync(`${path}.tmp`, JSON.stringify(data));
  Deno.renameSync(`${path}.tmp`, path);
}

/** Exits with `code`, recording why (a process killed by a signal records nothing). */
function exit(code: number, reason = "directive"): never {
  state.exited = { code, reason };
  record();
  Deno.exit(code);
}

// ----------------------------------------------------------------- control

/** Sends a control request and waits for its answer's `response`. */
function request(body: Record<string, unknown>): Promise<any> {
  const id = uuid();
  const waiter = Promise.withResolvers<any>();
  pending.set(id, waiter);
  line({ type: "control_request", request_id: id, request: body });
  return waiter.promise;
}

const respond = (requestId: unknown, response?: unknown) =>
  line({
    type: "control_response",
    response: {
      subtype: "success",
      request_id: requestId,
      ...(response === undefined ? {} : { response }),
    },
  });

/** The MCP handshake with one sdk server: initialize, notifications/initialized, tools/list. */
async function connect(server: string): Promise<void> {
  const mcp = (message: Record<string, unknown>) =>
    request({
      subtype: "mcp_message",
      server_name: server,
      message: { ...message, jsonrpc: "2.0" },
    })
      .then((response) => response?.mcp_response);
  try {
    const init = await mcp({
      method: "initialize",
      params: {
        protocolVersion: "2025-11-25",
        capabilities: {},
        clientInfo: { name: "claude-code", title: "Claude Code", version: VERSION },
      },
      id: 0,
    });
    if (!init?.result) throw new Error("no initialize result");
    await mcp({ method: "notifications/initialized" });
    const list = await mcp({ method: "tools/list", id: 1 });
    state.servers.set(server, { status: "connected", tools: list?.result?.tools ?? [] });
  } catch {
    state.servers.set(server, { status: "failed", tools: [] });
  }
}

function onControlRequest(message: any): void {
  const id = message.request_id;
  const body = message.request ?? {};
  switch (body.subtype) {
    case "get_binary_version":
      return respond(id, { version: VERSION, buildTime: "2026-06-29T19:08:42Z" });
    case "initialize": {
      const answer = () =>
        respond(id, {
          commands: [],
          agents: [],
          output_style: "default",
          available_output_styles: ["default"],
          models: [],
          account: { tokenSource: "none", apiProvider: "firstParty" },
          pid: Deno.pid,
        });
      if (state.initialize) return answer();
      state.initialize = body;
      const configured = mcpConfigServers();
      // Servers of --mcp-config start connecting before the answer, the others after it.
      if (configured.length === 0) answer();
      const servers = [...configured, ...(body.sdkMcpServers ?? [])];
      state.mcpReady = Promise.all(servers.map(connect));
      if (configured.length > 0) answer();
      if (state.deferred) void startDeferred();
      return;
    }
    case "apply_flag_settings": {
      const settings = body.settings ?? {};
      for (const [key, value] of Object.entries(settings.env ?? {})) {
        if (value === null || value === undefined) delete state.flagEnv[key];
        else state.flagEnv[key] = String(value);
      }
      if ("effortLevel" in settings) state.effortLevel = settings.effortLevel ?? undefined;
      return respond(id);
    }
    case "set_max_thinking_tokens":
      state.maxThinkingTokens = body.max_thinking_tokens ?? undefined;
      return respond(id);
    case "interrupt":
      respond(id);
      state.turn?.abort();
      return;
    default:
      line({
        type: "control_response",
        response: {
          subtype: "error",
          request_id: id,
          error: `Unsupported control request subtype: ${body.subtype}`,
        },
      });
  }
}

function onControlResponse(message: any): void {
  const response = message.response ?? {};
  const waiter = pending.get(response.request_id);
  if (!waiter) return;
  pending.delete(response.request_id);
  if (response.subtype === "error") waiter.reject(new Error(String(response.error)));
  else waiter.resolve(response.response);
}

// ------------------------------------------------------------------- input

const textOf = (content: unknown): string =>
  typeof content === "string"
    ? content
    : Array.isArray(content)
    ? content.filter((block) => block?.type === "text").map((block) => block.text).join("\n")
    : "";
const blocksOf = (content: unknown): Block[] =>
  typeof content === "string" ? [{ type: "text", text: content }] : (content as Block[]) ?? [];

/** The JSON object starting at `text[start]` (`{`), or undefined. */
function objectAt(text: string, start: number): string | undefined {
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === "{") depth++;
    else if (c === "}" && --depth === 0) return text.slice(start, i + 1);
  }
  return undefined;
}

function scriptOf(prompt: string): Script {
  const at = prompt.lastIndexOf("[[fake:");
  if (at < 0) return {};
  const json = objectAt(prompt, at + 7);
  return json ? JSON.parse(json) : {};
}

/** The latest user message with text of the user's own, and how many assistant messages followed it. */
function latestUserText(): { text: string; after: number } {
  for (let i = state.history.length - 1; i >= 0; i--) {
    const message = state.history[i]!;
    const own = message.content.filter((block) => block.type === "text" && !synthetic.has(block));
    if (message.role === "user" && own.length > 0) {
      const after = state.history.slice(i + 1).filter((m) => m.role === "assistant").length;
      return { text: textOf(own), after };
    }
  }
  return { text: "", after: 0 };
}

function pushHistory(role: Message["role"], content: Block[]): void {
  const last = state.history.at(-1);
  if (last?.role === role && role === "user") last.content.push(...content);
  else state.history.push({ role, content: [...content] });
}

function onUser(message: any): void {
  if (!recordedFiles) record();
  state.queue.push({ content: blocksOf(message.message?.content), settings: settingsNow() });
  if (!state.busy) void runQueue();
}

async function runQueue(): Promise<void> {
  state.busy = true;
  while (state.queue.length > 0) {
    const queued = state.queue.splice(0);
    const content = queued.flatMap((entry, i) =>
      i === 0 ? entry.content : [{ type: "text", text: "\n" }, ...entry.content]
    );
    await runTurn(content, queued.at(-1)!.settings);
  }
  state.busy = false;
  if (state.eof) await finishAtEof();
}

async function finishAtEof(): Promise<void> {
  await sleep(state.lingerMs);
  exit(state.lastError ? 1 : 0, "stdin closed");
}

/** Reads stdin line by line, dispatching each line as it arrives. */
async function readStdin(): Promise<void> {
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const bytes of Deno.stdin.readable) {
    buffer += decoder.decode(bytes, { stream: true });
    let end: number;
    while ((end = buffer.indexOf("\n")) >= 0) {
      const raw = buffer.slice(0, end);
      buffer = buffer.slice(end + 1);
      dispatch(raw);
    }
  }
  if (buffer.trim()) dispatch(buffer);
  state.eof = true;
  for (const waiter of pending.values()) waiter.reject(new Error("stdin closed"));
  pending.clear();
  if (!state.busy) await finishAtEof();
}

function dispatch(raw: string): void {
  if (!raw.trim()) return;
  state.stdin.push(raw);
  let message: any;
  try {
    message = JSON.parse(raw);
  } catch {
    Deno.stderr.writeSync(encoder.encode(`fake_claude: stdin line is not JSON: ${raw}\n`));
    return;
  }
  if (message.type === "control_request") onControlRequest(message);
  else if (message.type === "control_response") onControlResponse(message);
  else if (message.type === "user") onUser(message);
}

// ----------------------------------------------------------------- resume

/** A session file the stand-in refuses, with the real CLI's wording where there is one. */
class SessionError extends Error {}

/**
 * Reads and validates a `--resume` file like the real CLI (no timestamp or
 * uuid, bad JSON, empty or missing: "No conversation found"; an assistant
 * line without `message.model`: a silent hang), and refuses, loudly, what the
 * real CLI would silently mangle: a broken `parentUuid` chain, assistant
 * lines sharing a `message.id`, a file ending in a user line, an attachment
 * that is not the last line.
 */
function loadSession(path: string): "ok" | "hang" {
  const notFound = () => new SessionError(`No conversation found with session ID: ${uuid()}`);
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch {
    throw notFound();
  }
  state.resumeText = text;
  const entries: any[] = [];
  for (const raw of text.split("\n")) {
    if (!raw.trim()) continue;
    try {
      entries.push(JSON.parse(raw));
    } catch {
      throw notFound();
    }
  }
  if (entries.length === 0) throw notFound();
  const ids = new Set<string>();
  let parent: string | null = null;
  let hang = false;
  for (const [i, entry] of entries.entries()) {
    const where = `fake_claude: session file ${path} line ${i + 1}`;
    if (typeof entry.uuid !== "string" || typeof entry.timestamp !== "string") throw notFound();
    if (entry.parentUuid !== parent) {
      throw new SessionError(
        `${where}: parentUuid ${JSON.stringify(entry.parentUuid)} should be ${
          JSON.stringify(parent)
        } (the real CLI keeps only the messages it can chain)`,
      );
    }
    parent = entry.uuid;
    if (entry.type === "attachment") {
      if (i !== entries.length - 1 || entry.attachment?.type !== "hook_deferred_tool") {
        throw new SessionError(`${where}: only a final hook_deferred_tool attachment is expected`);
      }
      state.deferred = entry.attachment;
      continue;
    }
    if (entry.type !== "user" && entry.type !== "assistant") {
      throw new SessionError(`${where}: unexpected line type ${JSON.stringify(entry.type)}`);
    }
    if (entry.type === "assistant") {
      if (typeof entry.message?.model !== "string") hang = true;
      const id = entry.message?.id;
      if (ids.has(id)) {
        throw new SessionError(
          `${where}: assistant message.id ${id} is used twice (the real CLI merges and reorders them)`,
        );
      }
      ids.add(id);
    }
    pushHistory(entry.type, blocksOf(entry.message?.content));
  }
  const lastMessage = entries.filter((entry) => entry.type !== "attachment").at(-1);
  if (!state.deferred && lastMessage?.type !== "assistant") {
    throw new SessionError(
      `fake_claude: session file ${path} ends with a user line (the real CLI then invents "No response requested.")`,
    );
  }
  return hang ? "hang" : "ok";
}

function failStart(message: string): never {
  Deno.stderr.writeSync(encoder.encode(message + "\n"));
  line({
    type: "result",
    subtype: "error_during_execution",
    duration_ms: 0,
    duration_api_ms: 0,
    is_error: true,
    num_turns: 0,
    stop_reason: null,
    session_id: SESSION_ID,
    total_cost_usd: 0,
    usage: {
      input_tokens: 0,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
      output_tokens: 0,
    },
    modelUsage: {},
    permission_denials: [],
    uuid: uuid(),
    errors: [message],
  });
  exit(1);
}

/** The deferred-tool resume: re-issue the file's pending call, then continue the turn. */
async function startDeferred(): Promise<void> {
  if (!recordedFiles) record();
  state.busy = true;
  await state.mcpReady;
  const settings = settingsNow();
  const marker = state.deferred!;
  const name = String(marker.toolName);
  const server = [...state.servers.keys()].find((s) => name.startsWith(`mcp__${s}__`));
  const declared = server !== undefined && mcpConfigServers().includes(server);
  const turn = newTurn(settings);
  if (Deno.env.get("CLAUDE_CODE_RESUME_PROMPT") !== " ") {
    const block = { type: "text", text: "Continue from where you left off." };
    synthetic.add(block);
    pushHistory("user", [block]);
  }
  if (!declared || !settings.tools.includes(name)) {
    finishTurn(turn, {
      is_error: true,
      stop_reason: "tool_deferred_unavailable",
      result: `The deferred tool ${name} is not available`,
    });
  } else {
    const calls = new Calls(turn, true);
    calls.start({ id: String(marker.toolUseID), name, input: marker.toolInput });
    if (await calls.finish()) {
      emitInit(turn);
      await runSteps(turn);
    }
  }
  state.busy = false;
  if (state.queue.length > 0) await runQueue();
  else if (state.eof) await finishAtEof();
}

// ------------------------------------------------------------------- turns

interface Turn {
  script: Script;
  settings: TurnSettings;
  abort: AbortController;
  numTurns: number;
  usage: Record<string, number>;
  lastText: string;
  stopReason: string;
  deltas: number;
}

function newTurn(settings: TurnSettings): Turn {
  const { text } = latestUserText();
  const script = scriptOf(text);
  state.turn = new AbortController();
  state.turns.push({ prompt: text, system: systemPrompt(), settings });
  record();
  return {
    script,
    settings,
    abort: state.turn,
    numTurns: 1,
    usage: script.usage ??
      {
        input_tokens: 10,
        output_tokens: 2,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
      },
    lastText: "",
    stopReason: "end_turn",
    deltas: 0,
  };
}

function emitInit(turn: Turn): void {
  out({
    type: "system",
    subtype: "init",
    cwd: Deno.cwd(),
    session_id: SESSION_ID,
    tools: turn.settings.tools,
    mcp_servers: [...state.servers].map(([name, { status }]) => ({ name, status })),
    model: option("--model"),
    permissionMode: turn.settings.permissionMode ?? "default",
    slash_commands: [],
    apiKeySource: "ANTHROPIC_API_KEY",
    claude_code_version: VERSION,
    output_style: "default",
    agents: [],
    skills: [],
    plugins: [],
    uuid: uuid(),
    fast_mode_state: "off",
  });
}

/** The steps (assistant messages) a script asks for. */
function stepsOf(script: Script, settings: TurnSettings): Step[] {
  if (script.steps) return script.steps;
  const say = sayOf(script, settings);
  if (script.structured !== undefined && settings.jsonSchema !== null) {
    const call = { name: "StructuredOutput", input: script.structured, builtin: true };
    return [{ thinking: script.thinking, say: script.say ?? [], toolCalls: [call] }];
  }
  if (script.toolCalls) {
    return [
      { thinking: script.thinking, say: script.say ?? [], toolCalls: script.toolCalls },
      { say: script.thenSay ?? ["ok"] },
    ];
  }
  return [{ thinking: script.thinking, say, stopReason: script.stopReason }];
}

function sayOf(script: Script, settings: TurnSettings): string[] {
  let once = script.say ?? ["ok"];
  const echo = script.echo === true ? "prompt" : script.echo;
  if (echo === "prompt") once = [latestUserText().text];
  else if (echo === "system") once = [systemPrompt()];
  else if (echo === "history") once = [JSON.stringify(state.history)];
  else if (echo === "settings") once = [JSON.stringify(settings)];
  const times = script.repeat ?? 1;
  if (times === 1) return once;
  const say: string[] = [];
  for (let i = 0; i < times; i++) say.push(...once);
  return say;
}

async function runTurn(content: Block[], settings: TurnSettings): Promise<void> {
  pushHistory("user", content);
  const turn = newTurn(settings);
  const { script } = turn;
  if (script.ignoreSigterm) Deno.addSignalListener("SIGTERM", () => {});
  if (script.grandchild) {
    const sleeper = new Deno.Command("sleep", { args: ["300"], stdout: "null" }).spawn();
    if (recordDir) {
      await Deno.writeTextFile(`${recordDir}/grandchild-${Deno.pid}.txt`, String(sleeper.pid));
    }
  }
  for (let left = script.stderrBytes ?? 0; left > 0; left -= 65536) {
    Deno.stderr.writeSync(encoder.encode("e".repeat(Math.min(left, 65536))));
  }
  if (script.stderr) Deno.stderr.writeSync(encoder.encode(script.stderr));
  if (script.plain !== undefined) {
    write(script.plain);
    exit(script.exit ?? 0);
  }
  for (const raw of script.before ?? []) write(raw + "\n");
  if (script.hugeLine) write("x".repeat(script.hugeLine) + "\n");
  await state.mcpReady;
  turn.settings.tools = offeredTools();
  emitInit(turn);
  if (script.stall) await forever();
  if (script.apiError) return apiError(turn, script.apiError);
  await runSteps(turn);
}

/** Runs the script's steps from where the history says the turn is. */
async function runSteps(turn: Turn): Promise<void> {
  const { script } = turn;
  const steps = stepsOf(script, turn.settings);
  let index = latestUserText().after;
  for (;;) {
    const step = steps[index] ?? { say: ["ok"] };
    const calls = new Calls(turn, false);
    await message(turn, step, index === 0, calls);
    if (turn.abort.signal.aborted) return interrupted(turn);
    if (calls.size === 0) break;
    if (!await calls.finish()) return;
    if (step.toolCalls?.some((call) => call.name === "StructuredOutput" && call.builtin)) {
      return finishTurn(turn, {
        result: JSON.stringify(script.structured),
        structured_output: script.structured,
        stop_reason: "tool_use",
      });
    }
    const maxTurns = turn.settings.maxTurns;
    if (maxTurns !== undefined && turn.numTurns > maxTurns) {
      return finishTurn(turn, {
        subtype: "error_max_turns",
        is_error: true,
        stop_reason: "tool_use",
      });
    }
    index++;
  }
  if (turn.stopReason === "max_tokens" && script.then) {
    await message(turn, { say: script.then }, false);
  }
  finishTurn(turn, {});
}

/** Streams one assistant message, starting each tool call as soon as its block is complete. */
async function message(turn: Turn, step: Step, first: boolean, runner?: Calls): Promise<void> {
  const { script } = turn;
  const signal = turn.abort.signal;
  const id = `msg_fake_${state.messages++}`;
  const model = option("--model") ?? "claude-fake";
  const usage = turn.usage;
  const assistant = (block: Block, extra: Record<string, unknown> = {}) =>
    out({
      type: "assistant",
      message: {
        id,
        type: "message",
        role: "assistant",
        model,
        content: [block],
        stop_reason: null,
        stop_sequence: null,
        usage,
        context_management: null,
      },
      parent_tool_use_id: null,
      session_id: SESSION_ID,
      uuid: uuid(),
      request_id: "req_fake",
      ...extra,
    });
  const blocks: Block[] = [];
  out({
    type: "system",
    subtype: "status",
    status: "requesting",
    uuid: uuid(),
    session_id: SESSION_ID,
  });
  event({
    type: "message_start",
    message: {
      id,
      type: "message",
      role: "assistant",
      model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage,
    },
  });
  let index = 0;
  if (step.thinking?.length) {
    event({
      type: "content_block_start",
      index,
      content_block: { type: "thinking", thinking: "", signature: "" },
    });
    for (const [i, text] of step.thinking.entries()) {
      out({
        type: "system",
        subtype: "thinking_tokens",
        estimated_tokens: i + 1,
        estimated_tokens_delta: 1,
        uuid: uuid(),
        session_id: SESSION_ID,
      });
      delta(index, "thinking_delta", "thinking", text);
    }
    delta(index, "signature_delta", "signature", "sig_fake");
    const block = { type: "thinking", thinking: step.thinking.join(""), signature: "sig_fake" };
    blocks.push(block);
    assistant(block);
    event({ type: "content_block_stop", index: index++ });
  }
  const say = step.say ?? (step.toolCalls?.length ? [] : ["ok"]);
  const calls = (step.toolCalls ?? []).map((call) => ({
    ...call,
    id: call.id ?? `toolu_fake_${state.toolIds++}`,
  }));
  if (say.length > 0 || calls.length === 0) {
    event({ type: "content_block_start", index, content_block: { type: "text", text: "" } });
    if (first) await sleep(script.firstDelayMs ?? 0, signal);
    const delayMs = script.delayMs ?? 0;
    const stamp = script.stamp === true;
    let sent = "";
    for (let i = 0; i < say.length; i++) {
      if (i > 0 && delayMs > 0) await sleep(delayMs, signal);
      if (signal.aborted) break;
      if (script.crashAfter === turn.deltas) exit(script.exit ?? 1);
      turn.deltas++;
      const text = stamp ? `${say[i]}${performance.timeOrigin + performance.now()};` : say[i]!;
      delta(index, "text_delta", "text", text);
      sent += text;
    }
    if (script.hang) await forever(signal);
    if (sent !== "" || !signal.aborted) {
      const block = { type: "text", text: sent };
      blocks.push(block);
      assistant(block);
    }
    turn.lastText = sent;
    if (signal.aborted) return pushHistory("assistant", blocks);
    event({ type: "content_block_stop", index: index++ });
  }
  for (const call of calls) {
    const name = call.builtin ? call.name : clientToolName(call.name);
    const block = { type: "tool_use", id: call.id, name, input: call.input ?? {} };
    event({ type: "content_block_start", index, content_block: { ...block, input: {} } });
    // Two fragments (never inside a code point), as the API streams tool input in pieces.
    const points = Array.from(JSON.stringify(block.input));
    const half = Math.ceil(points.length / 2);
    delta(index, "input_json_delta", "partial_json", points.slice(0, half).join(""));
    delta(index, "input_json_delta", "partial_json", points.slice(half).join(""));
    blocks.push(block);
    const meta = name.startsWith("mcp__")
      ? {
        tool_use_meta: [{
          id: call.id,
          display_name: call.name,
          server_display_name: name.split("__")[1],
        }],
      }
      : {};
    assistant(block, meta);
    runner?.start(call);
    event({ type: "content_block_stop", index: index++ });
    await runner?.flushReady();
  }
  pushHistory("assistant", blocks);
  turn.stopReason = step.stopReason ??
    (calls.length ? "tool_use" : script.stopReason ?? "end_turn");
  event({
    type: "message_delta",
    delta: { stop_reason: turn.stopReason, stop_sequence: null },
    usage,
  });
  event({ type: "message_stop" });
}

/** The model's name for a client tool: the listed tool whose API name matches. */
function clientToolName(name: string): string {
  for (const [server, { tools }] of state.servers) {
    for (const tool of tools) {
      if (tool.name === name || apiToolName(server, tool.name) === name) {
        return apiToolName(server, tool.name);
      }
    }
  }
  const server = [...state.servers.keys()][0] ?? "bridge";
  return name.startsWith("mcp__") ? name : apiToolName(server, name);
}

/** The listed MCP tool a model-side name refers to. */
function mcpToolOf(apiName: string): { server: string; tool: any } | undefined {
  for (const [server, { tools }] of state.servers) {
    const tool = tools.find((t) => apiToolName(server, t.name) === apiName);
    if (tool) return { server, tool };
  }
  return undefined;
}

interface Outcome {
  content: unknown;
  isError: boolean;
  /** The line's `tool_use_result`. */
  shown: unknown;
}

const errorOutcome = (text: string): Outcome => ({
  content: text,
  isError: true,
  shown: `Error: ${text}`,
});

/** A tool call as the stand-in runs it. */
interface RunCall {
  id: string;
  name: string;
  input?: unknown;
  builtin?: boolean;
}

/**
 * One message's tool calls, run as the real CLI runs them: each starts when
 * its block is complete — hooks first, then the tool — read-only MCP tools
 * together, any other tool alone; {@linkcode Calls.finish} emits one `user`
 * line per result, in order.
 */
class Calls {
  #turn: Turn;
  #deferred: boolean;
  #calls: RunCall[] = [];
  #outcomes: Promise<Outcome>[] = [];
  #settled = new Map<number, Outcome | Error>();
  #emitted = 0;
  #blocks: Block[] = [];
  #exclusive: Promise<unknown>[] = [];
  #shared: Promise<unknown>[] = [];
  #unfinished = new Set<Promise<unknown>>();

  constructor(turn: Turn, deferred: boolean) {
    this.#turn = turn;
    this.#deferred = deferred;
  }

  get size(): number {
    return this.#calls.length;
  }

  start(call: RunCall): void {
    const name = call.builtin ? call.name : clientToolName(call.name);
    const readOnly = mcpToolOf(name)?.tool.annotations?.readOnlyHint === true;
    const run = () => runOne(this.#turn, call, this.#deferred);
    const before = (readOnly ? this.#exclusive : [...this.#exclusive, ...this.#shared])
      .filter((promise) => this.#unfinished.has(promise));
    // Nothing to wait for: start now, so its first control request goes out at once.
    const started = before.length === 0 ? run() : Promise.all(before).then(run);
    if (readOnly) this.#shared.push(started);
    else {
      this.#exclusive = [started];
      this.#shared = [];
    }
    const index = this.#calls.length;
    this.#unfinished.add(started);
    started.then(
      (outcome) => (this.#unfinished.delete(started), this.#settled.set(index, outcome)),
      (error) => (this.#unfinished.delete(started), this.#settled.set(index, error)),
    );
    this.#calls.push(call);
    this.#outcomes.push(started);
  }

  /**
   * Emits the results already there (in order) once pending microtasks have
   * run: a tool that needs no round trip (StructuredOutput, no hook) reports
   * right after its block, as with the real CLI.
   */
  async flushReady(): Promise<void> {
    for (let i = 0; i < 8; i++) await Promise.resolve();
    while (
      this.#settled.get(this.#emitted) && !(this.#settled.get(this.#emitted) instanceof Error)
    ) {
      this.#emit(this.#settled.get(this.#emitted) as Outcome);
    }
  }

  #emit(outcome: Outcome): void {
    const block = {
      tool_use_id: this.#calls[this.#emitted]!.id,
      type: "tool_result",
      content: outcome.content,
      ...(outcome.isError ? { is_error: true } : {}),
    };
    this.#blocks.push(block);
    this.#emitted++;
    out({
      type: "user",
      message: { role: "user", content: [block] },
      parent_tool_use_id: null,
      session_id: SESSION_ID,
      uuid: uuid(),
      timestamp: new Date().toISOString(),
      tool_use_result: outcome.shown,
    });
    this.#turn.numTurns++;
  }

  /** Waits for every result; false when the turn ended instead (interrupt, stdin closed). */
  async finish(): Promise<boolean> {
    const turn = this.#turn;
    try {
      while (this.#emitted < this.#outcomes.length) {
        const outcome = await Promise.race([this.#outcomes[this.#emitted]!, aborted(turn)]);
        if (!outcome) {
          interrupted(turn);
          return false;
        }
        this.#emit(outcome);
      }
    } catch (error) {
      const errors = [`fake_claude: a tool call got no answer: ${(error as Error).message}`];
      finishTurn(turn, { is_error: true, subtype: "error_during_execution", errors });
      return false;
    }
    pushHistory("user", this.#blocks);
    return true;
  }
}

const aborted = (turn: Turn) =>
  new Promise<undefined>((resolve) =>
    turn.abort.signal.addEventListener("abort", () => resolve(undefined), { once: true })
  );

const absolute = (path: unknown) =>
  typeof path === "string" && !path.startsWith("/") ? `${Deno.cwd()}/${path}` : path;

async function runOne(
  turn: Turn,
  call: RunCall,
  deferred: boolean,
): Promise<Outcome> {
  const name = call.builtin ? call.name : clientToolName(call.name);
  const input = (call.input ?? {}) as Record<string, unknown>;
  const mcp = call.builtin ? undefined : mcpToolOf(name);
  const structured = call.builtin && name === "StructuredOutput";
  if (!structured && (call.builtin ? !builtinTools().includes(name) : !mcp)) {
    return {
      content: `<tool_use_error>Error: No such tool available: ${name}</tool_use_error>`,
      isError: true,
      shown: `Error: No such tool available: ${name}`,
    };
  }
  if (mcp && !allowed(name, mcp.server)) {
    return errorOutcome(
      `Claude requested permissions to use ${name}, but you haven't granted it yet.`,
    );
  }
  const toolInput = { ...input };
  for (const key of ["file_path", "path", "notebook_path"]) {
    if (key in toolInput) toolInput[key] = absolute(toolInput[key]);
  }
  // No await unless a hook is asked: the control request then goes out with the block.
  const hooks = preToolUse(turn, name, toolInput, call.id);
  const refusal = hooks === undefined ? undefined : await hooks;
  if (refusal !== undefined) return errorOutcome(refusal);
  if (structured) {
    const text = "Structured output provided successfully";
    return { content: text, isError: false, shown: text };
  }
  if (mcp) {
    const rpcId = state.rpcId++;
    const meta = deferred
      ? { progressToken: rpcId }
      : { "claudecode/toolUseId": call.id, progressToken: rpcId };
    const response = await request({
      subtype: "mcp_message",
      server_name: mcp.server,
      message: {
        method: "tools/call",
        params: { name: mcp.tool.name, arguments: input, _meta: meta },
        jsonrpc: "2.0",
        id: rpcId,
      },
    });
    const reply = response?.mcp_response;
    if (reply?.error) {
      return errorOutcome(String(reply.error.message ?? JSON.stringify(reply.error)));
    }
    const content = (reply?.result?.content ?? []) as Block[];
    if (reply?.result?.isError) {
      return errorOutcome(content.filter((b) => b.type === "text").map((b) => b.text).join("\n"));
    }
    return { content, isError: false, shown: content };
  }
  // The real CLI's file tools take a moment: their results come after the message ends.
  await sleep(1);
  return builtin(name, toolInput);
}

function allowed(name: string, server: string): boolean {
  if (option("--permission-mode") === "bypassPermissions") return true;
  return settingsNow().allowedTools.some((entry) =>
    entry === name || entry === `mcp__${server}` || entry === `mcp__${server}__*`
  );
}

/**
 * Sends `hook_callback`s for a tool call (the first at once); resolves to the
 * refusal reason of a deny. Undefined when no registered matcher matches.
 */
function preToolUse(
  turn: Turn,
  toolName: string,
  toolInput: unknown,
  toolUseId: string,
): Promise<string | undefined> | undefined {
  const callbacks: string[] = (state.initialize?.hooks?.PreToolUse ?? [])
    .filter((matcher: any) => {
      const pattern = matcher.matcher;
      return !pattern || pattern === "*" || new RegExp(`^(?:${pattern})$`).test(toolName);
    })
    .flatMap((matcher: any) => matcher.hookCallbackIds ?? []);
  if (callbacks.length === 0) return undefined;
  return (async () => {
    for (const callbackId of callbacks) {
      const response = await request({
        subtype: "hook_callback",
        callback_id: callbackId,
        input: {
          session_id: SESSION_ID,
          transcript_path: `${
            Deno.env.get("HOME") ?? "/tmp"
          }/.claude/projects/fake/${SESSION_ID}.jsonl`,
          cwd: Deno.cwd(),
          permission_mode: turn.settings.permissionMode ?? "default",
          hook_event_name: "PreToolUse",
          tool_name: toolName,
          tool_input: toolInput,
          tool_use_id: toolUseId,
        },
        tool_use_id: toolUseId,
      });
      const output = response?.hookSpecificOutput;
      if (output?.permissionDecision === "deny") {
        return String(output.permissionDecisionReason ?? "denied by a PreToolUse hook");
      }
    }
    return undefined;
  })();
}

/** A few built-in tools, run with no permission checks (the bridge's hook is the only guard). */
function builtin(name: string, input: Record<string, any>): Outcome {
  const ok = (text: string, shown: unknown = text): Outcome => ({
    content: text,
    isError: false,
    shown,
  });
  try {
    switch (name) {
      case "Read": {
        const text = Deno.readTextFileSync(input.file_path);
        return ok(text.split("\n").map((row, i) => `${i + 1}\t${row}`).join("\n"));
      }
      case "Write":
        Deno.writeTextFileSync(input.file_path, String(input.content ?? ""));
        return ok(`File created successfully at: ${input.file_path}`);
      case "Edit": {
        const text = Deno.readTextFileSync(input.file_path);
        if (!text.includes(input.old_string)) {
          return errorOutcome(`String to replace not found in file.\nString: ${input.old_string}`);
        }
        Deno.writeTextFileSync(input.file_path, text.replace(input.old_string, input.new_string));
        return ok(`The file ${input.file_path} has been updated.`);
      }
      case "Glob": {
        const pattern = String(input.pattern);
        const full = pattern.startsWith("/") ? pattern : `${input.path ?? Deno.cwd()}/${pattern}`;
        const dir = full.slice(0, full.lastIndexOf("/")) || "/";
        const glob = full.slice(full.lastIndexOf("/") + 1);
        const regex = new RegExp(
          "^" + glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".") +
            "$",
        );
        const found = [...Deno.readDirSync(dir)].filter((entry) => regex.test(entry.name))
          .map((entry) => `${dir}/${entry.name}`).sort();
        return ok(found.length ? found.join("\n") : "No files found");
      }
      default:
        return errorOutcome(`fake_claude does not emulate the ${name} tool`);
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      return errorOutcome(
        `File does not exist. Note: your current working directory is ${Deno.cwd()}.`,
      );
    }
    return errorOutcome(String(error));
  }
}

function interrupted(turn: Turn): void {
  out({
    type: "user",
    message: { role: "user", content: [{ type: "text", text: "[Request interrupted by user]" }] },
    parent_tool_use_id: null,
    session_id: SESSION_ID,
    uuid: uuid(),
    timestamp: new Date().toISOString(),
  });
  const block = { type: "text", text: "[Request interrupted by user]" };
  synthetic.add(block);
  pushHistory("user", [block]);
  finishTurn(turn, {
    subtype: "error_during_execution",
    is_error: true,
    stop_reason: null,
    terminal_reason: "aborted_streaming",
    errors: ["Request interrupted by user"],
  });
}

function apiError(turn: Turn, error: { status: number; message?: string }): void {
  const detail = error.message ?? `fake error ${error.status}`;
  const text = error.status === 429
    ? `API Error: Request rejected (429) · ${detail}`
    : `API Error: ${error.status} · ${detail}`;
  out({
    type: "system",
    subtype: "status",
    status: "requesting",
    uuid: uuid(),
    session_id: SESSION_ID,
  });
  out({
    type: "assistant",
    message: {
      id: uuid(),
      model: "<synthetic>",
      role: "assistant",
      stop_reason: "stop_sequence",
      stop_sequence: "",
      type: "message",
      usage: {
        input_tokens: 0,
        output_tokens: 0,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
      },
      content: [{ type: "text", text }],
    },
    parent_tool_use_id: null,
    session_id: SESSION_ID,
    uuid: uuid(),
  });
  turn.usage = {
    input_tokens: 0,
    output_tokens: 0,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
  };
  finishTurn(turn, {
    is_error: true,
    api_error_status: error.status,
    result: text,
    stop_reason: "stop_sequence",
  });
}

/** Prints the result line (unless `noResult`) and ends the turn, or the process when asked. */
function finishTurn(turn: Turn, fields: Record<string, unknown>): void {
  const { script } = turn;
  const result = {
    type: "result",
    subtype: "success",
    is_error: false,
    api_error_status: null,
    duration_ms: 5,
    duration_api_ms: 4,
    num_turns: turn.numTurns,
    result: turn.lastText,
    stop_reason: turn.stopReason,
    session_id: SESSION_ID,
    total_cost_usd: 0.001,
    usage: turn.usage,
    modelUsage: {},
    permission_denials: [],
    terminal_reason: "completed",
    uuid: uuid(),
    ...fields,
    ...script.result,
  };
  state.lastError = result.is_error === true;
  state.lingerMs = script.lingerMs ?? 0;
  state.turn = undefined;
  if (!script.noResult) line(result);
  record();
  if (script.noResult || script.exit !== undefined) {
    void sleep(state.lingerMs).then(() => exit(script.exit ?? (state.lastError ? 1 : 0)));
    // Stop taking turns: the process is on its way out.
    state.queue.length = 0;
    state.busy = true;
  }
}

// -------------------------------------------------------------------- main

async function oneShot(): Promise<void> {
  const text = await new Response(Deno.stdin.readable).text();
  state.stdin.push(text);
  state.eof = true;
  await runTurn([{ type: "text", text }], settingsNow());
  if (!state.busy) await finishAtEof();
  await forever();
}

if (args.includes("--version")) {
  write(`${VERSION} (Claude Code)\n`);
  Deno.exit(0);
}
const resume = option("--resume");
if (resume !== undefined) {
  try {
    if (loadSession(resume) === "hang") await forever();
  } catch (error) {
    if (!(error instanceof SessionError)) throw error;
    failStart(error.message);
  }
}
if (streamInput) await readStdin();
else await oneShot();
