#!/usr/bin/env -S deno run --quiet --no-config --allow-read --allow-write --allow-env --allow-run=sleep
/**
 * A stand-in for the Claude Code CLI in print mode, for fast tests. It speaks
 * both output protocols (`--output-format json` and `stream-json`, with
 * `--input-format stream-json` on stdin) and is steered by its input: the last
 * `[[fake:{…}]]` directive in the prompt says what to do (see {@linkcode Script}).
 * Without one it answers "ok".
 *
 * `--version` prints a version line like the real CLI's.
 *
 * When `FAKE_CLAUDE_RECORD` names a directory, it writes `<pid>.json` there
 * with its argv, stdin, working directory (and the files in it) and a few
 * environment variables.
 *
 * @module
 */

/** What a directive may ask for. Every field is optional. */
interface Script {
  /** Text deltas to stream (default `["ok"]`). */
  say?: string[];
  /** Milliseconds before the first delta, and between deltas. */
  firstDelayMs?: number;
  delayMs?: number;
  /** Stop reason reported in `message_delta` and the result. */
  stopReason?: string;
  /** Usage reported in the result. */
  usage?: Record<string, number>;
  /** Fields merged into the result line, e.g. `{"is_error": true, "api_error_status": 429}`. */
  result?: Record<string, unknown>;
  /** Emit no result line. */
  noResult?: boolean;
  /** Print this plain text instead of any JSON. */
  plain?: string;
  /** Lines printed (verbatim) before the answer: garbage, unknown events. */
  before?: string[];
  /** A line of this many characters printed before the answer. */
  hugeLine?: number;
  /** Write to stderr. */
  stderr?: string;
  /** Exit with this code once done (default 0, or 1 for an error result). */
  exit?: number;
  /** Exit with `exit` after this many deltas, without finishing. */
  crashAfter?: number;
  /** Never finish: wait forever after the deltas. */
  hang?: boolean;
  /** Milliseconds to stay alive after the result line, as the real CLI does while it winds down. */
  lingerMs?: number;
  /** Ignore SIGTERM (so only SIGKILL stops it). */
  ignoreSigterm?: boolean;
  /** Stream-json: print the init line, then nothing more, and never finish. */
  stall?: boolean;
  /** Write this many bytes to stderr (synchronously, so a full pipe would block it) first. */
  stderrBytes?: number;
  /**
   * Start a `sleep` grandchild first and write its pid to
   * `$FAKE_CLAUDE_RECORD/grandchild-<own pid>.txt`.
   */
  grandchild?: boolean;
  /** Echo the prompt it received as its answer. */
  echo?: boolean;
  /** Answer through `--json-schema`'s StructuredOutput tool with this value (`say` is the preamble). */
  structured?: unknown;
  /** After a `max_tokens` stop, continue (as the real CLI does) with a second message saying this. */
  then?: string[];
  /** Say the `say` list this many times over (for long streams). */
  repeat?: number;
  /** Append the send time (`performance.timeOrigin + performance.now()`, ms) and `;` to every delta. */
  stamp?: boolean;
}

const args = Deno.args;
const option = (name: string) => {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : undefined;
};
const output = option("--output-format") ?? "text";
const streamInput = option("--input-format") === "stream-json";
const encoder = new TextEncoder();
const write = (text: string) => Deno.stdout.writeSync(encoder.encode(text));
const line = (value: unknown) => write(JSON.stringify(value) + "\n");
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function readAll(stream: ReadableStream<Uint8Array>): Promise<string> {
  return await new Response(stream).text();
}

/**
 * Reads stdin the way the real CLI does. Plain-text input is read to its end.
 * Stream-json input is read line by line: an `initialize` control request is
 * answered at once (a readiness signal), and the turn starts on the first user
 * message, without waiting for stdin to close. Returns the input read so far.
 */
async function readInput(): Promise<string> {
  if (!streamInput) return await readAll(Deno.stdin.readable);
  const decoder = new TextDecoder();
  let seen = "";
  let lineStart = 0;
  for await (const bytes of Deno.stdin.readable) {
    seen += decoder.decode(bytes, { stream: true });
    for (let end = seen.indexOf("\n", lineStart); end >= 0; end = seen.indexOf("\n", lineStart)) {
      const raw = seen.slice(lineStart, end);
      lineStart = end + 1;
      const message = raw.trim() ? JSON.parse(raw) : {};
      if (message.type === "user") return seen.slice(0, lineStart);
      if (message.type === "control_request" && message.request?.subtype === "initialize") {
        line({
          type: "control_response",
          response: { subtype: "success", request_id: message.request_id, response: {} },
        });
      }
    }
  }
  return seen;
}

function promptOf(stdin: string): { text: string; images: number } {
  if (!streamInput) return { text: stdin, images: 0 };
  let text = "";
  let images = 0;
  for (const raw of stdin.split("\n")) {
    if (!raw.trim()) continue;
    const message = JSON.parse(raw);
    for (const block of message.message?.content ?? []) {
      if (block.type === "text") text += block.text;
      if (block.type === "image") images++;
    }
  }
  return { text, images };
}

