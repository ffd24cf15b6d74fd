/**
 * The guarded server: requests, keep-alive and streams pass through; a
 * connection that presents no complete request head in time is closed (408
 * when it began one); after an error answer the rest of a big upload is not
 * read; descriptor exhaustion (a low `ulimit -n` in a subprocess) neither
 * ends the process nor stops it serving once connections close; shutdown
 * lets running responses finish.
 */
import assert from "node:assert/strict";
import { type GuardedServer, LINGER_BYTES, serveGuarded } from "../../src/http/guarded_server.ts";
import { waitFor } from "../support/processes.ts";
import { app } from "./guarded_server_fixture.ts";

const FIXTURE = new URL("./guarded_server_fixture.ts", import.meta.url).pathname;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function start(headerTimeoutMs: number): GuardedServer {
  return serveGuarded({ hostname: "127.0.0.1", port: 0, headerTimeoutMs }, app);
}

const connect = (server: GuardedServer) =>
  Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });

/** Everything `conn` receives until the server closes it, and when that was. */
async function readToClose(conn: Deno.Conn): Promise<{ text: string; closedAt: number }> {
  const buffer = new Uint8Array(16 * 1024);
  let text = "";
  for (;;) {
    let n: number | null;
    try {
      n = await conn.read(buffer);
    } catch {
      n = null; // reset counts as closed
    }
    if (n === null) return { text, closedAt: performance.now() };
    text += decoder.decode(buffer.subarray(0, n));
  }
}

Deno.test("guarded server: requests, keep-alive and a stream longer than the head timeout pass through", async () => {
  await using server = start(300);
  const url = `http://127.0.0.1:${server.addr.port}`;
  for (let i = 0; i < 3; i++) assert.equal(await (await fetch(`${url}/ping`)).text(), "pong");
  const started = performance.now();
  const body = await (await fetch(`${url}/stream?lines=8&ms=100`)).text();
  assert.ok(performance.now() - started > 600, "the stream ran past the head timeout");
  assert.equal(body, Array.from({ length: 8 }, (_, i) => `line ${i}\n`).join(""));
  const bad = await fetch(`${url}/nothing`);
  assert.equal(bad.status, 404);
  assert.equal((await bad.json()).error, "not found");
});

Deno.test("guarded server: a silent connection is closed after the head timeout", async () => {
  await using server = start(300);
  const opened = performance.now();
  using conn = await connect(server);
  const { text, closedAt } = await readToClose(conn);
  assert.equal(text, "", "closed without an answer");
  const waited = closedAt - opened;
  assert.ok(waited >= 280 && waited < 2000, `closed after ${waited} ms`);
});

Deno.test("guarded server: a head trickled byte by byte gets 408 at the deadline, not later", async () => {
  await using server = start(300);
  const opened = performance.now();
  using conn = await connect(server);
  const reading = readToClose(conn);
  const head = "GET /ping HTTP/1.1\r\nHost: x\r\nX-Slow: ";
  let closed = false;
  void reading.then(() => closed = true);
  for (let i = 0; !closed && i < 200; i++) {
    await conn.write(encoder.encode(head[i] ?? "a")).catch(() => {});
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const { text, closedAt } = await reading;
  assert.match(text, /^HTTP\/1\.1 408 Request Timeout\r\n/);
  assert.match(text, /connection: close/i);
  assert.equal(JSON.parse(text.slice(text.indexOf("\r\n\r\n") + 4)).error, "request timeout");
  const waited = closedAt - opened;
  assert.ok(waited >= 280 && waited < 2000, `closed after ${waited} ms`);
});

Deno.test("guarded server: a kept-alive connection idle after its answer gets the same deadline", async () => {
  await using server = start(300);
  using conn = await connect(server);
  const reading = readToClose(conn);
  await conn.write(encoder.encode("GET /ping HTTP/1.1\r\nHost: x\r\n\r\n"));
  const sent = performance.now();
  const { text, closedAt } = await reading;
  assert.match(text, /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\npong$/);
  const waited = closedAt - sent;
  assert.ok(waited >= 280 && waited < 2000, `closed ${waited} ms after the request`);
});

/**
 * Streams up to 300 MB to `path` with fetch and reports the status and how
 * many bytes the upload could hand over before the connection was closed.
 */
async function bigUpload(url: string): Promise<{ status: number; sentMiB: number }> {
  const chunk = new Uint8Array(64 * 1024).fill(0x61);
  const total = 300 * 1024 * 1024;
  let sent = 0;
  const ended = Promise.withResolvers<void>();
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= total) {
        ended.resolve();
        return controller.close();
      }
      sent += chunk.byteLength;
      controller.enqueue(chunk.slice());
    },
    cancel() {
      ended.resolve();
    },
  });
  const response = await fetch(url, {
    method: "POST",
    body,
    headers: { "content-type": "application/json" },
  });
  await response.body?.cancel();
  // The upload ends when the server closes the connection (or, unguarded, when all was read).
  await Promise.race([
    ended.promise,
    new Promise((_, reject) => setTimeout(() => reject(new Error("upload still running")), 10_000)),
  ]);
  return { status: response.status, sentMiB: sent / (1024 * 1024) };
}

