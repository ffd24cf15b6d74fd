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

const csv = (fallback: string) =>
  z.string().default(fallback).transform((value) =>
    value.split(",").map((item) => item.trim()).filter((item) => item.length > 0)
  );

const int = (fallback: number, min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce.number().int().min(min).max(max).default(fallback);

const name = z.string().regex(/^[A-Za-z0-9._-]+$/, "use letters, digits, '.', '_' or '-'");

/** Default root for per-request workspaces; `deno task start` may write only here. */
export const DEFAULT_WORKSPACE_ROOT = "/tmp/claude-openai-bridge";

/** The environment variables the server reads, with their defaults and meaning. */
export const configSchema = z.object({
  PORT: int(8000, 0, 65535).describe("TCP port to listen on."),
  HOST: z.string().min(1).default("127.0.0.1").describe(
    "Interface to listen on; `0.0.0.0` for all (containers).",
  ),
  API_KEYS: csv("").describe(
    "Comma-separated bearer keys accepted by the API. Unset: one random key is made at start and printed once.",
  ),
  CLAUDE_BIN: z.string().min(1).default("claude").describe(
    "Claude Code CLI to run: a name found on PATH or a path.",
  ),
  MODELS: csv("haiku,sonnet,opus").pipe(z.array(name).min(1, "list at least one model"))
    .describe("Comma-separated model aliases clients may ask for; passed to the CLI as `--model`."),
  DEFAULT_MODEL: name.default("sonnet").describe("Model used when a request names none."),
  AGENTS_DIR: z.string().min(1).default(new URL("../agents", import.meta.url).pathname).describe(
    "Directory of agent definitions (`<name>/agent.json` and optional `<name>/workspace/`).",
  ),
  STREAM_AGENT: name.default("conversational").describe("Agent that serves `stream: true`."),
  COMPLETION_AGENT: name.default("workspace").describe(
    "Agent that serves `stream: false` and `/execute` without an `agent`.",
  ),
  WORKSPACE_ROOT: z.string().min(1).default(DEFAULT_WORKSPACE_ROOT).describe(
    "Where per-request temporary workspaces are made (and removed).",
  ),
  REQUEST_TIMEOUT_MS: int(600_000, 1000).describe(
    "Longest a whole run may take; past it the CLI is stopped and the client gets 504.",
  ),
  MAX_BODY_BYTES: int(4 * 1024 * 1024, 1024).describe(
    "Largest accepted request body in bytes; larger bodies get 413 without being read.",
  ),
}).superRefine((config, ctx) => {
  if (!config.MODELS.includes(config.DEFAULT_MODEL)) {
    ctx.addIssue({
      code: "custom",
      path: ["DEFAULT_MODEL"],
      message: `"${config.DEFAULT_MODEL}" is not in MODELS (${config.MODELS.join(",")})`,
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
  /** True when `apiKeys` holds one key made at start because `API_KEYS` was unset. */
  generatedKey: boolean;
  claudeBin: string;
  models: string[];
  defaultModel: string;
  agentsDir: string;
  streamAgent: string;
  completionAgent: string;
  workspaceRoot: string;
  requestTimeoutMs: number;
  maxBodyBytes: number;
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
  const generatedKey = e.API_KEYS.length === 0;
  return {
    port: e.PORT,
    host: e.HOST,
    apiKeys: generatedKey ? [randomKey()] : e.API_KEYS,
    generatedKey,
    claudeBin: e.CLAUDE_BIN,
    models: e.MODELS,
    defaultModel: e.DEFAULT_MODEL,
    agentsDir: e.AGENTS_DIR,
    streamAgent: e.STREAM_AGENT,
    completionAgent: e.COMPLETION_AGENT,
    workspaceRoot: e.WORKSPACE_ROOT,
    requestTimeoutMs: e.REQUEST_TIMEOUT_MS,
    maxBodyBytes: e.MAX_BODY_BYTES,
  };
}

function emptyToUndefined(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value;
}

function randomKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return "sk-bridge-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
