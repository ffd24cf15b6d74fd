/**
 * Graceful shutdown on SIGINT/SIGTERM: stop accepting connections, let
 * running requests finish for up to a grace period, then stop every CLI
 * process and exit 0 with nothing left running.
 *
 * One Ctrl-C often arrives as several signals: the terminal sends SIGINT to
 * the whole process group, and a task runner (`deno task start`) forwards
 * its own copy a few milliseconds later; a supervisor may signal both the
 * group and the process. So signals within {@linkcode ShutdownOptions.repeatAfterMs}
 * of the first count as the same request. Only a signal that comes later
 * (a deliberate second Ctrl-C) skips the rest of the grace period.
 *
 * @module
 */

/** What shuts down: the app's CLI side (see `App.close`). */
export interface Closable {
  /** Refuses new runs, waits up to `graceMs` for running ones, then stops the rest. */
  close(graceMs: number): Promise<void>;
}

/** What stops serving HTTP: the guarded server (or `Deno.HttpServer`). */
export interface Server {
  /** Stops accepting and resolves once running responses are written. */
  shutdown(): Promise<void>;
}

/** Options for {@linkcode shutdownOnSignals}. */
export interface ShutdownOptions {
  /** How long running requests may finish (`SHUTDOWN_GRACE_MS`). */
  graceMs: number;
  /** How long to wait for responses still being written once every CLI has stopped. Default 2000. */
  flushMs?: number;
  /**
   * Signals this soon (ms) after the first are the same request to stop, not
   * a second one. Default 1000.
   */
  repeatAfterMs?: number;
  /** Where progress is reported. */
  log?: (message: string, fields?: Record<string, unknown>) => void;
}

const SIGNALS: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];

/**
 * Installs the SIGINT/SIGTERM handlers for `server` and `app`. On the first
 * signal the server stops accepting, `app` is closed with the grace period,
 * the remaining responses get `flushMs` to finish, and the process exits 0.
 */
export function shutdownOnSignals(server: Server, app: Closable, options: ShutdownOptions): void {
  const log = options.log ?? ((message) => console.log(message));
  const repeatAfterMs = options.repeatAfterMs ?? 1000;
  let firstAt: number | undefined;
  const onSignal = (signal: Deno.Signal) => {
    if (firstAt !== undefined) {
      const sinceFirstMs = Math.round(performance.now() - firstAt);
      if (sinceFirstMs < repeatAfterMs) {
        log("signal repeated; still shutting down gracefully", {
          signal,
          since_first_ms: sinceFirstMs,
        });
        return;
      }
      log("second signal: stopping running requests now", { signal });
      void app.close(0);
      return;
    }
    firstAt = performance.now();
    log("shutting down", { signal, grace_ms: options.graceMs });
    void (async () => {
      const responses = server.shutdown();
      await app.close(options.graceMs);
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        responses,
        new Promise((resolve) => timer = setTimeout(resolve, options.flushMs ?? 2000)),
      ]);
      clearTimeout(timer);
      log("stopped");
      Deno.exit(0);
    })();
  };
  for (const signal of SIGNALS) Deno.addSignalListener(signal, () => onSignal(signal));
}