function scriptOf(prompt: string): Script {
  const at = prompt.lastIndexOf("[[fake:");
  if (at < 0) return {};
  const end = prompt.indexOf("]]", at);
  return JSON.parse(prompt.slice(at + 7, end < 0 ? undefined : end));
}

async function record(stdin: string): Promise<void> {
  const dir = Deno.env.get("FAKE_CLAUDE_RECORD");
  if (!dir) return;
  const env = Object.fromEntries(
    [
      "API_KEYS",
      "CLAUDE_CODE_OAUTH_TOKEN",
      "CLAUDE_CODE_DISABLE_CLAUDE_MDS",
      "HOME",
      "CLAUDE_CODE_MAX_OUTPUT_TOKENS",
      "MAX_THINKING_TOKENS",
    ].map((key) => [key, Deno.env.get(key)]),
  );
  const files = (await Array.fromAsync(Deno.readDir("."))).map((entry) => entry.name).sort();
  await Deno.writeTextFile(
    `${dir}/${Deno.pid}.json`,
    JSON.stringify({ argv: args, stdin, cwd: Deno.cwd(), files, env }),
  );
}

const event = (inner: Record<string, unknown>) => line({ type: "stream_event", event: inner });

async function main(): Promise<number> {
  const stdin = await readInput();
  await record(stdin);
  const prompt = promptOf(stdin);
  const script = scriptOf(prompt.text);
  if (script.ignoreSigterm) Deno.addSignalListener("SIGTERM", () => {});
  if (script.grandchild) {
    const sleeper = new Deno.Command("sleep", { args: ["300"], stdout: "null" }).spawn();
    const dir = Deno.env.get("FAKE_CLAUDE_RECORD");
    if (dir) await Deno.writeTextFile(`${dir}/grandchild-${Deno.pid}.txt`, String(sleeper.pid));
  }
  for (let left = script.stderrBytes ?? 0; left > 0; left -= 65536) {
    Deno.stderr.writeSync(encoder.encode("e".repeat(Math.min(left, 65536))));
  }
  if (script.stderr) Deno.stderr.writeSync(encoder.encode(script.stderr));
  if (script.plain !== undefined) {
    write(script.plain);
    return script.exit ?? 0;
  }
  for (const raw of script.before ?? []) write(raw + "\n");
  if (script.hugeLine) write("x".repeat(script.hugeLine) + "\n");
  const once = script.echo ? [prompt.text] : script.say ?? ["ok"];
  const say = Array.from({ length: script.repeat ?? 1 }, () => once).flat();
  const stopReason = script.stopReason ?? "end_turn";
  const stream = output === "stream-json";
  if (stream) {
    line({ type: "system", subtype: "init", model: option("--model"), tools: [] });
    if (script.stall) await new Promise(() => setInterval(() => {}, 60_000));
    event({ type: "message_start", message: { role: "assistant", content: [] } });
    event({ type: "content_block_start", index: 0, content_block: { type: "text", text: "" } });
  }
  await sleep(script.firstDelayMs ?? 0);
  for (const [index, text] of say.entries()) {
    if (index > 0 && script.delayMs) await sleep(script.delayMs);
    if (script.crashAfter === index) return script.exit ?? 1;
    if (stream) {
      const sent = script.stamp ? `${text}${performance.timeOrigin + performance.now()};` : text;
      event({ type: "content_block_delta", index: 0, delta: { type: "text_delta", text: sent } });
    }
  }
  if (script.hang) await new Promise(() => setInterval(() => {}, 60_000));
  if (stream) {
    event({ type: "content_block_stop", index: 0 });
    event({ type: "message_delta", delta: { stop_reason: stopReason }, usage: script.usage ?? {} });
    event({ type: "message_stop" });
    for (const text of script.then ?? []) {
      event({ type: "content_block_delta", index: 0, delta: { type: "text_delta", text } });
    }
    if (script.then) event({ type: "message_delta", delta: { stop_reason: "end_turn" } });
  }
  const structured = script.structured !== undefined && args.includes("--json-schema")
    ? {
      result: JSON.stringify(script.structured),
      structured_output: script.structured,
      stop_reason: "tool_use",
    }
    : {};
  if (!script.noResult) {
    line({
      type: "result",
      subtype: "success",
      is_error: false,
      result: (script.then ?? say).join(""),
      stop_reason: script.then ? "end_turn" : stopReason,
      duration_ms: 5,
      num_turns: 1,
      session_id: "fake-session",
      total_cost_usd: 0.001,
      usage: script.usage ?? { input_tokens: 10, output_tokens: 2 },
      ...structured,
      ...script.result,
    });
  }
  await sleep(script.lingerMs ?? 0);
  return script.exit ?? (script.result?.is_error ? 1 : 0);
}

// `--version` answers like the real CLI (the readiness probe asks it).
if (args.includes("--version")) {
  write("2.1.197 (Claude Code)\n");
  Deno.exit(0);
}
Deno.exit(await main());
