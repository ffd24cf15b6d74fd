/**
 * The one place that judges how a CLI turn ended, whatever the face and
 * whether the answer streams: from the turn's `result` line, or, when the
 * process ended without one, from its exit and whatever plain text it printed.
 *
 * - A `result` that is an error (`is_error`, an `error_*` subtype, or the
 *   "[Request interrupted by user]" text of a stopped run, which must never
 *   reach a client as an answer) fails with the mapped HTTP error.
 * - A process the bridge stopped fails with the reason it was stopped for
 *   (timeout, shutdown, …).
 * - A process that exited 0 without a result but printed plain text (not
 *   JSON) answers with that text: the original service's contract.
 * - Anything else fails as `execution failed` with the stderr tail.
 *
 * @module
 */
import type { CliResult } from "../claude/events.ts";
import { exitError, resultError, stopError } from "../claude/failure.ts";
import type { CliExit } from "../claude/process.ts";
import type { HttpError } from "../http/http_error.ts";

const INTERRUPTED = /^\[Request interrupted by user[^\]]*\]$/;

/** How a turn ended: its answer text (when the CLI gave one outside the stream), or an error. */
export type Outcome = { ok: true; text?: string } | { ok: false; error: HttpError };

/** True when a result line reports a failure. */
export function isFailedResult(result: CliResult): boolean {
  return result.is_error === true || (result.subtype?.startsWith("error") ?? false) ||
    INTERRUPTED.test(result.result?.trim() ?? "");
}

/** Judges a turn by its `result` line. */
export function judgeResult(result: CliResult): Outcome {
  if (isFailedResult(result)) return { ok: false, error: resultError(result) };
  return result.result === undefined ? { ok: true } : { ok: true, text: result.result };
}

/**
 * Judges a turn whose process ended before its `result` line, given the
 * non-JSON text it printed.
 */
export function judgeExit(exit: CliExit, plainText: string): Outcome {
  const stopped = stopError(exit);
  if (stopped) return { ok: false, error: stopped };
  if (exit.code === 0 && plainText.trim() !== "") return { ok: true, text: plainText };
  return { ok: false, error: exitError(exit, plainText) };
}
