import assert from "node:assert/strict";
import { HttpError } from "../../src/http/http_error.ts";
import { route, routeOf, router } from "../../src/http/router.ts";

const handle = router([
  route("GET", "/items/:id", (_request, params) => Response.json({ id: params.id })),
  route("POST", "/items/:id", () => new Response("created", { status: 201 })),
]);

async function errorOf(request: Request): Promise<HttpError> {
  try {
    await handle(request);
  } catch (error) {
    if (error instanceof HttpError) return error;
    throw error;
  }
  throw new Error("expected an HttpError");
}

Deno.test("dispatches by path and method with path parameters", async () => {
  assert.deepEqual(await (await handle(new Request("http://x/items/42"))).json(), { id: "42" });
  assert.equal((await handle(new Request("http://x/items/42", { method: "POST" }))).status, 201);
});

Deno.test("HEAD is served by the GET route", async () => {
  assert.equal((await handle(new Request("http://x/items/1", { method: "HEAD" }))).status, 200);
});

Deno.test("an unknown path is 404 naming the path", async () => {
  const error = await errorOf(new Request("http://x/nothing"));
  assert.equal(error.status, 404);
  assert.match(error.message, /\/nothing/);
});

Deno.test("a known path with the wrong method is 405 with Allow", async () => {
  const error = await errorOf(new Request("http://x/items/1", { method: "DELETE" }));
  assert.equal(error.status, 405);
  assert.equal(new Headers(error.headers).get("allow"), "GET, POST");
  const body = await error.toResponse().json();
  assert.equal(body.error, "method not allowed");
});

Deno.test("routeOf names the matched pattern (also on a 405), nothing for an unknown path", async () => {
  const ok = new Request("http://x/items/42");
  await handle(ok);
  assert.equal(routeOf(ok), "/items/:id");
  const wrongMethod = new Request("http://x/items/7", { method: "DELETE" });
  await errorOf(wrongMethod);
  assert.equal(routeOf(wrongMethod), "/items/:id");
  const unknown = new Request("http://x/else/1");
  await errorOf(unknown);
  assert.equal(routeOf(unknown), undefined);
});

Deno.test("a path with malformed percent-encoding is 400, before any handler runs", async () => {
  for (const path of ["/items/%ZZ", "/items/%", "/items/%C3%28"]) {
    const error = await errorOf(new Request(`http://x${path}`));
    assert.equal(error.status, 400, path);
    assert.equal(error.code, "invalid path");
  }
  assert.deepEqual(await (await handle(new Request("http://x/items/a%20b"))).json(), {
    id: "a%20b",
  });
});
