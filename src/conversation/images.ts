/**
 * Images from clients: inline `data:` URLs become {@linkcode ImageBlock}s;
 * anything else is a clear 400 (the bridge does not fetch remote images).
 *
 * @module
 */
import { HttpError } from "../http/http_error.ts";
import type { ImageBlock } from "./model.ts";

/** Media types Claude accepts for images. */
export const IMAGE_MEDIA_TYPES = ["image/png", "image/jpeg", "image/gif", "image/webp"];

/**
 * Parses a `data:` image URL into an image block.
 *
 * @throws {HttpError} 400 for remote URLs, malformed data URLs and unsupported types.
 */
export function dataUrlImage(url: string, param?: string): ImageBlock {
  const fields = param === undefined ? {} : { fields: { param } };
  const match = /^data:([\w.+/-]+);base64,([A-Za-z0-9+/=\s]+)$/s.exec(url);
  if (!match) {
    const remote = /^https?:/i.test(url);
    throw new HttpError(
      400,
      "unsupported image",
      remote
        ? "Remote image URLs are not supported: send the image inline as a data URL (data:image/png;base64,…)."
        : "An image URL must be a base64 data URL such as data:image/png;base64,….",
      fields,
    );
  }
  const mediaType = match[1]!.toLowerCase();
  if (!IMAGE_MEDIA_TYPES.includes(mediaType)) {
    throw new HttpError(
      400,
      "unsupported image",
      `Image type ${mediaType} is not supported; use one of ${IMAGE_MEDIA_TYPES.join(", ")}.`,
      fields,
    );
  }
  return { type: "image", mediaType, data: match[2]!.replace(/\s/g, "") };
}
