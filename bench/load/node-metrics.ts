/**
 * What each node's /metrics says about a phase (read at its start and end; over HTTP, so it works
 * with --endpoints too):
 * - its pauses (src/server/runtime-metrics.ts): garbage collection (count and total time) and
 *   event-loop stalls (probes that ran more than 10 and 50 ms late). What a latency tail is made
 *   of: a request waits out every pause of each node it passes through.
 * - where a write's time goes (src/server/metrics.ts): the mean synced storage write, the mean
 *   proposal (proposed → applied on the node that proposed), the mean PUT as the node timed it.
 * - what it sent its peers: Raft messages, and frames (one socket write each, waking the peer).
 */
import type { EndpointPools } from './pools.ts';

/** A histogram's running totals. */
interface Totals {
  readonly sum: number;
  readonly count: number;
}

/** What one node's /metrics says so far (cumulative since it started). */
interface NodeCounters {
  readonly gcCount: number;
  readonly gcSeconds: number;
  readonly stallsOver10ms: number;
  readonly stallsOver50ms: number;
  readonly fsync: Totals;
  readonly proposal: Totals;
  readonly httpPut: Totals;
  readonly peerMessagesSent: number;
  readonly peerFramesSent: number;
}

/** One node over a phase. */
export interface NodePhase {
  readonly gcCount: number;
  readonly gcMs: number;
  readonly stallsOver10ms: number;
  readonly stallsOver50ms: number;
  /** Means in ms over the phase; null when none happened. */
  readonly fsyncMs: number | null;
  readonly proposalMs: number | null;
  readonly httpPutMs: number | null;
  readonly peerMessagesSent: number;
  readonly peerFramesSent: number;
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

function totalsOf(text: string, series: string, labels: string): Totals {
  return { sum: sampleOf(text, `${series}_sum${labels}`) ?? 0, count: sampleOf(text, `${series}_count${labels}`) ?? 0 };
}

export function parseNodeCounters(text: string): NodeCounters | null {
  const delayCount = sampleOf(text, 'nodejs_eventloop_delay_seconds_count');
  const within10 = sampleOf(text, 'nodejs_eventloop_delay_seconds_bucket{le="0.01"}');
  const within50 = sampleOf(text, 'nodejs_eventloop_delay_seconds_bucket{le="0.05"}');
  const gcCount = sumOf(text, 'nodejs_gc_duration_seconds_count');
  const gcSeconds = sumOf(text, 'nodejs_gc_duration_seconds_sum');
  if (delayCount === null || within10 === null || within50 === null) return null;
  return {
    gcCount: gcCount ?? 0,
    gcSeconds: gcSeconds ?? 0,
    stallsOver10ms: delayCount - within10,
    stallsOver50ms: delayCount - within50,
    fsync: totalsOf(text, 'concord_storage_fsync_duration_seconds', ''),
    proposal: totalsOf(text, 'concord_proposal_duration_seconds', ''),
    httpPut: totalsOf(text, 'concord_http_request_duration_seconds', '{method="PUT",route="/v1/kv/*"}'),
    peerMessagesSent: sumOf(text, 'concord_peer_messages_sent_total') ?? 0,
    peerFramesSent: sumOf(text, 'concord_peer_frames_sent_total') ?? 0,
  };
}

/** The mean in ms of what a histogram observed between two readings; null when nothing was. */
function meanMs(before: Totals, after: Totals): number | null {
  const count = after.count - before.count;
  return count > 0 ? ((after.sum - before.sum) / count) * 1000 : null;
}

async function scrape(pools: EndpointPools, endpoint: string): Promise<NodeCounters | null> {
  try {
    const answer = await pools.send(endpoint, { method: 'GET', path: '/metrics' });
    return answer.status === 200 ? parseNodeCounters(answer.text) : null;
  } catch {
    return null;
  }
}

/** Reads every node's counters at the start of a phase; `delta()` at its end. */
export class NodeMeter {
  private constructor(
    private readonly pools: EndpointPools,
    private readonly endpoints: readonly string[],
    private readonly start: readonly (NodeCounters | null)[],
  ) {}

  static async start(pools: EndpointPools, endpoints: readonly string[]): Promise<NodeMeter> {
    return new NodeMeter(pools, endpoints, await Promise.all(endpoints.map((endpoint) => scrape(pools, endpoint))));
  }

  /** Each node over the phase, by endpoint; null for a node without the metrics (not Concord). */
  async delta(): Promise<Readonly<Record<string, NodePhase | null>>> {
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
            fsyncMs: meanMs(before.fsync, after.fsync),
            proposalMs: meanMs(before.proposal, after.proposal),
            httpPutMs: meanMs(before.httpPut, after.httpPut),
            peerMessagesSent: after.peerMessagesSent - before.peerMessagesSent,
            peerFramesSent: after.peerFramesSent - before.peerFramesSent,
          },
        ];
      }),
    );
  }
}
