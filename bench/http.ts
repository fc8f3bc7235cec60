/**
 * The HTTP benchmark (`npm run bench -- http`): a real three-node cluster of `concord serve`
 * processes on loopback (127.0.0.11-13, temp data dirs, the production fsync path), driven
 * over keep-alive connections with undici, as a client would drive it:
 *
 *   - sequential puts from one client to the leader: ops/s, p50/p99 latency;
 *   - puts with 64 requests in flight spread over the three nodes (followers forward);
 *   - linearizable gets with 64 in flight spread over the three nodes;
 *   - failover: kill -9 of the leader to the first acknowledged write through a survivor.
 *
 * Every phase is bounded by a count and a time budget; the cluster is always torn down.
 */
import { performance } from 'node:perf_hooks';
import { request } from 'undici';
import { LocalCluster, sleep } from '../test/cluster/harness.ts';

export interface HttpBenchOptions {
  readonly sequentialPuts: number;
  readonly concurrentPuts: number;
  readonly concurrentGets: number;
  readonly inFlight: number;
  /** Each phase stops at this budget even when its count is not reached. */
  readonly phaseBudgetMs: number;
  readonly valueBytes: number;
  readonly keySpace: number;
  readonly failoverBudgetMs: number;
}

export const DEFAULT_HTTP_BENCH_OPTIONS: HttpBenchOptions = {
  sequentialPuts: 3_000,
  concurrentPuts: 40_000,
  concurrentGets: 40_000,
  inFlight: 64,
  phaseBudgetMs: 10_000,
  valueBytes: 64,
  keySpace: 1_000,
  failoverBudgetMs: 15_000,
};

export interface PhaseResult {
  readonly operations: number;
  readonly errors: number;
  readonly seconds: number;
  readonly opsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

export interface HttpBenchResult {
  readonly leader: string;
  readonly sequentialPut: PhaseResult;
  readonly concurrentPut: PhaseResult;
  readonly concurrentGet: PhaseResult;
  /** Null when no write was acknowledged within the failover budget. */
  readonly failoverMs: number | null;
  readonly newLeader: string | null;
}

export function percentile(sorted: readonly number[], fraction: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))] ?? Number.NaN;
}

/** Runs `total` operations with `inFlight` workers, until done or the budget runs out. */
export async function runPhase(
  total: number,
  inFlight: number,
  budgetMs: number,
  operation: (sequence: number, worker: number) => Promise<boolean>,
): Promise<PhaseResult> {
  const latencies: number[] = [];
  let next = 0;
  let errors = 0;
  const startedMs = performance.now();
  const deadlineMs = startedMs + budgetMs;
  const worker = async (workerIndex: number): Promise<void> => {
    while (next < total && performance.now() < deadlineMs) {
      const sequence = next++;
      const before = performance.now();
      const ok = await operation(sequence, workerIndex).catch(() => false);
      if (ok) latencies.push(performance.now() - before);
      else errors++;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, (_, index) => worker(index)));
  const seconds = (performance.now() - startedMs) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    operations: latencies.length,
    errors,
    seconds,
    opsPerSecond: latencies.length / seconds,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
  };
}

export async function runHttpBench(options: HttpBenchOptions, progress: (line: string) => void): Promise<HttpBenchResult> {
  const cluster = await LocalCluster.create({ extraArgs: ['--log-level', 'warn'] });
  try {
    progress(`http: starting three concord serve processes in ${cluster.root}`);
    cluster.startAll();
    const leader = await cluster.waitLeader(60_000);
    const ids = cluster.ids;
    const value = JSON.stringify({ value: 'x'.repeat(options.valueBytes) });
    const put = async (id: string, key: string, timeoutMs = 5_000): Promise<boolean> => {
      const response = await request(`${cluster.url(id)}/v1/kv/${key}?timeoutMs=${timeoutMs}`, {
        method: 'PUT',
        dispatcher: cluster.agent,
        headers: { 'content-type': 'application/json' },
        body: value,
      });
      await response.body.dump();
      return response.statusCode === 200;
    };
    const get = async (id: string, key: string): Promise<boolean> => {
      const response = await request(`${cluster.url(id)}/v1/kv/${key}`, { method: 'GET', dispatcher: cluster.agent });
      await response.body.dump();
      return response.statusCode === 200;
    };
    const key = (sequence: number): string => `bench/${sequence % options.keySpace}`;

    progress(`http: leader ${leader}; warm-up and ${options.keySpace} keys`);
    await runPhase(options.keySpace, 16, 30_000, (sequence) => put(ids[sequence % ids.length] ?? leader, key(sequence)));

    progress(`http: sequential puts to the leader (${options.sequentialPuts} or ${options.phaseBudgetMs / 1000} s)`);
    const sequentialPut = await runPhase(options.sequentialPuts, 1, options.phaseBudgetMs, (sequence) => put(leader, key(sequence)));

    progress(`http: puts, ${options.inFlight} in flight over three nodes (${options.concurrentPuts} or ${options.phaseBudgetMs / 1000} s)`);
    const concurrentPut = await runPhase(options.concurrentPuts, options.inFlight, options.phaseBudgetMs,
      (sequence, worker) => put(ids[worker % ids.length] ?? leader, key(sequence)));

    progress(`http: linearizable gets, ${options.inFlight} in flight over three nodes (${options.concurrentGets} or ${options.phaseBudgetMs / 1000} s)`);
    const concurrentGet = await runPhase(options.concurrentGets, options.inFlight, options.phaseBudgetMs,
      (sequence, worker) => get(ids[worker % ids.length] ?? leader, key(sequence)));

    progress(`http: failover — kill -9 of the leader ${leader}, then writes through a survivor until one is acknowledged`);
    const survivor = ids.find((id) => id !== leader) ?? leader;
    const killedAtMs = performance.now();
    await cluster.stop(leader, 'SIGKILL');
    let failoverMs: number | null = null;
    for (let attempt = 0; performance.now() - killedAtMs < options.failoverBudgetMs; attempt++) {
      const ok = await put(survivor, `failover/${attempt}`, 1_000).catch(() => false);
      if (ok) {
        failoverMs = performance.now() - killedAtMs;
        break;
      }
      await sleep(10);
    }
    const newLeader = failoverMs === null ? null : await cluster.waitLeader(5_000, ids.filter((id) => id !== leader)).catch(() => null);
    return { leader, sequentialPut, concurrentPut, concurrentGet, failoverMs, newLeader };
  } finally {
    await cluster.destroy();
  }
}
