/**
 * The suite's report: each figure's floor derived from the measured floors as docs/performance.md
 * says (a write = round trip + fdatasync; N in flight bounded by the bare server's rate through
 * Little's law), load phases as five rows with their errors and labels, and a table whose
 * columns line up.
 */
import { describe, expect, it } from 'vitest';
import type { Floors } from '../../bench/floor.ts';
import type { LoadResult } from '../../bench/load/generator.ts';
import { EMPTY_SUMMARY, type LatencySummary } from '../../bench/load/histogram.ts';
import { formatTable, loadRows } from '../../bench/report.ts';
import { FloorCells } from '../../bench/suite-rows.ts';

function latency(p50Ms: number, p99Ms: number): LatencySummary {
  return { count: 100, minMs: p50Ms / 2, meanMs: p50Ms, p50Ms, p90Ms: p99Ms, p99Ms, p999Ms: p99Ms, maxMs: p99Ms };
}

function load(opsPerSecond: number, summary: LatencySummary, extra: Partial<LoadResult> = {}): LoadResult {
  return {
    started: 100, succeeded: 100, failed: 0, errors: {}, labels: {}, seconds: 1, opsPerSecond,
    latency: summary, stoppedBy: 'count', late: 0, firstSuccessMs: 1, startedAtMs: 0, ...extra,
  };
}

const floors: Floors = {
  fsyncPreallocated: latency(0.05, 0.2),
  fsyncAppend: latency(0.5, 2),
  httpOne: load(20_000, latency(0.05, 0.1)),
  httpMany: load(64_000, latency(1, 2)),
  httpManyInFlight: 64,
  serverCpuPerRequestOneUs: 40,
  serverCpuPerRequestUs: 12.5,
};

describe('floor cells', () => {
  const cells = new FloorCells(floors);

  it('reads a durable write against one round trip plus one fdatasync, a lock cycle against two', () => {
    expect(cells.sequentialWrites()).toEqual({ opsPerSecond: '10,000 (1/(rtt+fsync))', p50Ms: '0.100 (rtt+fsync)', p99Ms: '0.300 (rtt+fsync)' });
    expect(cells.sequentialWrites(2).p50Ms).toBe('0.200 (2×(rtt+fsync))');
    expect(cells.sequentialWrites(2).opsPerSecond).toBe('5,000 (1/(2×(rtt+fsync)))');
  });

  it('bounds N in flight by the bare rate: Little when that is the larger bound, one write or read otherwise', () => {
    expect(cells.concurrent(256, true)).toEqual({ opsPerSecond: '64,000 (bare HTTP)', p50Ms: '4.00 (256/bare rate)' });
    expect(cells.concurrent(1, true).p50Ms).toBe('0.100 (rtt+fsync)');
    expect(cells.concurrent(1, false).p50Ms).toBe('0.050 (rtt)');
    expect(cells.cpuPerRequestUs).toBe('12.5 (bare HTTP, 1 process)');
    expect(cells.cpuPerWakeUs).toBe('40.0 (bare HTTP at 1 in flight, 1 process)');
  });
});

describe('report rows and table', () => {
  it('gives a load phase five rows, with its labels, errors and stopping bound', () => {
    const rows = loadRows('x put', load(1_234.5, latency(1, 5), { failed: 3, errors: { '503': 2, network: 1 }, labels: { succeeded: 60 }, stoppedBy: 'time' }), 'puts/s',
      { opsPerSecond: 'floor' }, { opsPerSecond: { etcd: '~8,700', target: '≥ 10,000' } });
    expect(rows.map((row) => row.benchmark)).toEqual(['x put ops/s', 'x put p50', 'x put p99', 'x put p90 / p999 / max', 'x put done / errors']);
    expect(rows[0]).toMatchObject({ figure: 1_234.5, floor: 'floor', etcd: '~8,700', target: '≥ 10,000' });
    expect(rows[4]?.figure).toBe('100 / 3');
    expect(rows[4]?.unit).toBe('in 1.0 s, stopped by time; 60× succeeded; errors: 2× 503, 1× network');
  });

  it('prints no latency for a phase without a success rather than a number', () => {
    const rows = loadRows('y', load(0, EMPTY_SUMMARY), 'ops/s');
    const table = formatTable(rows);
    expect(table).toContain('— / — / —');
    expect(table).not.toContain('NaN');
  });

  it('lines up six columns, figures right-aligned', () => {
    const table = formatTable([
      { benchmark: 'a', figure: 1_234.5678, decimals: 1, unit: 'ms', floor: 'f', etcd: 'e', target: 't' },
      { benchmark: 'longer name', figure: 2, decimals: 0, unit: 'ops/s', target: '' },
    ]).split('\n');
    expect(table[0]).toMatch(/^benchmark\s+figure\s+unit\s+floor \(this machine\)\s+etcd 3\.4 \(issue 8\)\s+target$/);
    expect(table).toHaveLength(4);
    const figureEnd = (line: string | undefined, figure: string): number => (line ?? '').indexOf(figure) + figure.length;
    expect(figureEnd(table[2], '1,234.6')).toBe((table[3] ?? '').search(/2\s+ops\/s/) + 1);
  });
});
