/**
 * A small metrics registry that renders the Prometheus text exposition format
 * (version 0.0.4): counters, gauges and histograms with labels.
 *
 * Gauges can be read at scrape time from a callback, so other parts of the
 * server (the limiter, the warm pool) expose their state without pushing it.
 *
 * @module
 */

/** Label names to values. */
export type Labels = Record<string, string>;

/** `Content-Type` of {@linkcode Registry.render}'s output. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function escapeLabel(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll("\n", "\\n").replaceAll('"', '\\"');
}

function escapeHelp(text: string): string {
  return text.replaceAll("\\", "\\\\").replaceAll("\n", "\\n");
}

/** `{a="1",b="2"}` for the labels, or "" for none. */
function formatLabels(labels: Labels): string {
  const pairs = Object.entries(labels).map(([key, value]) => `${key}="${escapeLabel(value)}"`);
  return pairs.length === 0 ? "" : `{${pairs.join(",")}}`;
}

/** A number as Prometheus writes it (`+Inf`, `-Inf`, `NaN`). */
function formatValue(value: number): string {
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

/** Anything a {@linkcode Registry} can render. */
interface Metric {
  readonly name: string;
  readonly help: string;
  readonly type: "counter" | "gauge" | "histogram";
  samples(): string[];
}

/** Shared labelled-series bookkeeping. */
abstract class Series<T> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  protected series = new Map<string, { labels: Labels; value: T }>();

  constructor(name: string, help: string, labelNames: readonly string[]) {
    if (!METRIC_NAME.test(name)) throw new TypeError(`Invalid metric name "${name}".`);
    for (const label of labelNames) {
      if (!LABEL_NAME.test(label) || label === "le") {
        throw new TypeError(`Invalid label name "${label}" on metric ${name}.`);
      }
    }
    this.name = name;
    this.help = help;
    this.labelNames = labelNames;
  }

  #key(labels: Labels): string {
    return JSON.stringify(this.labelNames.map((name) => labels[name] ?? ""));
  }

  /** The series for `labels`, if it exists. */
  protected find(labels: Labels): { labels: Labels; value: T } | undefined {
    return this.series.get(this.#key(labels));
  }

  /** The series for `labels`, made with `initial()` on first use. */
  protected get(labels: Labels, initial: () => T): { labels: Labels; value: T } {
    const key = this.#key(labels);
    let entry = this.series.get(key);
    if (!entry) {
      const ordered = Object.fromEntries(this.labelNames.map((name) => [name, labels[name] ?? ""]));
      entry = { labels: ordered, value: initial() };
      this.series.set(key, entry);
    }
    return entry;
  }
}

/** What a scrape-time callback returns: a number (unlabelled) or `[labels, value]` pairs. */
export type Collect = () => number | Iterable<[Labels, number]>;

/** Shared by counters and gauges: one number per series, optionally read at scrape time. */
abstract class ValueSeries extends Series<number> {
  #collect: Collect | undefined;

  /**
   * @param collect when given, called at every scrape to read the values
   * (for values that another part of the server already keeps).
   */
  constructor(name: string, help: string, labelNames: readonly string[] = [], collect?: Collect) {
    super(name, help, labelNames);
    this.#collect = collect;
  }

  /** The current value for `labels` (0 if it has none). */
  value(labels: Labels = {}): number {
    return this.find(labels)?.value ?? 0;
  }

  samples(): string[] {
    if (this.#collect) {
      const collected = this.#collect();
      if (typeof collected === "number") this.get({}, () => 0).value = collected;
      else for (const [labels, value] of collected) this.get(labels, () => 0).value = value;
    }
    return [...this.series.values()].map(({ labels, value }) =>
      `${this.name}${formatLabels(labels)} ${formatValue(value)}`
    );
  }
}

/** A monotonically increasing count. */
export class Counter extends ValueSeries implements Metric {
  readonly type = "counter";

  /** Adds `amount` (default 1) to the series for `labels`. */
  inc(labels: Labels = {}, amount = 1): void {
    if (amount < 0) throw new RangeError(`Counter ${this.name} cannot decrease.`);
    this.get(labels, () => 0).value += amount;
  }
}

/** A value that goes up and down: set directly, or read from a callback at scrape time. */
export class Gauge extends ValueSeries implements Metric {
  readonly type = "gauge";

  /** Sets the series for `labels`. */
  set(value: number, labels: Labels = {}): void {
    this.get(labels, () => 0).value = value;
  }
}

interface HistogramState {
  counts: number[];
  sum: number;
  count: number;
}

/** Observations counted into cumulative buckets, with their sum and count. */
export class Histogram extends Series<HistogramState> implements Metric {
  readonly type = "histogram";
  /** Upper bounds of the buckets, ascending (`+Inf` is implied). */
  readonly buckets: readonly number[];

  constructor(name: string, help: string, buckets: readonly number[], labelNames: string[] = []) {
    super(name, help, labelNames);
    this.buckets = [...buckets].sort((a, b) => a - b);
  }

  /** Records one observation for `labels`. */
  observe(value: number, labels: Labels = {}): void {
    const state = this.get(labels, () => ({ counts: this.buckets.map(() => 0), sum: 0, count: 0 }))
      .value;
    for (const [i, bound] of this.buckets.entries()) {
      if (value <= bound) state.counts[i]!++;
    }
    state.sum += value;
    state.count++;
  }

  samples(): string[] {
    const lines: string[] = [];
    for (const { labels, value } of this.series.values()) {
      for (const [i, bound] of this.buckets.entries()) {
        const le = formatLabels({ ...labels, le: formatValue(bound) });
        lines.push(`${this.name}_bucket${le} ${value.counts[i]}`);
      }
      lines.push(`${this.name}_bucket${formatLabels({ ...labels, le: "+Inf" })} ${value.count}`);
      lines.push(`${this.name}_sum${formatLabels(labels)} ${formatValue(value.sum)}`);
      lines.push(`${this.name}_count${formatLabels(labels)} ${value.count}`);
    }
    return lines;
  }
}

/** A set of metrics rendered together. */
export class Registry {
  #metrics = new Map<string, Metric>();

  /** Adds `metric` and returns it. @throws {TypeError} on a duplicate name. */
  register<M extends Counter | Gauge | Histogram>(metric: M): M {
    if (this.#metrics.has(metric.name)) {
      throw new TypeError(`Metric ${metric.name} is already registered.`);
    }
    this.#metrics.set(metric.name, metric);
    return metric;
  }

  /** Every metric in the Prometheus text format, ending with a newline. */
  render(): string {
    const lines: string[] = [];
    for (const metric of this.#metrics.values()) {
      lines.push(`# HELP ${metric.name} ${escapeHelp(metric.help)}`);
      lines.push(`# TYPE ${metric.name} ${metric.type}`);
      lines.push(...metric.samples());
    }
    return lines.join("\n") + "\n";
  }
}
