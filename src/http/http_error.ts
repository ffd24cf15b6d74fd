/**
 * One error type for everything the bridge answers with a non-2xx status.
 *
 * Every error body keeps a short, stable `error` string (the original service's
 * contract, e.g. `"unsupported model"`) and adds a human `message` saying what
 * failed and how to fix it. Extra fields (`supported`, `detail`, …) ride along.
 *
 * @module
 */

/** Options for {@linkcode HttpError}. */
export interface HttpErrorOptions {
  /** Extra top-level fields for the JSON body, such as `supported` or `detail`. */
  fields?: Record<string, unknown>;
  /** Extra response headers, such as `Retry-After`. */
  headers?: HeadersInit;
  /** The underlying error, kept for logs. */
  cause?: unknown;
}

/** An error that maps to one HTTP status and a JSON error body. */
export class HttpError extends Error {
  /** The HTTP status to answer with. */
  readonly status: number;
  /** The short, stable error string (`body.error`). */
  readonly code: string;
  /** Extra body fields. */
  readonly fields: Record<string, unknown>;
  /** Extra response headers. */
  readonly headers: HeadersInit;

  /**
   * @param status HTTP status (4xx or 5xx).
   * @param code Short, stable error string, e.g. `"invalid request"`.
   * @param message A sentence for humans: what failed and how to fix it.
   */
  constructor(status: number, code: string, message: string, options: HttpErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.name = "HttpError";
    this.status = status;
    this.code = code;
    this.fields = options.fields ?? {};
    this.headers = options.headers ?? {};
  }

  /** The JSON body: `{error, message, type, ...fields}`. */
  toJSON(): Record<string, unknown> {
    return {
      error: this.code,
      message: this.message,
      type: errorType(this.status),
      ...this.fields,
    };
  }

  /** This error as a JSON `Response`. */
  toResponse(): Response {
    const headers = new Headers(this.headers);
    headers.set("content-type", "application/json; charset=utf-8");
    return new Response(JSON.stringify(this.toJSON()), { status: this.status, headers });
  }
}

/** OpenAI's error `type` for a status, so OpenAI clients classify errors as they expect. */
export function errorType(status: number): string {
  if (status === 401) return "authentication_error";
  if (status === 403) return "permission_error";
  if (status === 404) return "not_found_error";
  if (status === 429) return "rate_limit_error";
  if (status < 500) return "invalid_request_error";
  return "server_error";
}
