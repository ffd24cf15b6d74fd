/**
 * Judging how a CLI turn ended: from its result line (failures, the
 * interrupted text that must never reach a client, the answer text), or,
 * without one, from the process's exit and the plain text it printed.
 */
import assert from "node:assert/strict";
import type { CliResult } from "../../src/claude/events.ts";
import type { CliExit } from "../../src/claude/process.ts";
import { HttpError } from "../../src/http/http_error.ts";
import { isFailedResult, judgeExit, judgeResult, type Outcome } from "../../src/engine/outcome.ts";

const result = (fields: Partial<CliResult> = {}): CliResult => ({ type: "result", ...fields });
const exit = (fields: Partial<CliExit> = {}): CliExit => ({
  code: 0,
  signal: null,
  stderr: "",
  ...fields,
});

function failure(outcome: Outcome): HttpError {
  assert.equal(outcome.ok, false);
  return (outcome as { error: HttpError }).error;
}

Deno.test("isFailedResult: is_error, an error_* subtype, or the interrupted text", () => {
  assert.equal(isFailedResult(result({ subtype: "success", result: "Hi" })), false);
  assert.equal(isFailedResult(result({})), false);
  assert.equal(isFailedResult(result({ subtype: "success", is_error: true })), true);
  assert.equal(isFailedResult(result({ subtype: "error_max_turns" })), true);
  assert.equal(isFailedResult(result({ subtype: "error_during_execution" })), true);
  assert.equal(isFailedResult(result({ result: "[Request interrupted by user]" })), true);
  assert.equal(
    isFailedResult(result({ result: "  [Request interrupted by user for tool use]\n" })),
    true,
  );
  assert.equal(
    isFailedResult(result({ result: "He said [Request interrupted by user] once" })),
    false,
    "only the whole text is the CLI's interruption notice",
  );
});

Deno.test("judgeResult: a success answers with its text, or with none when it has none", () => {
  assert.deepEqual(judgeResult(result({ subtype: "success", result: "Hello" })), {
    ok: true,
    text: "Hello",
  });
  assert.deepEqual(judgeResult(result({ subtype: "success", result: "" })), { ok: true, text: "" });
  assert.deepEqual(judgeResult(result({ subtype: "success" })), { ok: true });
});

Deno.test("judgeResult: a failure carries the mapped HTTP error", () => {
  const limited = failure(judgeResult(result({
    subtype: "success",
    is_error: true,
    api_error_status: 429,
    result: "API Error: Request rejected (429)",
  })));
  assert.equal(limited.status, 429);
  assert.equal(limited.code, "rate limited");
  const turns = failure(judgeResult(result({
    subtype: "error_max_turns",
    errors: ["Reached maximum number of turns (8)"],
  })));
  assert.equal(turns.status, 503);
  assert.match(turns.message, /Reached maximum number of turns/);
});

Deno.test("judgeResult: the interrupted text is a failure, never an answer", () => {
  const error = failure(judgeResult(result({
    subtype: "success",
    is_error: false,
    result: "[Request interrupted by user]",
  })));
  assert.equal(error.status, 503);
  assert.equal(error.code, "execution failed");
});

Deno.test("judgeExit: exit 0 with plain text answers with that text", () => {
  assert.deepEqual(judgeExit(exit(), "The answer.\n"), { ok: true, text: "The answer.\n" });
});

Deno.test("judgeExit: exit 0 with nothing printed is execution failed", () => {
  const error = failure(judgeExit(exit(), "  \n"));
  assert.equal(error.status, 503);
  assert.equal(error.code, "execution failed");
  assert.match(error.message, /exited without a result/);
});

Deno.test("judgeExit: a non-zero exit fails even with plain text, with stderr as detail", () => {
  const error = failure(judgeExit(exit({ code: 2, stderr: "Error: boom" }), "partial"));
  assert.equal(error.status, 503);
  assert.equal(error.fields.detail, "Error: boom");
  assert.match(error.message, /exit code 2/);
  const auth = failure(
    judgeExit(exit({ code: 1, stderr: "Not logged in · Please run /login" }), ""),
  );
  assert.equal(auth.code, "upstream authentication failed");
});

Deno.test("judgeExit: a process the bridge stopped fails with the reason it was stopped for", () => {
  const shutdown = new HttpError(503, "shutting down", "bye");
  assert.equal(
    failure(judgeExit(exit({ code: 143, signal: "SIGTERM", stopReason: shutdown }), "text")),
    shutdown,
  );
  const timeout = failure(judgeExit(
    exit({ code: 143, signal: "SIGTERM", stopReason: new DOMException("t", "TimeoutError") }),
    "text",
  ));
  assert.equal(timeout.status, 504);
  assert.equal(timeout.code, "timeout");
});