Deno.test("guarded server: after a 401 or a 413 the rest of a 300 MB streamed upload is not read", async () => {
  await using server = start(5000);
  const url = `http://127.0.0.1:${server.addr.port}`;
  for (const [path, status] of [["/secret", 401], ["/upload", 413]] as const) {
    const { status: answered, sentMiB } = await bigUpload(url + path);
    assert.equal(answered, status);
    // What the app read (≤ 1 MiB), the socket buffers, and at most LINGER_BYTES thrown away.
    assert.ok(sentMiB < 32, `${path}: the client could send ${sentMiB} MiB`);
  }
  assert.ok(LINGER_BYTES <= 4 * 1024 * 1024);
  assert.equal(await (await fetch(`${url}/ping`)).text(), "pong", "the server still serves");
});

Deno.test("guarded server: shutdown refuses new connections, closes idle ones and lets a running stream finish", async () => {
  const server = start(30_000);
  const url = `http://127.0.0.1:${server.addr.port}`;
  const idle = await connect(server);
  const idleClosed = readToClose(idle);
  const stream = await fetch(`${url}/stream?lines=6&ms=100`);
  const body = stream.text();
  const stopped = server.shutdown();
  await assert.rejects(connect(server), "no new connections");
  assert.equal((await idleClosed).text, "");
  idle.close();
  assert.equal(await body, Array.from({ length: 6 }, (_, i) => `line ${i}\n`).join(""));
  await stopped;
  await server.finished;
  assert.equal(server.connections, 0);
});

/** The fixture under `ulimit -n <limit>`, its stdout lines collected and its stderr kept for failures. */
class LimitedServer implements AsyncDisposable {
  readonly child: Deno.ChildProcess;
  readonly lines: string[] = [];
  readonly port: Promise<number>;
  readonly stderr: Promise<string>;
  #waiters: { pattern: RegExp; resolve: () => void }[] = [];
  #reading: Promise<void>;

  constructor(limit: number, env: Record<string, string>) {
    const child = new Deno.Command("bash", {
      args: ["-c", `ulimit -n ${limit} && exec "$0" run -A "$1"`, Deno.execPath(), FIXTURE],
      env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.child = child;
    const stderr = new Response(child.stderr).text();
    this.stderr = stderr;
    const port = Promise.withResolvers<number>();
    this.port = port.promise;
    this.#reading = (async () => {
      let buffer = "";
      for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
        const lines = (buffer + chunk).split("\n");
        buffer = lines.pop()!;
        for (const line of lines) {
          this.lines.push(line);
          if (line.startsWith('{"port"')) port.resolve(JSON.parse(line).port);
          for (const waiter of this.#waiters.filter((w) => w.pattern.test(line))) waiter.resolve();
        }
      }
      port.reject(new Error(`the fixture ended:\n${this.lines.join("\n")}\n${await stderr}`));
    })();
  }

  /** Resolves when a stdout line matches `pattern`; fails after `ms`. */
  async line(pattern: RegExp, ms: number): Promise<void> {
    if (this.lines.some((line) => pattern.test(line))) return;
    const seen = Promise.withResolvers<void>();
    this.#waiters.push({ pattern, resolve: seen.resolve });
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        seen.promise,
        new Promise((_, reject) =>
          timer = setTimeout(
            () => reject(new Error(`no line matched ${pattern}:\n${this.lines.join("\n")}`)),
            ms,
          )
        ),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.child.kill("SIGKILL");
    } catch {
      // Already exited.
    }
    await this.child.status;
    await this.#reading.catch(() => {});
    await this.stderr;
  }
}

Deno.test("guarded server: descriptor exhaustion does not end the process, and it serves again once connections close", async () => {
  await using fixture = new LimitedServer(64, { HEADER_TIMEOUT_MS: "60000" });
  const port = await fixture.port;
  const url = `http://127.0.0.1:${port}`;
  const stream = await fetch(`${url}/stream?lines=20&ms=50`);
  const body = stream.text();
  const idle: Deno.Conn[] = [];
  try {
    for (let i = 0; i < 150; i++) idle.push(await Deno.connect({ hostname: "127.0.0.1", port }));
    await fixture.line(/too many open files/i, 10_000);
    assert.equal(
      await body,
      Array.from({ length: 20 }, (_, i) => `line ${i}\n`).join(""),
      "a stream that was running finishes",
    );
  } finally {
    for (const conn of idle) conn.close();
  }
  await waitFor(
    async () => {
      try {
        const response = await fetch(`${url}/ping`, { signal: AbortSignal.timeout(1000) });
        return await response.text() === "pong";
      } catch {
        return false;
      }
    },
    10_000,
    "the fixture did not serve again after the connections closed",
  );
  fixture.child.kill("SIGTERM");
  assert.equal((await fixture.child.status).code, 0, "still running until told to stop");
});
