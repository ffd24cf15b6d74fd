/**
 * Reads a request body as JSON, safely: a size cap enforced while reading
 * (413 without reading the rest), strict UTF-8, a JSON content type, and a
 * clear 400 for anything that is not a JSON object.
 *
 * @module
 */
import { HttpError } from "./http_error.ts";

const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

function tooLarge(maxBytes: number): HttpError {
  return new HttpError(
    413,
    "request too large",
    `The request body is larger than ${maxBytes} bytes (MAX_BODY_BYTES); shorten the conversation or raise the limit.`,
  );
}

/** Reads at most `maxBytes` of the body, failing with 413 as soon as it is larger. */
export async function readBodyBytes(request: Request, maxBytes: number): Promise<Uint8Array> {
  const declared = Number(request.headers.get("content-length") ?? NaN);
  if (declared > maxBytes) throw tooLarge(maxBytes);
  if (!request.body) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = request.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) throw tooLarge(maxBytes);
      chunks.push(value);
    }
  } catch (error) {
    await reader.cancel().catch(() => {});
    if (error instanceof HttpError) throw error;
    throw new HttpError(400, "invalid request", "The request body could not be read completely.", {
      cause: error,
    });
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

/**
 * Reads and parses a JSON object body.
 *
 * @throws {HttpError} 413 over `maxBytes`, 415 for a non-JSON content type,
 * 400 for invalid UTF-8, malformed JSON or a value that is not an object.
 */
export async function readJsonObject(
  request: Request,
  maxBytes: number,
): Promise<Record<string, unknown>> {
  const type = request.headers.get("content-type");
  if (type !== null && !/^\s*application\/([\w.+-]*\+)?json\s*(;|$)/i.test(type)) {
    throw new HttpError(
      415,
      "unsupported media type",
      `Content-Type "${type.slice(0, 100)}" is not JSON; send the body as application/json.`,
    );
  }
  const bytes = await readBodyBytes(request, maxBytes);
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    throw new HttpError(
      400,
      "invalid json",
      "The request body is not valid UTF-8; send UTF-8 JSON.",
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const detail = error instanceof SyntaxError ? error.message : "too deeply nested";
    throw new HttpError(400, "invalid json", `The request body is not valid JSON: ${detail}.`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new HttpError(400, "invalid request", "The request body must be a JSON object.");
  }
  return value as Record<string, unknown>;
}
