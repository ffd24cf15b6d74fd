/**
 * dataUrlImage: inline base64 data URLs of the image types Claude accepts
 * become image blocks; remote URLs, malformed data URLs and other types are
 * 400s that say what to send instead.
 */
import assert from "node:assert/strict";
import { HttpError } from "../../src/http/http_error.ts";
import { dataUrlImage, IMAGE_MEDIA_TYPES } from "../../src/conversation/images.ts";

function refused(url: string, message: RegExp): void {
  assert.throws(() => dataUrlImage(url), (error: unknown) => {
    assert.ok(error instanceof HttpError);
    assert.equal(error.status, 400);
    assert.equal(error.code, "unsupported image");
    assert.match(error.message, message);
    return true;
  });
}

Deno.test("a base64 data URL becomes an image block", () => {
  assert.deepEqual(dataUrlImage("data:image/png;base64,iVBORw0KGgo="), {
    type: "image",
    mediaType: "image/png",
    data: "iVBORw0KGgo=",
  });
});

Deno.test("every accepted media type passes, its name lower-cased", () => {
  for (const type of IMAGE_MEDIA_TYPES) {
    assert.equal(dataUrlImage(`data:${type};base64,AAAA`).mediaType, type);
  }
  assert.equal(dataUrlImage("data:IMAGE/JPEG;base64,AAAA").mediaType, "image/jpeg");
});

Deno.test("whitespace inside the base64 data is removed", () => {
  assert.equal(dataUrlImage("data:image/gif;base64,AA\nAA AA\r\n==").data, "AAAAAA==");
});

Deno.test("400: a remote URL, telling the client to send the image inline", () => {
  refused("https://example.com/cat.png", /Remote image URLs are not supported.*data URL/);
  refused("HTTP://example.com/cat.png", /Remote image URLs/);
});

Deno.test("400: a data URL that is not base64, or not a data URL at all", () => {
  refused("data:image/png,rawbytes", /must be a base64 data URL/);
  refused("data:image/png;base64,not base64!", /must be a base64 data URL/);
  refused("ftp://example.com/cat.png", /must be a base64 data URL/);
  refused("", /must be a base64 data URL/);
});

Deno.test("400: an unsupported image type names the accepted ones", () => {
  refused(
    "data:image/svg+xml;base64,AAAA",
    /image\/svg\+xml is not supported; use one of image\/png/,
  );
  refused("data:application/pdf;base64,AAAA", /application\/pdf is not supported/);
});
