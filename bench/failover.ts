/**
 * Failover (`npm run bench -- failover`, only on the cluster the suite started): kill -9 of the
 * leader, then writes through the survivors (one client per survivor, each put with a 1 s
 * deadline) until the first one is acknowledged; the figure is the time from the kill to that
 * acknowledgement. Between runs the killed node is started again on its data dir and the
 * cluster settles; the median of the runs is the figure (etcd's was a median of three). It runs
 * last in the suite: after the last run the cluster is left with a node down.
 */
import { performance } from 'node:perf_hooks';
import { expectStatus, runLoad, type Operation } from './load/generator.ts';
import type { EndpointPools } from './load/pools.ts';
import { optionsFor, type SuiteContext } from './load/suite.ts';
import { findLeader } from './load/target.ts';

export interface FailoverBenchOptions {
  readonly runs: number;
  /** A run that sees no acknowledged write within this budget reports none. */
  readonly budgetMs: number;
}

export const DEFAULT_FAILOVER_BENCH_OPTIONS: FailoverBenchOptions = { runs: 3, budgetMs: 15_000 };
export const QUICK_FAILOVER_BENCH_OPTIONS: FailoverBenchOptions = { runs: 1, budgetMs: 15_000 };

export interface FailoverRun {
  readonly killed: string;
  /** Kill → first acknowledged write, in ms; null when none came within the budget. */
  readonly failoverMs: number | null;
  readonly newLeader: string | null;
  /** Writes refused or lost before the first acknowledgement, by status. */
  readonly errors: Readonly<Record<string, number>>;
}

export interface FailoverBenchResult {
  readonly options: FailoverBenchOptions;
  readonly runs: readonly FailoverRun[];
  /** Median of the runs that saw a write acknowledged; null when none did. */
  readonly medianMs: number | null;
}

export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] ?? null) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

/**
 * One failover: `kill` the leader, then one writer per survivor (`write`, pinned) until the first
 * write is acknowledged or the budget passes. Kill → that acknowledgement in ms (null: none), and
 * the writes refused or lost before it. Shared with bench/etcd-reference.ts, which measures etcd
 * the same way.
 */
export async function killAndWriteUntilAcknowledged(
  pools: EndpointPools,
  survivors: readonly string[],
  kill: () => Promise<void>,
  write: Operation,
  budgetMs: number,
): Promise<{ readonly failoverMs: number | null; readonly errors: Readonly<Record<string, number>> }> {
  const killedAt = performance.now();
  await kill();
  const result = await runLoad(pools, {
    endpoints: survivors,
    inFlight: survivors.length,
    routing: 'per-worker',
    maxOps: Number.MAX_SAFE_INTEGER,
    budgetMs,
    drainMs: 2_000,
    stopAfterSuccesses: 1,
    operation: write,
  });
  const failoverMs = result.firstSuccessMs === null ? null : result.startedAtMs + result.firstSuccessMs - killedAt;
  return { failoverMs, errors: result.errors };
}

export async function runFailoverBench(context: SuiteContext): Promise<FailoverBenchResult> {
  const options = optionsFor(context, DEFAULT_FAILOVER_BENCH_OPTIONS, QUICK_FAILOVER_BENCH_OPTIONS);
  const { target, pools, progress } = context;
  if (!target.local) throw new Error('failover kills a node: it runs only on the cluster the suite started (no --endpoints)');
  const body = JSON.stringify({ value: 'failover' });
  const runs: FailoverRun[] = [];
  for (let run = 0; run < options.runs; run++) {
    const leader = await findLeader(pools, target.endpoints);
    const survivors = target.endpoints.filter((endpoint) => endpoint !== leader);
    progress(`failover ${run + 1}/${options.runs}: kill -9 of the leader ${leader}, then writes through ${survivors.length} survivors until one is acknowledged`);
    const write: Operation = async (operation) =>
      expectStatus(await operation.send({ method: 'PUT', path: `/v1/kv/bench/failover/${run}-${operation.sequence}?timeoutMs=1000`, body }));
    const { failoverMs, errors } = await killAndWriteUntilAcknowledged(pools, survivors, () => target.kill(leader), write, options.budgetMs);
    const newLeader = failoverMs === null ? null : await findLeader(pools, survivors, 10_000).catch(() => null);
    runs.push({ killed: leader, failoverMs, newLeader, errors });
    const last = run === options.runs - 1;
    progress(`failover ${run + 1}/${options.runs}: ${failoverMs === null ? 'no write acknowledged' : `${failoverMs.toFixed(0)} ms, new leader ${newLeader ?? 'unknown'}`}${last ? '' : `; restarting ${leader}`}`);
    // After the last run the suite tears the cluster down: no need to bring the node back.
    if (!last) await target.restart(leader);
  }
  const acknowledged = runs.map((run) => run.failoverMs).filter((ms) => ms !== null);
  return { options, runs, medianMs: median(acknowledged) };
}
