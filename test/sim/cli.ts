/**
 * `npm run sim` — long simulation runs outside the test suite.
 *
 *   npm run sim -- --seeds N --start S [--nodes 5] [--workers W]
 *       runs seeds S … S+N-1 on worker threads, shows progress, ends with
 *       `sim: N seeds, V violations`, and on a violation prints the seed, the shrunk fault
 *       schedule and a replay command, then exits 1.
 *   npm run sim -- --seed X [--trace] [--schedule FILE] [--nodes 5]
 *       replays one seed (optionally with a saved schedule), printing its event trace.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { formatSchedule, type FaultEvent } from './faults.ts';
import { shrinkSchedule, violationKind } from './shrink.ts';
import type { SeedJob, SeedSummary } from './sim-worker.ts';
import { COVERAGE_KEYS, runSimulation, type SimulationOptions } from './simulation.ts';

const { values } = parseArgs({
  options: {
    seeds: { type: 'string', default: '100' },
    start: { type: 'string', default: '1' },
    seed: { type: 'string' },
    nodes: { type: 'string' },
    workers: { type: 'string' },
    schedule: { type: 'string' },
    trace: { type: 'boolean', default: false },
    'no-shrink': { type: 'boolean', default: false },
  },
  strict: true,
});

function positiveInteger(name: string, raw: string): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) {
    process.stderr.write(`sim: --${name} must be a non-negative integer, got ${JSON.stringify(raw)}\n`);
    process.exit(2);
  }
  return value;
}

const nodeCount = values.nodes === undefined ? undefined : positiveInteger('nodes', values.nodes);
if (nodeCount !== undefined && nodeCount !== 3 && nodeCount !== 5) {
  process.stderr.write('sim: --nodes must be 3 or 5\n');
  process.exit(2);
}

function baseOptions(seed: number): SimulationOptions {
  return nodeCount === undefined ? { seed } : { seed, nodeCount };
}

function replayCommand(seed: number, scheduleFile?: string): string {
  const parts = ['npm run sim --', `--seed ${seed}`];
  if (nodeCount !== undefined) parts.push(`--nodes ${nodeCount}`);
  if (scheduleFile !== undefined) parts.push(`--schedule ${scheduleFile}`);
  parts.push('--trace');
  return parts.join(' ');
}

function replayOne(seed: number): void {
  const schedule =
    values.schedule === undefined ? undefined : (JSON.parse(readFileSync(values.schedule, 'utf8')) as FaultEvent[]);
  const options: SimulationOptions = {
    ...baseOptions(seed),
    ...(schedule === undefined ? {} : { schedule }),
    ...(values.trace ? { trace: (line: string) => process.stdout.write(`${line}\n`) } : {}),
  };
  const result = runSimulation(options);
  process.stdout.write(`fault schedule (${result.schedule.length} events):\n${formatSchedule(result.schedule)}\n`);
  process.stdout.write(
    `seed ${seed}: ${result.nodeCount} nodes, ${(result.virtualMs / 1000).toFixed(1)} virtual s, ` +
      `${result.eventsRun} events, ${result.opsCompleted} ops, trace ${result.traceHash}\n`,
  );
  for (const violation of result.violations) process.stdout.write(`VIOLATION ${violation}\n`);
  process.stdout.write(`sim: 1 seeds, ${result.violations.length === 0 ? 0 : 1} violations\n`);
  process.exitCode = result.violations.length === 0 ? 0 : 1;
}

/** Runs seeds on worker threads, in seed order of submission, reporting each as it ends. */
async function runMany(start: number, count: number): Promise<SeedSummary[]> {
  const workerCount = Math.max(1, Math.min(count, positiveInteger('workers', values.workers ?? String(availableParallelism()))));
  const summaries: SeedSummary[] = [];
  let nextSeed = start;
  const end = start + count;
  const startedAt = Date.now();
  const interactive = process.stderr.isTTY === true;
  let lastReportAt = 0;
  const report = (final: boolean): void => {
    const done = summaries.length;
    const perMinute = done / Math.max(1e-9, (Date.now() - startedAt) / 60_000);
    const failing = summaries.filter((summary) => summary.violations.length > 0).length;
    const line = `[${String(done).padStart(String(count).length)}/${count}] ${failing} violations, ${perMinute.toFixed(0)} seeds/min`;
    if (interactive) process.stderr.write(`\r${line}${final ? '\n' : ''}`);
    else if (final || Date.now() - lastReportAt > 10_000) {
      process.stderr.write(`${line}\n`);
      lastReportAt = Date.now();
    }
  };
  await Promise.all(
    Array.from({ length: workerCount }, async () => {
      const worker = new Worker(new URL('./sim-worker-entry.mjs', import.meta.url));
      try {
        while (nextSeed < end) {
          const job: SeedJob = nodeCount === undefined ? { seed: nextSeed++ } : { seed: nextSeed++, nodeCount };
          const summary = await new Promise<SeedSummary>((resolve, reject) => {
            const onError = (error: Error): void => reject(error);
            worker.once('error', onError);
            worker.once('message', (message: SeedSummary) => {
              worker.off('error', onError);
              resolve(message);
            });
            worker.postMessage(job);
          });
          summaries.push(summary);
          // Long runs: say which seed failed as soon as it does, not only at the end.
          if (summary.violations.length > 0) {
            process.stderr.write(`${interactive ? '\n' : ''}seed ${summary.seed} failed: ${(summary.violations[0] ?? '').split('\n')[0]}\n`);
          }
          report(false);
        }
      } finally {
        await worker.terminate();
      }
    }),
  );
  report(true);
  return summaries.sort((a, b) => a.seed - b.seed);
}

