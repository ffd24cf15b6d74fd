/**
 * Bearer-key authentication, compared in constant time.
 *
 * Keys are hashed with SHA-256 first, so the comparison time depends neither
 * on where the keys differ nor on their lengths.
 *
 * @module
 */
import { HttpError } from "./http_error.ts";

const encoder = new TextEncoder();

async function sha256(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(text)));
}

/** Compares two equal-length byte arrays without an early exit. */
export function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/** Checks `Authorization: Bearer <key>` headers against a fixed set of keys. */
export class BearerAuth {
  #digests: Promise<Uint8Array[]>;

  /** @param keys the accepted keys; must not be empty. */
  constructor(keys: readonly string[]) {
    if (keys.length === 0) throw new RangeError("BearerAuth needs at least one key");
    this.#digests = Promise.all(keys.map(sha256));
  }

  /**
   * Resolves when the request carries an accepted key.
   *
   * @throws {HttpError} 401 when the header is missing, malformed or the key is wrong.
   */
  async verify(request: Request): Promise<void> {
    const header = request.headers.get("authorization") ?? "";
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
    if (!match) {
      throw new HttpError(
        401,
        "unauthorized",
        "Missing bearer key: send the header 'Authorization: Bearer <key>' with one of the server's API_KEYS.",
      );
    }
    const given = await sha256(match[1]!);
    let ok = false;
    for (const digest of await this.#digests) ok = timingSafeEqual(given, digest) || ok;
    if (!ok) {
      throw new HttpError(
        401,
        "unauthorized",
        "Invalid bearer key: use one of the keys in the server's API_KEYS.",
      );
    }
  }
}
