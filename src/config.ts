/**
 * Server configuration, read once from environment variables and validated
 * with zod. A bad value stops the start with a message naming the variable.
 *
 * The variable names are part of the public interface; the README's
 * configuration table is checked against {@linkcode configSchema} by a test.
 *
 * @module
 */
import { z } from "zod";
import { LOG_LEVELS, type LogLevel } from "./ops/log.ts";

const csv = (fallback: string) =>
  z.string().default(fallback).transform((value) =>
    value.split(",").map((item) => item.trim()).filter((item) => item.length > 0)
  );

const int = (fallback: number, min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce.number().int().min(min).max(max).default(fallback);

const name = z.string().regex(/^[A-Za-z0-9._-]+$/, "use letters, digits, '.', '_' or '-'");

/**
 * `WARM_POOL`: `off`, or comma-separated `model=count` items (a bare model
 * means 1). Unset yields `undefined`: one process for the default model.
 */
const warmPool = z.string().optional().transform((value, ctx) => {
  if (value === undefined) return undefined;
  const sizes: Record<string, number> = {};
  if (value.trim() === "off") return sizes;
  for (const item of value.split(",").map((part) => part.trim()).filter(Boolean)) {
    const match = /^([A-Za-z0-9._-]+)(?:=(\d{1,3}))?$/.exec(item);
    if (!match) {
      ctx.addIssue({
        code: "custom",
        message: `"${item}" is not model=count; write e.g. "sonnet=2,haiku=1", or "off"`,
      });
      return z.NEVER;
    }
    sizes[match[1]!] = Number(match[2] ?? 1);
  }
  return sizes;
});

/** Default root for per-request workspaces; `deno task start` may write only here. */
export const DEFAULT_WORKSPACE_ROOT = "/tmp/claude-openai-bridge";

/** The environment variables the server reads, with their defaults and meaning. */
export const configSchema = z.object({
  PORT: int(8000, 0, 65535).describe("TCP port to listen on."),
  HOST: z.string().min(1).default("127.0.0.1").describe(
    "Interface to listen on; `0.0.0.0` for all (containers).",
  ),
  API_KEYS: csv("").describe(
    "Comma-separated bearer keys accepted by the API. Unset (and no `API_KEYS_FILE`): one random key is made at start and printed once.",
  ),
  API_KEYS_FILE: z.string().min(1).optional().describe(
    "A file holding the bearer keys instead of `API_KEYS` (one per line or comma-separated; blank lines and `#` comment lines are ignored). Preferred: the keys then never sit in the process environment. The bridge needs read permission for it (add the path to `--allow-read`).",
  ),
  CLAUDE_BIN: z.string().min(1).default("claude").describe(
    "Claude Code CLI to run: a name found on PATH or a path.",
  ),
  MODELS: csv("haiku,sonnet,opus").pipe(z.array(name).min(1, "list at least one model"))
    .describe("Comma-separated model aliases clients may ask for; passed to the CLI as `--model`."),
  DEFAULT_MODEL: name.default("sonnet").describe("Model used when a request names none."),
  AGENTS_DIR: z.string().min(1).default(new URL("../agents", import.meta.url).pathname).describe(
    "Directory of agent definitions (`<name>/agent.json` and optional `<name>/workspace/`). Default: the `agents/` directory next to `main.ts` (embedded in the compiled binary).",
  ),
  STREAM_AGENT: name.default("conversational").describe(
    "Agent that serves `stream: true` (Chat Completions and Responses).",
  ),
  COMPLETION_AGENT: name.default("workspace").describe(
    "Agent that serves `stream: false` (Chat Completions and Responses) and `/execute` without an `agent`.",
  ),
  WORKSPACE_ROOT: z.string().min(1).default(DEFAULT_WORKSPACE_ROOT).describe(
    "Where each CLI process gets its own run directory (`run-<agent>-<random>/` with `work/`, its working directory, and `private/`, its session files), removed when the process exits; leftovers of a crash are swept at start.",
  ),
  LOG_LEVEL: z.enum(LOG_LEVELS).default("info").describe(
    "Least severe log level written (`debug`, `info`, `warn`, `error`); JSON lines on stdout. Only `debug` logs prompts.",
  ),
  METRICS: z.enum(["public", "auth", "off"]).default("public").describe(
    "`/metrics` access: `public` (no key), `auth` (needs an API key), `off` (404).",
  ),
  REQUEST_TIMEOUT_MS: int(600_000, 1000).describe(
    "Longest a whole run may take; past it the CLI is stopped and the client gets 504.",
  ),
  MAX_BODY_BYTES: int(4 * 1024 * 1024, 1024).describe(
    "Largest accepted request body in bytes; larger bodies get 413 without being read.",
  ),
  HEADER_TIMEOUT_MS: int(30_000, 100).describe(
    "Longest a connection may take to send a complete request head, counted from when it opened or its previous answer was sent; past it the connection is closed (with a 408 if a head had begun).",
  ),
  FIRST_EVENT_TIMEOUT_MS: int(120_000, 100).describe(
    "Longest any turn (streaming or not) may wait, after its input was written, for the model's first event; past it the CLI is stopped and the client gets 504.",
  ),
  MAX_CONCURRENT: int(4, 1, 1000).describe(
    "Most CLI processes alive at once (each needs about 250 MB): running, warm, live and suspended ones.",
  ),
  MAX_QUEUE: int(16, 0, 100_000).describe(
    "Most requests waiting for a free CLI slot; past it requests get 429 with `Retry-After`.",
  ),
  SHUTDOWN_GRACE_MS: int(20_000, 0).describe(
    "On SIGINT/SIGTERM, how long running requests may finish before their CLI processes are stopped.",
  ),
  KILL_GRACE_MS: int(1000, 10, 60_000).describe(
    "Milliseconds between SIGTERM and SIGKILL when the bridge stops a CLI process; also how long a CLI let go of (its stdin closed) may take to exit by itself.",
  ),
  MAX_LINE_CHARS: int(8 * 1024 * 1024, 1024).describe(
    "Longest CLI output line kept, in characters; longer lines are dropped with a logged warning.",
  ),
  WARM_POOL: warmPool.describe(
    "CLI processes kept started and waiting for the streaming agent, per model: `sonnet=2,haiku=1`, or `off`. Unset: one for `DEFAULT_MODEL`. They count against `MAX_CONCURRENT` (and give way to requests).",
  ),
  WARM_POOL_MAX_AGE_MS: int(300_000, 1000).describe(
    "A warm process that has waited this long is stopped and replaced by a fresh one.",
  ),
  LIVE_SESSIONS: int(4, 0, 1000).describe(
    "Most finished conversations whose CLI process stays alive for their next turn (each holds about 250 MB and a MAX_CONCURRENT slot, which it gives up when a request needs it); 0 turns live sessions off.",
  ),
  LIVE_SESSION_IDLE_MS: int(600_000, 1000).describe(
    "A live session unused this long is stopped; its conversation's next turn then resumes from its history.",
  ),
  TOOL_RESULT_TIMEOUT_MS: int(300_000, 1000).describe(
    "How long a reply that ended in tool calls keeps its CLI process waiting for the results; later results are answered by resuming from the history.",
  ),
  RESPONSES_STORE_MAX: int(200, 0, 1_000_000).describe(
    "Most responses kept for the Responses API's `previous_response_id` (only those created with `store: true`; the oldest go first). They live in this process's memory only: another replica or a restart does not know them. 0 turns the store off.",
  ),
  RESPONSES_STORE_TTL_MS: int(3_600_000, 1000).describe(
    "How long a stored response can be continued with `previous_response_id`; later it is a 400 `previous_response_not_found`.",
  ),
}).superRefine((config, ctx) => {
  if (!config.MODELS.includes(config.DEFAULT_MODEL)) {
    ctx.addIssue({
      code: "custom",
      path: ["DEFAULT_MODEL"],
      message: `"${config.DEFAULT_MODEL}" is not in MODELS (${config.MODELS.join(",")})`,
    });
  }
  const pool = Object.entries(config.WARM_POOL ?? {});
  for (const [model] of pool.filter(([model]) => !config.MODELS.includes(model))) {
    ctx.addIssue({
      code: "custom",
      path: ["WARM_POOL"],
      message: `"${model}" is not in MODELS (${config.MODELS.join(",")})`,
    });
  }
  const total = pool.reduce((sum, [, count]) => sum + count, 0);
  if (total > config.MAX_CONCURRENT) {
    ctx.addIssue({
      code: "custom",
      path: ["WARM_POOL"],
      message:
        `keeps ${total} processes but MAX_CONCURRENT is ${config.MAX_CONCURRENT}; lower WARM_POOL or raise MAX_CONCURRENT`,
    });
  }
});

/** The parsed environment, as {@linkcode configSchema} yields it. */
export type Env = z.output<typeof configSchema>;

/** Validated configuration the rest of the server uses. */
export interface Config {
  port: number;
  host: string;
  /** Accepted bearer keys; never empty. */
  apiKeys: string[];
  /** True when `apiKeys` holds one key made at start because no keys were configured. */
  generatedKey: boolean;
  claudeBin: string;
  models: string[];
  defaultModel: string;
  agentsDir: string;
  streamAgent: string;
  completionAgent: string;
  workspaceRoot: string;
  logLevel: LogLevel;
  /** Who may read `/metrics`. */
  metrics: "public" | "auth" | "off";
  requestTimeoutMs: number;
  maxBodyBytes: number;
  headerTimeoutMs: number;
  firstEventTimeoutMs: number;
  maxConcurrent: number;
  maxQueue: number;
  shutdownGraceMs: number;
  killGraceMs: number;
  maxLineChars: number;
  /** Warm processes per model for the streaming agent; empty when the pool is off. */
  warmPool: Record<string, number>;
  warmPoolMaxAgeMs: number;
  liveSessions: number;
  liveSessionIdleMs: number;
  toolResultTimeoutMs: number;
  /** Most responses kept for `previous_response_id`; 0 = off. */
  responsesStoreMax: number;
  responsesStoreTtlMs: number;
}

/** Names of every variable in {@linkcode configSchema}. */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(configSchema.shape);

/** Reads just the configuration variables from the process environment. */
export function readEnv(): Record<string, string | undefined> {
  return Object.fromEntries(CONFIG_VARIABLES.map((key) => [key, Deno.env.get(key)]));
}

/**
 * Parses configuration from an environment map.
 *
 * @throws {TypeError} naming every invalid variable and why.
 */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const present = Object.fromEntries(
    CONFIG_VARIABLES.map((key) => [key, emptyToUndefined(env[key])]),
  );
  const parsed = configSchema.safeParse(present);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) =>
      `  ${issue.path.join(".") || "config"}: ${issue.message}`
    );
    throw new TypeError(
      `Invalid configuration; fix these environment variables:\n${lines.join("\n")}`,
    );
  }
  const e = parsed.data;
  const configured = apiKeys(e.API_KEYS, e.API_KEYS_FILE);
  const generatedKey = configured.length === 0;
  return {
    port: e.PORT,
    host: e.HOST,
    apiKeys: generatedKey ? [randomKey()] : configured,
    generatedKey,
    claudeBin: e.CLAUDE_BIN,
    models: e.MODELS,
    defaultModel: e.DEFAULT_MODEL,
    agentsDir: e.AGENTS_DIR,
    streamAgent: e.STREAM_AGENT,
    completionAgent: e.COMPLETION_AGENT,
    workspaceRoot: e.WORKSPACE_ROOT,
    logLevel: e.LOG_LEVEL,
    metrics: e.METRICS,
    requestTimeoutMs: e.REQUEST_TIMEOUT_MS,
    maxBodyBytes: e.MAX_BODY_BYTES,
    headerTimeoutMs: e.HEADER_TIMEOUT_MS,
    firstEventTimeoutMs: e.FIRST_EVENT_TIMEOUT_MS,
    maxConcurrent: e.MAX_CONCURRENT,
    maxQueue: e.MAX_QUEUE,
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
    killGraceMs: e.KILL_GRACE_MS,
    maxLineChars: e.MAX_LINE_CHARS,
    warmPool: e.WARM_POOL ?? { [e.DEFAULT_MODEL]: 1 },
    warmPoolMaxAgeMs: e.WARM_POOL_MAX_AGE_MS,
    liveSessions: e.LIVE_SESSIONS,
    liveSessionIdleMs: e.LIVE_SESSION_IDLE_MS,
    toolResultTimeoutMs: e.TOOL_RESULT_TIMEOUT_MS,
    responsesStoreMax: e.RESPONSES_STORE_MAX,
    responsesStoreTtlMs: e.RESPONSES_STORE_TTL_MS,
  };
}

