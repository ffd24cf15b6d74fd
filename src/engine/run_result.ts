/**
 * Collects the outcome of a non-streaming run: the CLI's `result` line (in
 * `json` or `stream-json` output), or, when there is none, its raw stdout.
 *
 * @module
 */
import type { CliExit } from "../claude/process.ts";
import { exitError, resultError, stopError } from "../claude/failure.ts";
import { isFailedResult } from "../openai/completion.ts";
import type { Run } from "./runner.ts";
import { type CliResult, parseLine } from "../claude/events.ts";

/** Most raw (non-JSON) stdout kept, in characters. */
const MAX_RAW = 1024 * 1024;

/** What a finished run produced. */
export interface RunOutcome {
  /** The successful result line. */
  result: CliResult;
  exit: CliExit;
}

/**
 * Reads a run to its end and returns its successful result (a result that
 * is an error, an `error_*` subtype or an interruption is a failure). Stdout that is
 * not a result line (from a CLI that printed plain text and exited 0)
 * becomes the result text.
 *
 * @throws {HttpError} the mapped error for a failed, stopped or silent run.
 */
export async function collectResult(run: Run): Promise<RunOutcome> {
  let result: CliResult | undefined;
  let raw = "";
  for await (const line of run.process.lines) {
    const event = parseLine(line.trim());
    if (event?.type === "result") result = event.result;
    else if (!event && raw.length < MAX_RAW) raw += (raw ? "\n" : "") + line;
  }
  const exit = await run.process.exited;
  const stopped = stopError(exit);
  if (stopped) throw stopped;
  if (result && isFailedResult(result)) throw resultError(result);
  if (result) return { result, exit };
  if (exit.code !== 0 || raw.trim() === "") throw exitError(exit, raw);
  return { result: { type: "result", result: raw.slice(0, MAX_RAW) }, exit };
}
