/**
 * The bridge's HTTP entry point: `Deno.serve` behind a TCP accept loop the
 * bridge owns, for what `Deno.serve` does not do by itself.
 *
 * - **Request-head timeout.** `Deno.serve` keeps a connection that never
 *   sends a complete request head open forever. Here a connection with no
 *   request in flight (new, or kept alive after its last response) must
 *   present a complete head within `headerTimeoutMs`; otherwise it gets a
 *   `408` (if it sent part of a head) and is closed.
 * - **Descriptor exhaustion.** When the process runs out of file descriptors,
 *   `Deno.serve`'s accept loop fails for good. Here accepting waits and
 *   retries (sooner when a connection closes), and an internal server whose
 *   accept loop failed is replaced; the process never exits for it.
 * - **Unread bodies.** After an error answer (4xx/5xx) to a request that has a
 *   body, the connection is closed (`Connection: close`) and the rest of the
 *   body is not read: a 401 or 413 to a 300 MB upload costs only what the
 *   socket buffers hold, plus at most {@linkcode LINGER_BYTES} discarded while
 *   the answer is delivered.
 *
 * How: every accepted connection is relayed byte for byte to an internal
 * `Deno.serve` on `127.0.0.1:0`. The internal server's `remoteAddr.port` is
 * the local port of the relay's own socket, so each request is matched to its
 * guarded connection, and `info.completed` says when its response was sent:
 * the guard knows at all times whether a connection has a request in flight,
 * without touching response bodies (the relay copies bytes in whatever chunks
 * the sockets deliver; there is no per-chunk stream stage). A request that
 * reaches the internal server over any other connection is refused with 403.
 *
 * The internal server needs net permission for `127.0.0.1`.
 *
 * @module
 */
import { HttpError } from "./http_error.ts";

/** Bytes read and thrown away, at most, while an answer that closes the connection is delivered. */
export const LINGER_BYTES = 1024 * 1024;
/** Longest a closing connection waits for the client to stop sending before it is closed. */
const LINGER_MS = 1000;
/** Size of each relay direction's read buffer. */
const BUFFER_BYTES = 16 * 1024;
/** Longest pause between accept retries while descriptors are exhausted. */
const MAX_RETRY_MS = 1000;
/** A repeated warning (a failing accept, a failed relay) is written at most this often. */
const WARN_EVERY_MS = 10_000;
const INTERNAL_HOST = "127.0.0.1";

/** Options for {@linkcode serveGuarded}. */
export interface GuardedServerOptions {
  /** Interface to listen on. */
  hostname: string;
  /** TCP port; 0 lets the OS choose. */
  port: number;
  /**
   * Milliseconds a connection with no request in flight may take to present
   * a complete request head before it is closed.
   */
  headerTimeoutMs: number;
  /** Told the address once listening. */
  onListen?: (addr: Deno.NetAddr) => void;
  /** Told about trouble the server survives (descriptor exhaustion, a replaced internal server). */
  onWarning?: (message: string, fields: Record<string, unknown>) => void;
}

/** A running guarded server. */
export interface GuardedServer extends AsyncDisposable {
  /** The public address. */
  readonly addr: Deno.NetAddr;
  /** Client connections open now. */
  readonly connections: number;
  /** Resolves once {@linkcode GuardedServer.shutdown} has finished. */
  readonly finished: Promise<void>;
  /**
   * Stops accepting, closes connections with no request in flight, lets
   * running requests finish, and resolves once every connection is closed.
   */
  shutdown(): Promise<void>;
}

/** What a request's handler is. */
export type GuardedHandler = (request: Request) => Promise<Response>;

/**
 * Serves `handler` on `options.hostname:options.port` behind the guard.
 *
 * @throws what `Deno.listen` or `Deno.serve` throw at start (a port in use, a
 * missing net permission; for the internal server the message names
 * `127.0.0.1`).
 */
export function serveGuarded(
  options: GuardedServerOptions,
  handler: GuardedHandler,
): GuardedServer {
  return new Guard(options, handler);
}

/** Writes all of `bytes` (a socket write may take only part). */
async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.byteLength) offset += await conn.write(bytes.subarray(offset));
}

/** True when a request announces a body. */
function hasBody(request: Request): boolean {
  return request.headers.has("transfer-encoding") ||
    Number(request.headers.get("content-length") ?? 0) > 0;
}

/** `response` with `Connection: close`, copied if its headers are immutable. */
function closing(response: Response): Response {
  try {
    response.headers.set("connection", "close");
    return response;
  } catch {
    const copy = new Response(response.body, response);
    copy.headers.set("connection", "close");
    return copy;
  }
}

