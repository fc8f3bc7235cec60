// The process metrics' collectors stop with the server that owns them: several nodes live in one
// process in the tests (and in embedders), so a stopped one must not keep probing or observing.
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { RuntimeMetrics } from '../../src/server/runtime-metrics.ts';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function probes(text: string): number {
  return Number(/^nodejs_eventloop_delay_seconds_count (\d+)$/m.exec(text)?.[1]);
}

describe('RuntimeMetrics', () => {
  it('probes the event loop every 20 ms until stopped, then never again', async () => {
    const registry = new Registry();
    const runtime = new RuntimeMetrics(registry);
    await sleep(110);
    const whileRunning = probes(await registry.metrics());
    expect(whileRunning).toBeGreaterThanOrEqual(2);
    runtime.stop();
    const atStop = probes(await registry.metrics());
    await sleep(110);
    expect(probes(await registry.metrics())).toBe(atStop);
  });

  it('exposes every series in Prometheus text with its help', async () => {
    const registry = new Registry();
    const runtime = new RuntimeMetrics(registry);
    try {
      const text = await registry.metrics();
      for (const name of [
        'process_cpu_user_seconds_total',
        'process_cpu_system_seconds_total',
        'process_resident_memory_bytes',
        'nodejs_heap_size_used_bytes',
        'nodejs_external_memory_bytes',
        'process_start_time_seconds',
        'nodejs_eventloop_delay_seconds',
        'nodejs_gc_duration_seconds',
      ]) {
        expect(text, name).toMatch(new RegExp(`^# HELP ${name} `, 'm'));
      }
      const started = Number(/^process_start_time_seconds (\d+)$/m.exec(text)?.[1]);
      expect(Math.abs(started - (Date.now() / 1000 - process.uptime()))).toBeLessThan(2);
    } finally {
      runtime.stop();
    }
  });
});
