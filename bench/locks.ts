/**
 * The lock workloads (`npm run bench -- locks`), on the suite's load generator:
 *
 *   - uncontended: one client acquires (ttlMs, try once) and releases one lock through the
 *     leader, cycle after cycle: cycles/s, cycle p50/p99 (etcd's equivalent is three calls:
 *     lease grant, lock, unlock);
 *   - contended: eight clients, each pinned to one node (round-robin over the nodes; followers
 *     forward), each acquiring one lock with waitMs and releasing it at once: handoffs/s (grants
 *     that followed a release), the wait after a release (release sent → the next holder's grant
 *     received) and each acquire's wait in line (acquire sent → granted; etcd's figure).
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { OK, runLoad, type LoadResult, type Operation, type OperationContext, type Outcome } from './load/generator.ts';
import { LatencyHistogram, type LatencySummary } from './load/histogram.ts';
import { optionsFor, type SuiteContext } from './load/suite.ts';
import { findLeader } from './load/target.ts';

export interface LocksBenchOptions {
  readonly warmUpCycles: number;
  readonly uncontendedCycles: number;
  readonly uncontendedBudgetMs: number;
  readonly contenders: number;
  readonly contendedBudgetMs: number;
  /** Upper bound on acquire+release cycles in the contended phase (it normally ends by time). */
  readonly contendedMaxCycles: number;
  /** How long a contender waits in line before its acquire answers 423. */
  readonly contendedWaitMs: number;
  readonly lockTtlMs: number;
}

export const DEFAULT_LOCKS_BENCH_OPTIONS: LocksBenchOptions = {
  warmUpCycles: 200,
  uncontendedCycles: 50_000,
  uncontendedBudgetMs: 10_000,
  contenders: 8,
  contendedBudgetMs: 10_000,
  contendedMaxCycles: 500_000,
  contendedWaitMs: 5_000,
  lockTtlMs: 5_000,
};

export const QUICK_LOCKS_BENCH_OPTIONS: LocksBenchOptions = {
  ...DEFAULT_LOCKS_BENCH_OPTIONS,
  warmUpCycles: 20,
  uncontendedCycles: 5_000,
  uncontendedBudgetMs: 1_000,
  contendedBudgetMs: 1_000,
  contendedMaxCycles: 50_000,
};

export interface ContendedResult {
  /** Every acquire+release cycle (its latency is the whole cycle). */
  readonly cycles: LoadResult;
  /** Grants that followed a release (the lock went from one holder straight to a waiter). */
  readonly handoffs: number;
  readonly handoffsPerSecond: number;
  /** Release sent → the next holder's grant received. */
  readonly afterRelease: LatencySummary;
  /** Acquire sent → granted (the time in line). */
  readonly acquireWait: LatencySummary;
  readonly grantsPerClient: readonly number[];
}

export interface LocksBenchResult {
  readonly options: LocksBenchOptions;
  readonly leader: string;
  readonly nodes: number;
  readonly uncontended: LoadResult;
  readonly contended: ContendedResult;
}

interface Grant {
  readonly token?: unknown;
}

/** Acquire, then release with the token granted; failures are named by the step that failed. */
async function acquireAndRelease(operation: OperationContext, lock: string, acquireBody: string, onGranted?: () => void, onReleasing?: () => void): Promise<Outcome> {
  const acquired = await operation.send({ method: 'POST', path: `/v1/locks/${lock}/acquire`, body: acquireBody });
  if (acquired.status !== 200) return { ok: false, error: `acquire ${acquired.status}` };
  onGranted?.();
  const { token } = JSON.parse(acquired.text) as Grant;
  onReleasing?.();
  const released = await operation.send({ method: 'POST', path: `/v1/locks/${lock}/release`, body: JSON.stringify({ token }) });
  return released.status === 200 ? OK : { ok: false, error: `release ${released.status}` };
}

async function runContended(context: SuiteContext, options: LocksBenchOptions): Promise<ContendedResult> {
  const afterRelease = new LatencyHistogram();
  const acquireWait = new LatencyHistogram();
  const grantsPerClient = Array.from({ length: options.contenders }, () => 0);
  let handoffs = 0;
  // Holders follow one another, so at most one release is outstanding: the one the next grant
  // follows.
  let releaseSentAt: number | null = null;
  const contend: Operation = async (operation) => {
    const sentAt = performance.now();
    const body = JSON.stringify({ ttlMs: options.lockTtlMs, waitMs: options.contendedWaitMs, owner: `client-${operation.worker}` });
    const outcome = await acquireAndRelease(operation, 'bench-contended', body, () => {
      const grantedAt = performance.now();
      acquireWait.recordMs(grantedAt - sentAt);
      grantsPerClient[operation.worker] = (grantsPerClient[operation.worker] ?? 0) + 1;
      if (releaseSentAt !== null) {
        handoffs++;
        afterRelease.recordMs(grantedAt - releaseSentAt);
      }
    }, () => {
      releaseSentAt = performance.now();
    });
    // A refused acquire (423 after waitMs, 503 in an election) would otherwise spin.
    if (!outcome.ok) await sleep(10);
    return outcome;
  };
  const cycles = await runLoad(context.pools, {
    endpoints: context.target.endpoints,
    inFlight: options.contenders,
    routing: 'per-worker',
    maxOps: options.contendedMaxCycles,
    budgetMs: options.contendedBudgetMs,
    operation: contend,
  });
  return {
    cycles,
    handoffs,
    handoffsPerSecond: handoffs / cycles.seconds,
    afterRelease: afterRelease.summary(),
    acquireWait: acquireWait.summary(),
    grantsPerClient,
  };
}

export async function runLocksBench(context: SuiteContext): Promise<LocksBenchResult> {
  const options = optionsFor(context, DEFAULT_LOCKS_BENCH_OPTIONS, QUICK_LOCKS_BENCH_OPTIONS);
  const { target, pools, progress } = context;
  const leader = await findLeader(pools, target.endpoints);
  const tryOnce = JSON.stringify({ ttlMs: options.lockTtlMs });
  const cycle = (lock: string): Operation => (operation) => acquireAndRelease(operation, lock, tryOnce);
  progress(`locks: leader ${leader}; warm-up (${options.warmUpCycles} cycles, not counted)`);
  await runLoad(pools, { endpoints: [leader], inFlight: 1, maxOps: options.warmUpCycles, budgetMs: 30_000, operation: cycle('bench-warm-up') });
  progress(`locks: uncontended acquire+release through the leader (${options.uncontendedCycles} cycles or ${options.uncontendedBudgetMs / 1000} s)`);
  const uncontended = await runLoad(pools, {
    endpoints: [leader],
    inFlight: 1,
    maxOps: options.uncontendedCycles,
    budgetMs: options.uncontendedBudgetMs,
    operation: cycle('bench-uncontended'),
  });
  progress(`locks: ${options.contenders} clients over ${target.endpoints.length} nodes contending on one lock for ${options.contendedBudgetMs / 1000} s`);
  const contended = await runContended(context, options);
  return { options, leader, nodes: target.endpoints.length, uncontended, contended };
}
