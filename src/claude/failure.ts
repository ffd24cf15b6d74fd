/**
 * Turns a failed CLI run into the HTTP error a client should see.
 *
 * A `result` with `is_error: true` is a failure whatever its `subtype` says.
 * Upstream statuses the CLI reports (`api_error_status`) map the way OpenAI
 * clients expect: 429 stays 429 (with `Retry-After`), an upstream 400/402 is
 * passed on with the CLI's own words, authentication problems become a 502
 * that tells the operator to sign the CLI in, overload a 503, other upstream
 * errors and an unreachable API a 502. A bridge timeout is a 504. Anything else is the original
 * service's 503 `execution failed`, with the CLI's message as `detail`.
 *
 * @module
 */
import { HttpError } from "../http/http_error.ts";
import type { CliExit } from "./process.ts";
import type { CliResult } from "./events.ts";

/** Seconds a client is told to wait after an upstream 429. */
export const RETRY_AFTER_SECONDS = 30;

const NOT_LOGGED_IN =
  /not logged in|please run \/login|invalid api key|oauth token (has )?expired|authentication_error/i;

/** The CLI's words when it cannot reach the API at all (`api_error_status` is null then). */
const UNREACHABLE = /unable to connect to api/i;

const SIGN_IN_HINT =
  "sign the Claude Code CLI in on the server (run `claude` and /login), or set CLAUDE_CODE_OAUTH_TOKEN from `claude setup-token`";

/** Limits a message for a response body. */
function clip(text: string, max = 2000): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** Classifies an upstream (Anthropic API) failure the CLI reported. */
function upstreamError(status: number | null | undefined, message: string): HttpError | undefined {
  const detail = { fields: { detail: message } };
  if (status === 401 || status === 403 || NOT_LOGGED_IN.test(message)) {
    return new HttpError(
      502,
      "upstream authentication failed",
      `The Claude Code CLI is not signed in or its credentials were rejected: ${SIGN_IN_HINT}. (${
        clip(message, 300)
      })`,
      detail,
    );
  }
  if (UNREACHABLE.test(message)) {
    return new HttpError(
      502,
      "upstream unreachable",
      `The Claude Code CLI could not reach Claude's API: check the server's network access (and ANTHROPIC_BASE_URL, if set). (${
        clip(message, 300)
      })`,
      detail,
    );
  }
  if (status === 429) {
    return new HttpError(
      429,
      "rate limited",
      `Claude's rate limit was reached: retry after ${RETRY_AFTER_SECONDS} seconds. (${
        clip(message, 300)
      })`,
      { ...detail, headers: { "retry-after": String(RETRY_AFTER_SECONDS) } },
    );
  }
  if (status === 400 || status === 402 || status === 413) {
    return new HttpError(status, "upstream rejected the request", clip(message), detail);
  }
  if (status === 529 || status === 503) {
    return new HttpError(
      503,
      "upstream overloaded",
      `Claude is overloaded; retry shortly. (${clip(message, 300)})`,
      {
        ...detail,
        headers: { "retry-after": "5" },
      },
    );
  }
  if (status !== null && status !== undefined && status >= 500) {
    return new HttpError(
      502,
      "upstream error",
      `Claude's API failed with ${status}; retry shortly. (${clip(message, 300)})`,
      detail,
    );
  }
  return undefined;
}

/** The error for a bridge-side stop (timeout), if the run was stopped for one. */
export function stopError(exit: CliExit): HttpError | undefined {
  const reason = exit.stopReason;
  // The bridge's own stops (first-event timeout, shutdown) carry their answer.
  if (reason instanceof HttpError) return reason;
  if (reason instanceof DOMException && reason.name === "TimeoutError") {
    return new HttpError(
      504,
      "timeout",
      "The Claude Code CLI did not finish in time (REQUEST_TIMEOUT_MS); try a shorter request or raise the limit.",
    );
  }
  return undefined;
}

/** The error for a `result` line with `is_error: true`. */
export function resultError(result: CliResult): HttpError {
  // Error subtypes such as error_max_turns carry no `result`, only `errors`.
  const errors = (result.errors ?? []).filter((e) => typeof e === "string").join("; ");
  const message = result.result?.trim() || errors || result.subtype ||
    "the CLI reported an error without a message";
  return upstreamError(result.api_error_status, message) ??
    new HttpError(503, "execution failed", `The Claude Code CLI failed: ${clip(message, 300)}`, {
      fields: { detail: clip(message) },
    });
}

/** The error for a run that ended without a usable result line. */
export function exitError(exit: CliExit, stdoutText = ""): HttpError {
  const stopped = stopError(exit);
  if (stopped) return stopped;
  const message = exit.stderr || stdoutText.trim() ||
    (exit.code === 0 ? "the CLI exited without a result" : `the CLI exited with code ${exit.code}`);
  return upstreamError(undefined, message) ??
    new HttpError(
      503,
      "execution failed",
      `The Claude Code CLI failed (exit code ${exit.code}): ${clip(message, 300)}`,
      {
        fields: { detail: clip(message) },
      },
    );
}
