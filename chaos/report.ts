/** What a chaos run prints: the progress line while it runs and the summary table at the end. */
import type { CheckResult } from './checks.ts';
import type { History } from './history.ts';
import type { NemesisRunner, TimelineEvent } from './nemesis.ts';
import type { ChaosOptions } from './run.ts';

export function progressLine(elapsedMs: number, durationMs: number, totals: History['totals'], runner: NemesisRunner): string {
  const faults = runner.timeline.filter((event) => event.phase === 'start').length;
  const ops = totals.ok + totals.fail + totals.unknown;
  const clock = `${Math.min(elapsedMs, durationMs) / 1000 | 0}s/${durationMs / 1000 | 0}s`;
  return `[chaos ${clock.padStart(9)}] ops ${ops} (ok ${totals.ok}, fail ${totals.fail}, unknown ${totals.unknown}) | faults ${faults} | now: ${runner.active === '' ? 'none' : runner.active}`;
}

function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, column) => (widths[column] = Math.max(widths[column] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column] ?? 0))).join('  ')).join('\n');
}

export function formatSummary(
  options: ChaosOptions,
  history: History,
  timeline: readonly TimelineEvent[],
  checks: readonly CheckResult[],
  skippedNemeses: readonly string[],
  ok: boolean,
  interrupted: string | null = null,
): string {
  const lines: string[] = [];
  if (interrupted !== null) {
    lines.push(`INTERRUPTED: ${interrupted}. The run did not run its course: NOT A PASS, whatever the checks below say.`);
    lines.push('');
  }
  const plant = options.plantStaleReadsMs > 0 ? `, PLANTED BUG: stale reads ${options.plantStaleReadsMs} ms` : '';
  lines.push(`chaos run: seed ${options.seed}, ${options.durationMs / 1000}s, workloads ${options.workloads.join(',')}, nemeses ${options.nemeses.join(',') || 'none'}${plant}`);
  lines.push('');
  const byWorkload = new Map<string, { ok: number; fail: number; unknown: number }>();
  for (const op of history.operations) {
    const key = `${op.workload} ${String(op.invoke.f)}`;
    const entry = byWorkload.get(key) ?? { ok: 0, fail: 0, unknown: 0 };
    if (op.status !== 'pending') entry[op.status]++;
    byWorkload.set(key, entry);
  }
  const opRows = [['operation', 'ok', 'fail', 'unknown'], ...[...byWorkload].sort().map(([name, c]) => [name, String(c.ok), String(c.fail), String(c.unknown)])];
  lines.push(table(opRows));
  lines.push('');
  const faults = new Map<string, number>();
  const overlaps = countOverlaps(timeline);
  for (const event of timeline) {
    if (event.phase === 'start' && event.nemesis !== 'full-restart' && event.nemesis !== 'interrupted') faults.set(event.nemesis, (faults.get(event.nemesis) ?? 0) + 1);
  }
  if (overlaps > 0) faults.set('(two faults at once)', overlaps);
  const skips = new Map<string, number>();
  for (const event of timeline) if (event.phase === 'skip') skips.set(event.nemesis, (skips.get(event.nemesis) ?? 0) + 1);
  const faultRows = [['nemesis', 'injected', 'not possible then'], ...[...faults].sort().map(([name, count]) => [name, String(count), String(skips.get(name) ?? 0)])];
  for (const skipped of skippedNemeses) faultRows.push([skipped.split(':')[0] ?? skipped, `SKIPPED (${skipped.slice(skipped.indexOf(':') + 2)})`]);
  lines.push(table(faultRows));
  lines.push('');
  lines.push(table([['check', 'verdict', 'detail'], ...checks.map((check) => [check.name, check.verdict.toUpperCase(), check.detail])]));
  lines.push('');
  const verdict = ok ? 'PASS' : interrupted !== null ? 'INTERRUPTED' : 'FAIL';
  lines.push(`${verdict}: ${checks.filter((check) => check.verdict === 'violated').length} of ${checks.length} checks violated; run folder ${options.outDir}`);
  return `${lines.join('\n')}\n`;
}

/** How many faults started while another was in force. */
function countOverlaps(timeline: readonly TimelineEvent[]): number {
  let active = 0;
  let overlaps = 0;
  for (const event of timeline) {
    if (event.nemesis === 'final-heal' || event.nemesis === 'full-restart' || event.nemesis === 'interrupted') continue;
    if (event.phase === 'start') {
      if (active > 0) overlaps++;
      active++;
    } else if (event.phase === 'heal') active = Math.max(0, active - 1);
  }
  return overlaps;
}
