/**
 * Latency histograms for the load generator: Node's own perf_hooks.createHistogram, which is
 * Gil Tene's HdrHistogram (the C library, linked into Node) behind a small JS surface. Chosen
 * over the hdr-histogram-js package because it is already in every Node 20, records with one
 * native call and no allocation (the load generator runs on the same two cores as the cluster,
 * so its own cost is part of every figure), and gives what the reports need: count, min, max,
 * mean and any percentile at 3 significant figures (0.1 % resolution), whatever the spread.
 *
 * Values are recorded in integer nanoseconds and reported in milliseconds. HDR cannot hold 0 or
 * values beyond its highest trackable value, so values are clamped to [1 ns, 10 min]: an event
 * that arrives before it could be timed (a watch event beating the put's answer) counts as 1 ns.
 */
import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';

/** Longest latency the histogram tells apart from "longer": far beyond any request deadline. */
const HIGHEST_NS = 10 * 60 * 1e9;
const SIGNIFICANT_FIGURES = 3;

export interface LatencySummary {
  readonly count: number;
  readonly minMs: number;
  readonly meanMs: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
}

export const EMPTY_SUMMARY: LatencySummary = {
  count: 0, minMs: Number.NaN, meanMs: Number.NaN, p50Ms: Number.NaN, p90Ms: Number.NaN, p99Ms: Number.NaN, p999Ms: Number.NaN, maxMs: Number.NaN,
};

export class LatencyHistogram {
  private readonly histogram: RecordableHistogram = createHistogram({ lowest: 1, highest: HIGHEST_NS, figures: SIGNIFICANT_FIGURES });

  /** Records one latency in milliseconds (performance.now() differences). */
  recordMs(milliseconds: number): void {
    this.recordNs(milliseconds * 1e6);
  }

  recordNs(nanoseconds: number): void {
    const clamped = Math.min(HIGHEST_NS, Math.max(1, Math.round(nanoseconds)));
    this.histogram.record(clamped);
  }

  get count(): number {
    return this.histogram.count;
  }

  /** The value at `percent` (0 < percent ≤ 100), in milliseconds; NaN when nothing was recorded. */
  percentileMs(percent: number): number {
    return this.count === 0 ? Number.NaN : this.histogram.percentile(percent) / 1e6;
  }

  summary(): LatencySummary {
    if (this.count === 0) return EMPTY_SUMMARY;
    return {
      count: this.count,
      minMs: this.histogram.min / 1e6,
      meanMs: this.histogram.mean / 1e6,
      p50Ms: this.percentileMs(50),
      p90Ms: this.percentileMs(90),
      p99Ms: this.percentileMs(99),
      p999Ms: this.percentileMs(99.9),
      maxMs: this.histogram.max / 1e6,
    };
  }
}