/** A configuration error about one variable, in {@linkcode loadConfig}'s format. */
function invalid(variable: string, problem: string): TypeError {
  return new TypeError(
    `Invalid configuration; fix these environment variables:\n  ${variable}: ${problem}`,
  );
}

/**
 * The keys from `API_KEYS` or from the file `API_KEYS_FILE` names (never
 * both). Error messages name the file and the line, never a key.
 */
function apiKeys(inline: string[], file: string | undefined): string[] {
  if (file === undefined) return inline;
  if (inline.length > 0) {
    throw invalid("API_KEYS_FILE", "API_KEYS is set too; set one of them, not both");
  }
  let text: string;
  try {
    text = Deno.readTextFileSync(file);
  } catch (error) {
    throw invalid(
      "API_KEYS_FILE",
      error instanceof Deno.errors.NotCapable
        ? `"${file}" is outside the bridge's read permission; add it to --allow-read (for \`deno task start\`, in deno.json: --allow-read=agents,${file})`
        : error instanceof Deno.errors.NotFound
        ? `"${file}" does not exist; point API_KEYS_FILE at the file with the keys`
        : error instanceof Deno.errors.PermissionDenied
        ? `"${file}" is not readable by the user the bridge runs as; fix its owner or mode`
        : `"${file}" cannot be read (${error instanceof Error ? error.message : error})`,
    );
  }
  const keys: string[] = [];
  for (const [index, line] of text.split(/\r?\n/).entries()) {
    if (line.trim().startsWith("#")) continue;
    for (const item of line.split(",").map((part) => part.trim()).filter(Boolean)) {
      if (/\s/.test(item)) {
        throw invalid(
          "API_KEYS_FILE",
          `line ${
            index + 1
          } of "${file}" holds a key with whitespace in it; put one key per line or separate keys with commas`,
        );
      }
      keys.push(item);
    }
  }
  if (keys.length === 0) {
    throw invalid("API_KEYS_FILE", `"${file}" holds no keys; write one key per line`);
  }
  return keys;
}

function emptyToUndefined(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value;
}

function randomKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return "sk-bridge-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