const encoder = new TextEncoder();

/** The raw `408` written to a connection whose request head did not arrive in time. */
function requestTimeout(timeoutMs: number): Uint8Array {
  const body = JSON.stringify(
    new HttpError(
      408,
      "request timeout",
      `No complete request head arrived within ${timeoutMs} ms (HEADER_TIMEOUT_MS); send the request at once.`,
    ).toJSON(),
  );
  return encoder.encode(
    "HTTP/1.1 408 Request Timeout\r\nconnection: close\r\n" +
      "content-type: application/json; charset=utf-8\r\n" +
      `content-length: ${encoder.encode(body).byteLength}\r\n\r\n${body}`,
  );
}

/** One internal `Deno.serve`, numbered so that ports of different generations never mix. */
interface Internal {
  generation: number;
  server: Deno.HttpServer<Deno.NetAddr>;
}

class Guard implements GuardedServer {
  readonly addr: Deno.NetAddr;
  readonly finished: Promise<void>;
  #options: GuardedServerOptions;
  #handler: GuardedHandler;
  #listener: Deno.TcpListener;
  #internal: Internal | undefined;
  /** Internal servers whose accept loop failed; their open connections still run. */
  #retired: Internal[] = [];
  #restarting: Promise<Internal> | undefined;
  #generation = 0;
  #open = new Map<string, Connection>();
  #stopping = false;
  #shutdown: Promise<void> | undefined;
  #finished = Promise.withResolvers<void>();
  #warned = new Map<string, { at: number; suppressed: number }>();
  /** Resolved (and replaced) whenever a connection closes: a descriptor came free. */
  #released = Promise.withResolvers<void>();
  readonly #timeout: Uint8Array;

  constructor(options: GuardedServerOptions, handler: GuardedHandler) {
    this.#options = options;
    this.#handler = handler;
    this.#timeout = requestTimeout(options.headerTimeoutMs);
    this.#listener = Deno.listen({ hostname: options.hostname, port: options.port });
    try {
      this.#internal = this.#startInternal();
    } catch (error) {
      this.#listener.close();
      throw error;
    }
    this.addr = this.#listener.addr;
    this.finished = this.#finished.promise;
    options.onListen?.(this.addr);
    void this.#acceptLoop();
  }

  get connections(): number {
    return this.#open.size;
  }

  shutdown(): Promise<void> {
    this.#shutdown ??= (async () => {
      this.#stopping = true;
      try {
        this.#listener.close();
      } catch {
        // Already closed.
      }
      // The internal servers close idle connections at once and the others
      // once their response is written; the relays then end their clients'
      // connections after the last byte.
      const servers = [this.#internal, ...this.#retired].filter((s) => s !== undefined);
      await Promise.allSettled(servers.map(({ server }) => server.shutdown()));
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        Promise.allSettled([...this.#open.values()].map((connection) => connection.closed)),
        new Promise((resolve) => timer = setTimeout(resolve, LINGER_MS)),
      ]);
      clearTimeout(timer);
      for (const connection of this.#open.values()) connection.close();
      this.#finished.resolve();
    })();
    return this.#shutdown;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown();
  }

