/**
 * Structured logging: one JSON object per line on stdout, filtered by
 * `LOG_LEVEL`. Every line has `time`, `level` and `msg`; the rest are the
 * fields the caller passes.
 *
 * Nothing here redacts: callers keep secrets (bearer keys) out of the fields
 * and pass message content only at `debug` (see {@linkcode Logger.debugEnabled}).
 *
 * @module
 */

/** The levels, least severe first. */
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;

/** One of {@linkcode LOG_LEVELS}. */
export type LogLevel = typeof LOG_LEVELS[number];

/** Extra fields of a log line; `undefined` values are left out. */
export type LogFields = Record<string, unknown>;

/** Where finished lines go (stdout unless a test captures them). */
export type LogSink = (line: string) => void;

const encoder = new TextEncoder();
const stdoutSink: LogSink = (line) => {
  Deno.stdout.writeSync(encoder.encode(line + "\n"));
};

/** Makes errors loggable: their name, message and stack survive JSON. */
function replacer(this: unknown, _key: string, value: unknown): unknown {
  if (value instanceof Error) {
    return { name: value.name, message: value.message, stack: value.stack };
  }
  if (typeof value === "bigint") return value.toString();
  return value;
}

/** A level-filtered JSON line logger. */
export class Logger {
  /** The least severe level written. */
  readonly level: LogLevel;
  #rank: number;
  #sink: LogSink;

  /**
   * @param level the least severe level written (default `info`).
   * @param sink where lines go (default stdout).
   */
  constructor(level: LogLevel = "info", sink: LogSink = stdoutSink) {
    this.level = level;
    this.#rank = LOG_LEVELS.indexOf(level);
    this.#sink = sink;
  }

  /** True at `LOG_LEVEL=debug`, the only level that may carry message content. */
  get debugEnabled(): boolean {
    return this.#rank === 0;
  }

  /** True when lines of `level` are written. */
  enabled(level: LogLevel): boolean {
    return LOG_LEVELS.indexOf(level) >= this.#rank;
  }

  /** Writes one line at `level` if it passes the filter. */
  log(level: LogLevel, msg: string, fields: LogFields = {}): void {
    if (!this.enabled(level)) return;
    const line = { time: new Date().toISOString(), level, msg, ...fields };
    let text: string;
    try {
      text = JSON.stringify(line, replacer);
    } catch {
      text = JSON.stringify({ time: line.time, level, msg, unserializable: true });
    }
    this.#sink(text);
  }

  /** {@linkcode Logger.log} at `debug`. */
  debug(msg: string, fields?: LogFields): void {
    this.log("debug", msg, fields);
  }

  /** {@linkcode Logger.log} at `info`. */
  info(msg: string, fields?: LogFields): void {
    this.log("info", msg, fields);
  }

  /** {@linkcode Logger.log} at `warn`. */
  warn(msg: string, fields?: LogFields): void {
    this.log("warn", msg, fields);
  }

  /** {@linkcode Logger.log} at `error`. */
  error(msg: string, fields?: LogFields): void {
    this.log("error", msg, fields);
  }
}
