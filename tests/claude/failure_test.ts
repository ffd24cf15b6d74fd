/**
 * How failed CLI runs map to HTTP errors, for the result texts the real
 * Claude Code CLI (2.1.197) prints (measured against a fake Anthropic API).
 */
import assert from "node:assert/strict";
import { exitError, resultError } from "../../src/claude/failure.ts";
import type { CliResult } from "../../src/claude/events.ts";

/** A failed result line as the real CLI prints it for an API error. */
function failed(status: number | null, result: string): CliResult {
  return { type: "result", subtype: "success", is_error: true, api_error_status: status, result };
}

const cases: [string, CliResult, number, string][] = [
  [
    "429",
    failed(
      429,
      "API Error: Request rejected (429) · Number of requests has exceeded your rate limit",
    ),
    429,
    "rate limited",
  ],
  [
    "401",
    failed(401, "Invalid API key · Fix external API key"),
    502,
    "upstream authentication failed",
  ],
  [
    "not logged in",
    failed(null, "Not logged in · Please run /login"),
    502,
    "upstream authentication failed",
  ],
  [
    "500",
    failed(
      500,
      "API Error: 500 Internal server error. This is a server-side issue, usually temporary.",
    ),
    502,
    "upstream error",
  ],
  ["529", failed(529, "API Error: 529 Overloaded."), 503, "upstream overloaded"],
  [
    "connection refused",
    failed(null, "API Error: Unable to connect to API (ConnectionRefused)"),
    502,
    "upstream unreachable",
  ],
  ["402", failed(402, "Credit balance is too low"), 402, "upstream rejected the request"],
  [
    "max turns",
    {
      type: "result",
      subtype: "error_max_turns",
      is_error: true,
      errors: ["Reached maximum number of turns (1)"],
    },
    503,
    "execution failed",
  ],
];

for (const [name, result, status, code] of cases) {
  Deno.test(`a CLI result for ${name} becomes ${status} "${code}"`, () => {
    const error = resultError(result);
    assert.equal(error.status, status);
    assert.equal(error.code, code);
    assert.ok(error.message.includes(result.result ?? String(result.errors)), error.message);
  });
}

Deno.test("auth failures tell the operator how to sign the CLI in", () => {
  for (
    const text of ["Invalid API key · Fix external API key", "Not logged in · Please run /login"]
  ) {
    const { message } = resultError(failed(null, text));
    assert.match(message, /sign the Claude Code CLI in/);
    assert.match(message, /\/login/);
    assert.match(message, /claude setup-token/);
  }
});

Deno.test("an upstream 429 carries a Retry-After header", () => {
  const headers = new Headers(
    resultError(failed(429, "API Error: Request rejected (429)")).headers,
  );
  assert.match(headers.get("retry-after") ?? "", /^[1-9]\d*$/);
});

Deno.test("a run that exits without a result is a 503 with its stderr as detail", () => {
  const error = exitError({ code: 1, signal: null, stderr: "Error: boom" });
  assert.equal(error.status, 503);
  assert.equal(error.code, "execution failed");
  assert.equal(error.toJSON().detail, "Error: boom");
});