  #warn(message: string, fields: Record<string, unknown>): void {
    this.#options.onWarning?.(message, fields);
  }

  /** {@linkcode Guard.#warn}, at most once per {@linkcode WARN_EVERY_MS} for each message. */
  #warnSometimes(message: string, fields: Record<string, unknown>): void {
    const now = performance.now();
    const last = this.#warned.get(message);
    if (last && now - last.at < WARN_EVERY_MS) {
      last.suppressed++;
      return;
    }
    this.#warned.set(message, { at: now, suppressed: 0 });
    this.#warn(message, last?.suppressed ? { ...fields, suppressed: last.suppressed } : fields);
  }

  /** Starts an internal server. @throws as `Deno.serve` does (a net permission names 127.0.0.1). */
  #startInternal(): Internal {
    const generation = ++this.#generation;
    let server: Deno.HttpServer<Deno.NetAddr>;
    try {
      server = Deno.serve({
        hostname: INTERNAL_HOST,
        port: 0,
        onListen() {},
        onError: (error) => {
          this.#warn("unexpected error", { error });
          return new HttpError(
            500,
            "internal error",
            "The bridge failed unexpectedly; see its log.",
          )
            .toResponse();
        },
      }, (request, info) => this.#dispatch(generation, request, info));
    } catch (error) {
      if (error instanceof Deno.errors.NotCapable) {
        throw new Deno.errors.NotCapable(
          `${error.message}. The bridge serves through an internal HTTP server on ${INTERNAL_HOST}: ` +
            `grant --allow-net=${INTERNAL_HOST} too`,
        );
      }
      throw error;
    }
    const internal = { generation, server };
    server.finished.catch((error) => {
      if (this.#stopping || this.#internal !== internal) return;
      this.#warn("internal HTTP server stopped accepting; starting a new one", {
        error: error instanceof Error ? error.message : String(error),
      });
      this.#retired.push(internal);
      this.#internal = undefined;
    });
    return internal;
  }

  /** The internal server, started anew (retrying while descriptors are short) if it failed. */
  #currentInternal(): Internal | Promise<Internal> {
    if (this.#internal) return this.#internal;
    this.#restarting ??= (async () => {
      for (let attempt = 0;; attempt++) {
        try {
          this.#internal = this.#startInternal();
          this.#restarting = undefined;
          return this.#internal;
        } catch {
          await this.#pause(attempt);
        }
      }
    })();
    return this.#restarting;
  }

  /** Waits for a descriptor to come free, or a backoff after `attempt` failures, whichever is first. */
  async #pause(attempt: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      this.#released.promise,
      new Promise((resolve) =>
        timer = setTimeout(resolve, Math.min(MAX_RETRY_MS, 5 * 2 ** attempt))
      ),
    ]);
    clearTimeout(timer);
  }

  async #acceptLoop(): Promise<void> {
    let failures = 0;
    while (!this.#stopping) {
      let outer: Deno.TcpConn;
      try {
        outer = await this.#listener.accept();
      } catch (error) {
        if (this.#stopping) break;
        if (failures === 0) {
          this.#warnSometimes("accepting connections failed; retrying as connections close", {
            error: error instanceof Error ? error.message : String(error),
            connections: this.#open.size,
          });
        }
        await this.#pause(failures++);
        continue;
      }
      if (failures > 0) {
        this.#warn("accepting connections again", { failed_attempts: failures });
        failures = 0;
      }
      // While the internal server is being replaced, accepting waits (a
      // connection accepted now could not be relayed, and would hold a descriptor).
      const internal = this.#internal ?? await this.#currentInternal();
      void this.#relay(outer, internal);
    }
  }

  /** Connects `outer` to the internal server and starts relaying. */
  async #relay(outer: Deno.TcpConn, internal: Internal): Promise<void> {
    let inner: Deno.TcpConn;
    try {
      inner = await Deno.connect({ hostname: INTERNAL_HOST, port: internal.server.addr.port });
      outer.setNoDelay(true);
      inner.setNoDelay(true);
    } catch (error) {
      // Most likely out of descriptors: this client is closed, the next one may fare better.
      try {
        outer.close();
      } catch {
        // Already closed.
      }
      this.#warnSometimes("relaying a connection failed; it was closed", {
        error: error instanceof Error ? error.message : String(error),
      });
      return;
    }
    const key = `${internal.generation}:${inner.localAddr.port}`;
    const connection = new Connection(
      outer,
      inner,
      this.#options.headerTimeoutMs,
      this.#timeout,
    );
    this.#open.set(key, connection);
    void connection.closed.then(() => {
      if (this.#open.get(key) === connection) this.#open.delete(key);
      this.#released.resolve();
      this.#released = Promise.withResolvers();
    });
    if (this.#stopping) connection.close();
  }

  /** Hands a request from the internal server to the handler, via its guarded connection. */
  #dispatch(generation: number, request: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>) {
    const connection = this.#open.get(`${generation}:${info.remoteAddr.port}`);
    if (!connection) {
      return new HttpError(403, "forbidden", "Connect to the bridge's public address.")
        .toResponse();
    }
    return connection.serve(request, info.completed, this.#handler);
  }
}

/** One client connection and its relay to the internal server. */
class Connection {
  /** Resolves once both sockets are closed. */
  readonly closed: Promise<void>;
  #outer: Deno.TcpConn;
  #inner: Deno.TcpConn;
  #timeoutMs: number;
  #timeoutReply: Uint8Array;
  #inFlight = 0;
  /** Bytes arrived while no request was in flight: part of a head. */
  #partialHead = false;
  /** The client's further bytes are read only to be thrown away. */
  #discarding = false;
  #upDone = false;
  #downDone = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #lingerTimer: ReturnType<typeof setTimeout> | undefined;
  #closed = Promise.withResolvers<void>();
  #isClosed = false;

