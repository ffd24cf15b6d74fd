import assert from "node:assert/strict";
import { BearerAuth, timingSafeEqual } from "../../src/http/auth.ts";
import { HttpError } from "../../src/http/http_error.ts";

const request = (authorization?: string) =>
  new Request(
    "http://localhost/",
    authorization === undefined ? {} : { headers: { authorization } },
  );

async function status(auth: BearerAuth, header?: string): Promise<number> {
  try {
    await auth.verify(request(header));
    return 200;
  } catch (error) {
    assert.ok(error instanceof HttpError);
    return error.status;
  }
}

Deno.test("accepts any configured key, case-insensitive scheme", async () => {
  const auth = new BearerAuth(["k1", "k2"]);
  assert.equal(await status(auth, "Bearer k1"), 200);
  assert.equal(await status(auth, "bearer k2"), 200);
});

Deno.test("rejects a missing, malformed or wrong key with 401", async () => {
  const auth = new BearerAuth(["k1"]);
  for (
    const header of [
      undefined,
      "",
      "k1",
      "Basic k1",
      "Bearer",
      "Bearer k1 extra",
      "Bearer k",
      "Bearer k1k",
    ]
  ) {
    assert.equal(await status(auth, header), 401, String(header));
  }
});

Deno.test("the 401 message says how to authenticate", async () => {
  const auth = new BearerAuth(["k1"]);
  await assert.rejects(auth.verify(request()), /Authorization: Bearer/);
  await assert.rejects(auth.verify(request("Bearer nope")), /API_KEYS/);
});

Deno.test("refuses to be built without keys", () => {
  assert.throws(() => new BearerAuth([]), RangeError);
});

Deno.test("timingSafeEqual compares whole arrays", () => {
  assert.ok(timingSafeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2])));
  assert.ok(!timingSafeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 3])));
  assert.ok(!timingSafeEqual(new Uint8Array([1]), new Uint8Array([1, 2])));
});
