/**
 * The suite's report: one row per figure, with its unit, the floor measured on this machine, the
 * etcd 3.4 figure from issue 8 and Concord's target — a table for people, the same rows (plus
 * everything measured) in JSON for tracking.
 */
import type { LoadResult } from './load/generator.ts';
import type { LatencySummary } from './load/histogram.ts';
import type { Reference } from './reference.ts';

export interface Row {
  readonly benchmark: string;
  readonly figure: number | string;
  /** Decimals shown in the table (JSON keeps the full number). */
  readonly decimals?: number;
  readonly unit: string;
  /** The floor on this machine (a bound no implementation can beat), when one applies. */
  readonly floor?: string;
  /** etcd 3.4's figure on this machine (issue 8), when there is one. */
  readonly etcd?: string;
  readonly target: string;
}

export function formatNumber(value: number, decimals: number): string {
  if (!Number.isFinite(value)) return '—';
  return value.toLocaleString('en', { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
}

/** Milliseconds with the precision a figure of that size needs (µs below 1 ms). */
export function formatMs(value: number): string {
  if (!Number.isFinite(value)) return '—';
  return formatNumber(value, value < 1 ? 3 : value < 100 ? 2 : 0);
}

/** "3× 503, 1× network", or '' when there were none. */
export function formatErrors(errors: Readonly<Record<string, number>>): string {
  return Object.entries(errors).map(([status, count]) => `${count}× ${status}`).join(', ');
}

export interface LoadReferences {
  readonly opsPerSecond?: Reference;
  readonly p50Ms?: Reference;
  readonly p99Ms?: Reference;
}

export interface LoadFloors {
  readonly opsPerSecond?: string;
  readonly p50Ms?: string;
  readonly p99Ms?: string;
}

/** The rows of one load phase: rate, p50, p99, the rest of the distribution, counts and errors. */
export function loadRows(name: string, result: LoadResult, unit: string, floors: LoadFloors = {}, references: LoadReferences = {}): Row[] {
  const { latency } = result;
  const errors = formatErrors(result.errors);
  const labels = formatErrors(result.labels);
  return [
    { benchmark: `${name} ops/s`, figure: result.opsPerSecond, decimals: 0, unit, floor: floors.opsPerSecond ?? '', etcd: references.opsPerSecond?.etcd ?? '', target: references.opsPerSecond?.target ?? '' },
    { benchmark: `${name} p50`, figure: latency.p50Ms, decimals: 3, unit: 'ms', floor: floors.p50Ms ?? '', etcd: references.p50Ms?.etcd ?? '', target: references.p50Ms?.target ?? '' },
    { benchmark: `${name} p99`, figure: latency.p99Ms, decimals: 3, unit: 'ms', floor: floors.p99Ms ?? '', etcd: references.p99Ms?.etcd ?? '', target: references.p99Ms?.target ?? '' },
    { benchmark: `${name} p90 / p999 / max`, figure: [latency.p90Ms, latency.p999Ms, latency.maxMs].map(formatMs).join(' / '), unit: 'ms', target: '' },
    {
      benchmark: `${name} done / errors`,
      figure: `${result.succeeded} / ${result.failed}`,
      unit: `in ${result.seconds.toFixed(1)} s, stopped by ${result.stoppedBy}${labels === '' ? '' : `; ${labels}`}${errors === '' ? '' : `; errors: ${errors}`}`,
      target: '',
    },
  ];
}

/** Latency rows (p50/p99 and the rest) of a histogram that is not a load phase's own. */
export function latencyRows(name: string, latency: LatencySummary, unit: string, p50: { floor?: string; reference?: Reference } = {}): Row[] {
  return [
    { benchmark: `${name} p50`, figure: latency.p50Ms, decimals: 3, unit, floor: p50.floor ?? '', etcd: p50.reference?.etcd ?? '', target: p50.reference?.target ?? '' },
    { benchmark: `${name} p99`, figure: latency.p99Ms, decimals: 3, unit, target: '' },
    { benchmark: `${name} p90 / p999 / max`, figure: [latency.p90Ms, latency.p999Ms, latency.maxMs].map(formatMs).join(' / '), unit: 'ms', target: '' },
  ];
}

export function formatTable(rows: readonly Row[]): string {
  const columns = ['benchmark', 'figure', 'unit', 'floor (this machine)', 'etcd 3.4 (issue 8)', 'target'];
  const show = (row: Row): string =>
    typeof row.figure === 'number' ? (row.decimals === undefined ? String(row.figure) : formatNumber(row.figure, row.decimals)) : row.figure;
  const cells = [columns, ...rows.map((row) => [row.benchmark, show(row), row.unit, row.floor ?? '', row.etcd ?? '', row.target])];
  const widths = columns.map((_, col) => Math.max(...cells.map((line) => (line[col] ?? '').length)));
  const render = (line: readonly string[]): string =>
    line
      .map((cell, col) => (col === 1 ? cell.padStart(widths[col] ?? 0) : cell.padEnd(widths[col] ?? 0)))
      .join('  ')
      .trimEnd();
  const rule = widths.map((width) => '-'.repeat(width)).join('  ');
  return [render(cells[0] ?? []), rule, ...cells.slice(1).map(render)].join('\n');
}
