/**
 * Validating a parsed JSON body with a zod schema: the first few problems as
 * `path: problem` lines a client can act on, in one 400.
 *
 * @module
 */
import type { z } from "zod";
import { HttpError } from "./http_error.ts";

/** Renders zod issues as `path: problem` lines a client can act on. */
export function describeIssues(error: z.ZodError): string {
  return error.issues.slice(0, 5).map((issue) =>
    `${issuePath(issue.path) || "body"}: ${issue.message}`
  )
    .join("; ");
}

/** A zod issue path as `a.b[2].c`. */
export function issuePath(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (text, key) =>
      typeof key === "number" ? `${text}[${key}]` : text ? `${text}.${String(key)}` : String(key),
    "",
  );
}

/**
 * Validates a parsed body against `schema`.
 *
 * @throws {HttpError} 400 `invalid request` naming each wrong field (the
 * fields are also kept in `fields.param` for logs).
 */
export function parseBody<T extends z.ZodType>(schema: T, body: unknown): z.output<T> {
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    throw new HttpError(
      400,
      "invalid request",
      `Invalid request body: ${describeIssues(parsed.error)}.`,
      { fields: { param: issuePath(parsed.error.issues[0]?.path ?? []) || null } },
    );
  }
  return parsed.data;
}
