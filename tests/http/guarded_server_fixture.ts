/**
 * A guarded server with a small app, run as its own process by
 * `guarded_server_test.ts` (under a low `ulimit -n` for the descriptor
 * tests). Prints `{"port": N}` once listening and every warning as a JSON
 * line on stdout; exits 0 after a graceful shutdown on SIGTERM.
 *
 * Routes: `GET /ping`; `GET /stream?lines=N&ms=M` (N lines, M ms apart);
 * `POST /secret` (401 without reading the body); `POST /upload` (reads at
 * most 1 MiB, then 413; else 200 with the size). The test imports the same
 * {@linkcode app} to serve in-process.
 *
 * @module
 */
import { serveGuarded } from "../../src/http/guarded_server.ts";
import { HttpError } from "../../src/http/http_error.ts";
import { readBodyBytes } from "../../src/http/json_body.ts";

const encoder = new TextEncoder();

/** The fixture's routes (see the module documentation). */
export async function app(request: Request): Promise<Response> {
  const url = new URL(request.url);
  try {
    if (url.pathname === "/ping") return new Response("pong");
    if (url.pathname === "/stream") {
      const lines = Number(url.searchParams.get("lines") ?? 10);
      const ms = Number(url.searchParams.get("ms") ?? 10);
      let sent = 0;
      return new Response(
        new ReadableStream<Uint8Array>({
          async pull(controller) {
            if (sent === lines) return controller.close();
            if (sent > 0) await new Promise((resolve) => setTimeout(resolve, ms));
            controller.enqueue(encoder.encode(`line ${sent++}\n`));
          },
        }),
      );
    }
    if (url.pathname === "/secret") throw new HttpError(401, "unauthorized", "No key.");
    if (url.pathname === "/upload") {
      const body = await readBodyBytes(request, 1024 * 1024);
      return Response.json({ size: body.byteLength });
    }
    throw new HttpError(404, "not found", "No such route.");
  } catch (error) {
    if (error instanceof HttpError) return error.toResponse();
    throw error;
  }
}

if (import.meta.main) {
  const server = serveGuarded({
    hostname: "127.0.0.1",
    port: 0,
    headerTimeoutMs: Number(Deno.env.get("HEADER_TIMEOUT_MS") ?? 30_000),
    onListen: ({ port }) => console.log(JSON.stringify({ port })),
    onWarning: (message, fields) => console.log(JSON.stringify({ warning: message, ...fields })),
  }, app);

  Deno.addSignalListener("SIGTERM", async () => {
    await server.shutdown();
    Deno.exit(0);
  });
}
