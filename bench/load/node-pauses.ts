/**
 * The pauses of each node over a phase, read from its /metrics (src/server/runtime-metrics.ts):
 * garbage collection pauses (count and total time) and event-loop stalls (probes that ran more
 * than 10 ms and more than 50 ms late). Over HTTP, so it works with --endpoints too. What a
 * latency tail is made of: a request waits out every pause of each node it passes through.
 */
import type { EndpointPools } from './pools.ts';

/** What one node's /metrics says so far (cumulative since it started). */
interface PauseCounters {
  readonly gcCount: number;
  readonly gcSeconds: number;
  readonly stallsOver10ms: number;
  readonly stallsOver50ms: number;
}

/** One node's pauses over a phase. */
export interface NodePauses {
  readonly gcCount: number;
  readonly gcMs: number;
  readonly stallsOver10ms: number;
  readonly stallsOver50ms: number;
}

/** Sum of every sample of `metric` (any labels) in Prometheus text; null when absent. */
function sumOf(text: string, metric: string): number | null {
  let total: number | null = null;
  for (const line of text.split('\n')) {
    if (!line.startsWith(metric)) continue;
    const rest = line.slice(metric.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(value)) total = (total ?? 0) + value;
  }
  return total;
}

/** The value of one exact series, e.g. `x_bucket{le="0.01"}`; null when absent. */
function sampleOf(text: string, series: string): number | null {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? null : Number(line.slice(series.length + 1));
}

export function parsePauseCounters(text: string): PauseCounters | null {
  const delayCount = sampleOf(text, 'nodejs_eventloop_delay_seconds_count');
  const within10 = sampleOf(text, 'nodejs_eventloop_delay_seconds_bucket{le="0.01"}');
  const within50 = sampleOf(text, 'nodejs_eventloop_delay_seconds_bucket{le="0.05"}');
  const gcCount = sumOf(text, 'nodejs_gc_duration_seconds_count');
  const gcSeconds = sumOf(text, 'nodejs_gc_duration_seconds_sum');
  if (delayCount === null || within10 === null || within50 === null) return null;
  return { gcCount: gcCount ?? 0, gcSeconds: gcSeconds ?? 0, stallsOver10ms: delayCount - within10, stallsOver50ms: delayCount - within50 };
}

async function scrape(pools: EndpointPools, endpoint: string): Promise<PauseCounters | null> {
  try {
    const answer = await pools.send(endpoint, { method: 'GET', path: '/metrics' });
    return answer.status === 200 ? parsePauseCounters(answer.text) : null;
  } catch {
    return null;
  }
}

/** Reads every node's counters at the start of a phase; `delta()` at its end. */
export class PauseMeter {
  private constructor(
    private readonly pools: EndpointPools,
    private readonly endpoints: readonly string[],
    private readonly start: readonly (PauseCounters | null)[],
  ) {}

  static async start(pools: EndpointPools, endpoints: readonly string[]): Promise<PauseMeter> {
    return new PauseMeter(pools, endpoints, await Promise.all(endpoints.map((endpoint) => scrape(pools, endpoint))));
  }

  /** Each node's pauses since start, by endpoint; null for a node without the metrics (not Concord). */
  async delta(): Promise<Readonly<Record<string, NodePauses | null>>> {
    const end = await Promise.all(this.endpoints.map((endpoint) => scrape(this.pools, endpoint)));
    return Object.fromEntries(
      this.endpoints.map((endpoint, position) => {
        const before = this.start[position];
        const after = end[position];
        if (before === null || before === undefined || after === null || after === undefined) return [endpoint, null];
        return [
          endpoint,
          {
            gcCount: after.gcCount - before.gcCount,
            gcMs: (after.gcSeconds - before.gcSeconds) * 1000,
            stallsOver10ms: after.stallsOver10ms - before.stallsOver10ms,
            stallsOver50ms: after.stallsOver50ms - before.stallsOver50ms,
          },
        ];
      }),
    );
  }
}
