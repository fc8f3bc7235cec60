/**
 * A Prometheus histogram for the metrics observed on every request (HTTP durations, proposal
 * durations, fsyncs), kept in plain numbers. prom-client's Histogram hashes and validates its
 * label object on each observation (with the labelled HTTP counter, ~2 µs of every request, 3-5 %
 * of a leader's CPU serving reads); here the caller holds its series and an observation is a
 * bucket search and three additions. The registry reads it as it reads prom-client's own: the
 * same series, names, label order and values (`_bucket` cumulative with `le`, `+Inf`, `_sum`,
 * `_count`), built only when /metrics is scraped.
 *
 *   const h = new LatencyHistogram('x_seconds', 'help', [0.001, 0.01], registry);
 *   const series = h.series({ route: '/a' });   // once per label set; keep it
 *   series.observe(0.004);
 */
import type { Metric, Registry } from 'prom-client';

type Labels = Readonly<Record<string, string>>;

/** One label set's counts. */
export class LatencySeries {
  /** Observations per bucket (not cumulative); beyond the last bound only `count` has them. */
  readonly buckets: number[];
  sum = 0;
  count = 0;

  constructor(
    readonly labels: Labels,
    private readonly bounds: readonly number[],
  ) {
    this.buckets = bounds.map(() => 0);
  }

  observe(seconds: number): void {
    const bounds = this.bounds;
    for (let i = 0; i < bounds.length; i++) {
      if (seconds <= (bounds[i] as number)) {
        (this.buckets[i] as number) += 1;
        break;
      }
    }
    this.sum += seconds;
    this.count += 1;
  }
}

/** A value as prom-client's registry formats it (metricName defaults to the metric's name). */
interface SampleValue {
  readonly value: number;
  readonly labels: Record<string, string | number>;
  readonly metricName: string;
}

export class LatencyHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly all: LatencySeries[] = [];

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly bounds: readonly number[],
    registry: Registry,
  ) {
    // The registry only calls get() and reset() and reads name and type; prom-client types it as
    // the union of its own classes.
    registry.registerMetric(this as unknown as Metric);
  }

  /** A new series for `labels`; the caller keeps it (asking twice for one label set makes two). */
  series(labels: Labels): LatencySeries {
    const created = new LatencySeries(labels, this.bounds);
    this.all.push(created);
    return created;
  }

  /**
   * What the registry formats: prom-client's Histogram layout. As there, a labelled series shows
   * once observed, and the series without labels always.
   */
  get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: SampleValue[] }> {
    const values: SampleValue[] = [];
    const bucketName = `${this.name}_bucket`;
    for (const series of this.all) {
      if (series.count === 0 && Object.keys(series.labels).length > 0) continue;
      let cumulative = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        cumulative += series.buckets[i] as number;
        values.push({ value: cumulative, labels: { le: this.bounds[i] as number, ...series.labels }, metricName: bucketName });
      }
      values.push({ value: series.count, labels: { le: '+Inf', ...series.labels }, metricName: bucketName });
      values.push({ value: series.sum, labels: { ...series.labels }, metricName: `${this.name}_sum` });
      values.push({ value: series.count, labels: { ...series.labels }, metricName: `${this.name}_count` });
    }
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values });
  }

  /** Zeroes every series (the holders keep theirs). */
  reset(): void {
    for (const series of this.all) {
      series.buckets.fill(0);
      series.sum = 0;
      series.count = 0;
    }
  }
}
