// The bench reads each node's pauses from the metrics the node itself exposes: the parser must
// match the names and labels src/server/runtime-metrics.ts writes, and count stalls per bucket.
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { parsePauseCounters } from '../../bench/load/node-pauses.ts';
import { RuntimeMetrics } from '../../src/server/runtime-metrics.ts';

describe('node pauses from /metrics', () => {
  it('reads what RuntimeMetrics exposes', async () => {
    const registry = new Registry();
    const runtime = new RuntimeMetrics(registry);
    try {
      const stallEnd = performance.now() + 70;
      while (performance.now() < stallEnd) {
        // a stall the 20 ms probe sees late
      }
      await new Promise((resolve) => setTimeout(resolve, 60));
      const counters = parsePauseCounters(await registry.metrics());
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
    ].join('\n');
    expect(parsePauseCounters(text)).toEqual({ gcCount: 42, gcSeconds: 0.3, stallsOver10ms: 5, stallsOver50ms: 1 });
    expect(parsePauseCounters('etcd_server_has_leader 1\n')).toBeNull();
  });
});