  constructor(
    outer: Deno.TcpConn,
    inner: Deno.TcpConn,
    timeoutMs: number,
    timeoutReply: Uint8Array,
  ) {
    this.#outer = outer;
    this.#inner = inner;
    this.#timeoutMs = timeoutMs;
    this.#timeoutReply = timeoutReply;
    this.closed = this.#closed.promise;
    this.#arm();
    void this.#pumpUp();
    void this.#pumpDown();
  }

  /** Runs `handler` for a request that arrived on this connection. */
  async serve(
    request: Request,
    completed: Promise<void>,
    handler: GuardedHandler,
  ): Promise<Response> {
    this.#inFlight++;
    this.#partialHead = false;
    clearTimeout(this.#timer);
    completed.then(() => this.#done(), () => this.#done());
    const response = await handler(request);
    if (response.status >= 400 && hasBody(request)) {
      this.#discarding = true;
      return closing(response);
    }
    return response;
  }

  /** Closes both sockets (idempotent). */
  close(): void {
    if (this.#isClosed) return;
    this.#isClosed = true;
    clearTimeout(this.#timer);
    clearTimeout(this.#lingerTimer);
    for (const conn of [this.#outer, this.#inner]) {
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    }
    this.#closed.resolve();
  }

  /**
   * A response was written to the internal connection (its last bytes may
   * still be on their way through the relay: never close here).
   */
  #done(): void {
    if (--this.#inFlight > 0 || this.#isClosed) return;
    this.#arm();
    // After an answer that closes the connection the internal server may wait
    // for the unread body; end its input so that it closes (and the relay
    // delivers the rest of the answer, then closes the client's connection).
    if (this.#discarding) this.#inner.closeWrite().catch(() => {});
  }

  /** (Re)starts the request-head deadline. */
  #arm(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#expire(), this.#timeoutMs);
  }

  async #expire(): Promise<void> {
    if (this.#inFlight > 0 || this.#isClosed) return;
    if (!this.#partialHead) return this.close();
    // The client began a request: tell it why it is cut off, then close.
    this.#discarding = true;
    try {
      await writeAll(this.#outer, this.#timeoutReply);
    } catch {
      return this.close();
    }
    this.#finishDown();
  }

  /** Client → internal server. */
  async #pumpUp(): Promise<void> {
    const buffer = new Uint8Array(BUFFER_BYTES);
    let discarded = 0;
    for (;;) {
      let n: number | null;
      try {
        n = await this.#outer.read(buffer);
      } catch {
        return this.close(); // the client reset the connection
      }
      if (n === null) break;
      if (this.#discarding) {
        discarded += n;
        if (discarded > LINGER_BYTES) return; // stop reading; the linger timer closes
        continue;
      }
      if (this.#inFlight === 0) this.#partialHead = true;
      try {
        await writeAll(this.#inner, buffer.subarray(0, n));
      } catch {
        // The internal server closed its side (after an answer, or refusing a
        // malformed head): what it wrote still reaches the client, the rest
        // of the client's bytes does not reach it.
        this.#discarding = true;
      }
    }
    // The client sent its last byte.
    this.#upDone = true;
    if (this.#downDone) return this.close();
    try {
      await this.#inner.closeWrite();
    } catch {
      // The internal server is gone; the down pump ends the connection.
    }
  }

  /** Internal server → client. */
  async #pumpDown(): Promise<void> {
    const buffer = new Uint8Array(BUFFER_BYTES);
    try {
      for (;;) {
        const n = await this.#inner.read(buffer);
        if (n === null) break;
        // Most writes take everything at once; only a partial one needs the loop.
        const written = await this.#outer.write(buffer.subarray(0, n));
        if (written < n) await writeAll(this.#outer, buffer.subarray(written, n));
      }
    } catch {
      if (this.#isClosed) return;
      // The client is gone, or the internal connection broke.
      return this.close();
    }
    this.#finishDown();
  }

  /**
   * The last response byte went out: end the client's side, give it a moment
   * to stop sending (reading at most LINGER_BYTES of it), then close.
   */
  #finishDown(): void {
    if (this.#isClosed) return;
    this.#downDone = true;
    this.#discarding = true;
    clearTimeout(this.#timer);
    if (this.#upDone) return this.close();
    this.#outer.closeWrite().catch(() => this.close());
    this.#lingerTimer = setTimeout(() => this.close(), LINGER_MS);
  }
}
