/**
 * Reads a request body as JSON, safely: a size cap enforced while reading
 * (413 without reading the rest), strict UTF-8, a JSON content type, and a
 * clear 400 for anything that is not a JSON object, for an object that
 * repeats a key (which parsers resolve differently, so it is refused rather
 * than guessed at), and for nesting deeper than {@linkcode MAX_DEPTH}.
 *
 * @module
 */
import { concatBytes } from "./bytes.ts";
import { HttpError } from "./http_error.ts";

const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/** Deepest nesting of objects and arrays accepted in a body. */
export const MAX_DEPTH = 64;

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
  return concatBytes(chunks, size);
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
  checkStructure(text);
  return value as Record<string, unknown>;
}

/**
 * Checks what `JSON.parse` lets through: an object that repeats a key, and
 * nesting deeper than {@linkcode MAX_DEPTH}. `text` must be valid JSON.
 *
 * @throws {HttpError} 400 naming the problem.
 */
export function checkStructure(text: string): void {
  /** Open containers: the keys seen so far for an object, `null` for an array. */
  const open: (Set<string> | null)[] = [];
  let keyNext = false;
  for (let i = 0; i < text.length; i++) {
    switch (text.charCodeAt(i)) {
      case 0x22: { // '"'
        const end = stringEnd(text, i);
        const keys = open.at(-1);
        if (keyNext && keys) {
          const raw = text.slice(i, end + 1);
          const key: string = raw.includes("\\") ? JSON.parse(raw) : raw.slice(1, -1);
          if (keys.has(key)) {
            throw new HttpError(
              400,
              "invalid json",
              `The request body repeats the key "${
                key.slice(0, 100)
              }" in one object; send each key once.`,
            );
          }
          keys.add(key);
          keyNext = false;
        }
        i = end;
        break;
      }
      case 0x7b: // "{"
      case 0x5b: // "["
        if (open.length === MAX_DEPTH) {
          throw new HttpError(
            400,
            "invalid json",
            `The request body nests objects and arrays deeper than ${MAX_DEPTH} levels; flatten it.`,
          );
        }
        keyNext = text.charCodeAt(i) === 0x7b;
        open.push(keyNext ? new Set() : null);
        break;
      case 0x7d: // "}"
      case 0x5d: // "]"
        open.pop();
        break;
      case 0x2c: // ","
        keyNext = open.at(-1) instanceof Set;
        break;
    }
  }
}

/** Index of the quote that closes the JSON string opening at `start`. */
function stringEnd(text: string, start: number): number {
  let quote = text.indexOf('"', start + 1);
  for (;;) {
    if (quote < 0) return text.length;
    let backslashes = 0;
    while (text.charCodeAt(quote - 1 - backslashes) === 0x5c) backslashes++;
    if (backslashes % 2 === 0) return quote;
    quote = text.indexOf('"', quote + 1);
  }
}
