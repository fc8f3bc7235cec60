/**
 * The process's own metrics beside Concord's: CPU time, memory, garbage collection pauses and
 * event-loop delay. A node's tail latency is mostly pauses of its event loop (a young-generation
 * collection copying what the node applied, a slice of a compaction), and these show them without
 * a profiler.
 *
 * Not prom-client's collectDefaultMetrics: its collectors cannot be stopped (a GC observer and an
 * event-loop monitor per registry would pile up in a process that runs several nodes, as the
 * tests do), and its GC histogram records only the first entry of each batch the observer gets.
 * Series names follow prom-client's, so dashboards built for Node services read them.
 */
import { PerformanceObserver, constants, type PerformanceEntry } from 'node:perf_hooks';
import { Counter, Gauge, type Registry } from 'prom-client';
import { LatencyHistogram, type LatencySeries } from './latency-histogram.ts';

/** GC pause buckets (seconds): scavenges take 0.1–5 ms when the machine is idle, tens when not. */
const GC_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

const GC_KINDS = new Map<number, string>([
  [constants.NODE_PERFORMANCE_GC_MINOR, 'minor'],
  [constants.NODE_PERFORMANCE_GC_MAJOR, 'major'],
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL, 'incremental'],
  [constants.NODE_PERFORMANCE_GC_WEAKCB, 'weakcb'],
]);

/**
 * The event loop is probed this often (ms): each probe records how late it ran. A stall shows
 * as one late probe of about its own length; shorter probes would wake an idle node more often.
 */
const EVENT_LOOP_PROBE_MS = 20;

/** Event-loop delay buckets (seconds): a healthy loop is late by under a millisecond. */
const DELAY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export class RuntimeMetrics {
  private readonly gcObserver: PerformanceObserver;
  private readonly eventLoopProbe: ReturnType<typeof setInterval>;

  constructor(registry: Registry) {
    const registers = [registry];
    const gcSeconds = new LatencyHistogram('nodejs_gc_duration_seconds', 'Garbage collection pauses by kind (minor, major, incremental, weakcb).', GC_BUCKETS, registry);
    const series = new Map<string, LatencySeries>();
    this.gcObserver = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        const kind = gcKind(entry);
        let kindSeries = series.get(kind);
        if (kindSeries === undefined) {
          kindSeries = gcSeconds.series({ kind });
          series.set(kind, kindSeries);
        }
        kindSeries.observe(entry.duration / 1000);
      }
    });
    this.gcObserver.observe({ entryTypes: ['gc'] });

    const cpu = (name: string, help: string, read: (usage: NodeJS.CpuUsage) => number): void => {
      new Counter({ name, help, registers, collect() { this.reset(); this.inc(read(process.cpuUsage()) / 1e6); } });
    };
    cpu('process_cpu_user_seconds_total', 'User CPU time of the process (all its threads).', (usage) => usage.user);
    cpu('process_cpu_system_seconds_total', 'System CPU time of the process (all its threads).', (usage) => usage.system);
    const gauge = (name: string, help: string, read: () => number): void => {
      new Gauge({ name, help, registers, collect() { this.set(read()); } });
    };
    gauge('process_resident_memory_bytes', 'Resident memory of the process.', () => process.memoryUsage.rss());
    gauge('nodejs_heap_size_used_bytes', 'V8 heap in use.', () => process.memoryUsage().heapUsed);
    gauge('nodejs_external_memory_bytes', 'Memory of buffers and other objects outside the V8 heap.', () => process.memoryUsage().external);
    gauge('process_start_time_seconds', 'When the process started (Unix time, seconds).', () => Math.round(Date.now() / 1000 - process.uptime()));

    // A histogram of our own rather than perf_hooks' monitorEventLoopDelay, whose percentiles
    // only make sense between resets (two scrapers would reset each other's window), and which
    // loses a stall that begins right after a reset (its first late tick is not recorded).
    const delays = new LatencyHistogram(
      'nodejs_eventloop_delay_seconds',
      `How late the event loop ran a probe scheduled every ${EVENT_LOOP_PROBE_MS} ms: a stall (a GC pause, a long task) shows as one late probe of its length.`,
      DELAY_BUCKETS,
      registry,
    ).series({});
    let due = performance.now() + EVENT_LOOP_PROBE_MS;
    this.eventLoopProbe = setInterval(() => {
      const now = performance.now();
      delays.observe(Math.max(0, now - due) / 1000);
      due = now + EVENT_LOOP_PROBE_MS;
    }, EVENT_LOOP_PROBE_MS);
    this.eventLoopProbe.unref();
  }

  stop(): void {
    this.gcObserver.disconnect();
    clearInterval(this.eventLoopProbe);
  }
}

function gcKind(entry: PerformanceEntry): string {
  // Node 16+ puts the kind in `detail` (the @types of PerformanceEntry do not declare it).
  const detail = (entry as PerformanceEntry & { readonly detail?: { readonly kind?: number } | null }).detail;
  return GC_KINDS.get(detail?.kind ?? -1) ?? 'other';
}