function explainFailure(summary: SeedSummary): void {
  const first = summary.violations[0] ?? '';
  process.stdout.write(`\nVIOLATION seed ${summary.seed} (${summary.nodeCount} nodes): ${first}\n`);
  let scheduleFile: string | undefined;
  if (!values['no-shrink']) {
    process.stderr.write(`shrinking the fault schedule of seed ${summary.seed}...\n`);
    const original = runSimulation(baseOptions(summary.seed)).schedule;
    const shrunk = shrinkSchedule(baseOptions(summary.seed), original, violationKind(first), 150, (runs, size) => {
      if (runs % 10 === 0) process.stderr.write(`  ${runs} runs, ${size} events left\n`);
    });
    mkdirSync('.sim-runs', { recursive: true });
    scheduleFile = join('.sim-runs', `seed-${summary.seed}-schedule.json`);
    writeFileSync(scheduleFile, JSON.stringify(shrunk.schedule, null, 1));
    process.stdout.write(
      `shrunk schedule (${original.length} -> ${shrunk.schedule.length} events, ${shrunk.runs} runs), saved to ${scheduleFile}:\n` +
        `${formatSchedule(shrunk.schedule)}\n`,
    );
  }
  process.stdout.write(`replay: ${replayCommand(summary.seed, scheduleFile)}\n`);
}

async function main(): Promise<void> {
  if (values.seed !== undefined) {
    replayOne(positiveInteger('seed', values.seed));
    return;
  }
  const start = positiveInteger('start', values.start);
  const count = positiveInteger('seeds', values.seeds);
  const summaries = await runMany(start, count);
  const failing = summaries.filter((summary) => summary.violations.length > 0);
  const coverage = Object.fromEntries(
    COVERAGE_KEYS.map((key) => [key, summaries.reduce((sum, summary) => sum + (summary.coverage[key] ?? 0), 0)]),
  );
  const virtualSeconds = summaries.reduce((sum, summary) => sum + summary.virtualMs, 0) / 1000;
  process.stdout.write(`coverage: ${JSON.stringify(coverage)}\n`);
  process.stdout.write(`virtual time: ${virtualSeconds.toFixed(0)} s over ${summaries.length} seeds\n`);
  for (const summary of failing.slice(0, 3)) explainFailure(summary);
  if (failing.length > 3) process.stdout.write(`(${failing.length - 3} more failing seeds: ${failing.slice(3).map((s) => s.seed).join(', ')})\n`);
  process.stdout.write(`sim: ${count} seeds, ${failing.length} violations\n`);
  process.exitCode = failing.length === 0 ? 0 : 1;
}

await main();
