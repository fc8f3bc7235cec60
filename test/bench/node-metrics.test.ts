// The bench reads each node's pauses and write-path means from the metrics the node itself
// exposes: the parser must match the names and labels the node writes, and count stalls per bucket.
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { parseNodeCounters } from '../../bench/load/node-metrics.ts';
import { RuntimeMetrics } from '../../src/server/runtime-metrics.ts';

describe('node metrics over a phase', () => {
  it('reads what RuntimeMetrics exposes', async () => {
    const registry = new Registry();
    const runtime = new RuntimeMetrics(registry);
    try {
      const stallEnd = performance.now() + 70;
      while (performance.now() < stallEnd) {
        // a stall the 20 ms probe sees late
      }
      await new Promise((resolve) => setTimeout(resolve, 60));
      const counters = parseNodeCounters(await registry.metrics());
      expect(counters).not.toBeNull();
      expect(counters!.stallsOver50ms).toBeGreaterThanOrEqual(1);
      expect(counters!.stallsOver10ms).toBeGreaterThanOrEqual(counters!.stallsOver50ms);
      expect(counters!.gcCount).toBeGreaterThanOrEqual(0);
    } finally {
      runtime.stop();
    }
  });

  it('sums GC pauses over kinds, counts stalls above 10 and 50 ms, and ignores look-alike names', () => {
    const text = [
      'nodejs_gc_duration_seconds_sum{kind="minor"} 0.25',
      'nodejs_gc_duration_seconds_count{kind="minor"} 40',
      'nodejs_gc_duration_seconds_sum{kind="major"} 0.05',
      'nodejs_gc_duration_seconds_count{kind="major"} 2',
      'nodejs_gc_duration_seconds_count_other 1000',
      'nodejs_eventloop_delay_seconds_bucket{le="0.005"} 90',
      'nodejs_eventloop_delay_seconds_bucket{le="0.01"} 95',
      'nodejs_eventloop_delay_seconds_bucket{le="0.05"} 99',
      'nodejs_eventloop_delay_seconds_count 100',
      'concord_storage_fsync_duration_seconds_sum 0.5',
      'concord_storage_fsync_duration_seconds_count 250',
      'concord_http_request_duration_seconds_sum{method="GET",route="/v1/kv/*"} 9',
      'concord_http_request_duration_seconds_count{method="GET",route="/v1/kv/*"} 9',
      'concord_http_request_duration_seconds_sum{method="PUT",route="/v1/kv/*"} 0.3',
      'concord_http_request_duration_seconds_count{method="PUT",route="/v1/kv/*"} 150',
      'concord_peer_messages_sent_total 1200',
      'concord_peer_frames_sent_total 300',
    ].join('\n');
    expect(parseNodeCounters(text)).toEqual({
      gcCount: 42,
      gcSeconds: 0.3,
      stallsOver10ms: 5,
      stallsOver50ms: 1,
      fsync: { sum: 0.5, count: 250 },
      proposal: { sum: 0, count: 0 },
      httpPut: { sum: 0.3, count: 150 },
      peerMessagesSent: 1200,
      peerFramesSent: 300,
    });
    expect(parseNodeCounters('etcd_server_has_leader 1\n')).toBeNull();
  });
});
