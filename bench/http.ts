/**
 * The key-value workloads over HTTP (`npm run bench -- http`), on the suite's load generator:
 *
 *   - sequential puts: 1 in flight, to the leader (latency of one replicated, fsync'd write);
 *   - puts at 16, 64 and 256 in flight, round-robin over every node (followers forward); at 64
 *     in flight the server CPU per put is read too: the CPU time the nodes used over the phase
 *     (utime + stime from /proc, all of them) divided by the puts acknowledged — local cluster only;
 *   - linearizable gets and serializable gets (`?consistency=serializable`, served from the
 *     node's own state) at 64 in flight, round-robin over every node.
 *
 * Keys are `bench/kv/NNNNNN` over a fixed key space, values 64 bytes; a warm-up writes every key
 * first (not counted), so gets always find their key.
 */
import { expectStatus, runLoad, type LoadResult, type Operation } from './load/generator.ts';
import { NodeMeter, type NodePhase } from './load/node-metrics.ts';
import { CpuMeter } from './load/proc-cpu.ts';
import { keyOf, optionsFor, type SuiteContext } from './load/suite.ts';
import { findLeader } from './load/target.ts';

export interface HttpBenchOptions {
  readonly sequentialPuts: number;
  readonly concurrentOps: number;
  readonly putInFlight: readonly number[];
  readonly getInFlight: number;
  /** The in-flight level whose phase also measures server CPU per put. */
  readonly cpuInFlight: number;
  /** Each phase stops at this budget even when its count is not reached. */
  readonly phaseBudgetMs: number;
  readonly valueBytes: number;
  readonly keySpace: number;
  /**
   * After the keys are written, sequential puts to the leader for this long, not counted: a node
   * just started runs its code cold for its first seconds (V8 compiles the hot paths as they
   * run), which put the first measured phase at up to twice its steady latency and CPU.
   */
  readonly warmUpMs: number;
}

export const DEFAULT_HTTP_BENCH_OPTIONS: HttpBenchOptions = {
  sequentialPuts: 50_000,
  concurrentOps: 500_000,
  putInFlight: [16, 64, 256],
  getInFlight: 64,
  cpuInFlight: 64,
  phaseBudgetMs: 10_000,
  valueBytes: 64,
  keySpace: 1_000,
  warmUpMs: 5_000,
};

export const QUICK_HTTP_BENCH_OPTIONS: HttpBenchOptions = { ...DEFAULT_HTTP_BENCH_OPTIONS, sequentialPuts: 5_000, concurrentOps: 50_000, phaseBudgetMs: 1_000, warmUpMs: 500 };

export interface ServerCpu {
  /** CPU seconds of every node over the phase, summed, per acknowledged put, in µs. */
  readonly perPutUs: number;
  /** Each node's share of one core over the phase, in percent, by endpoint. */
  readonly percentByEndpoint: Readonly<Record<string, number>>;
}

export interface HttpBenchResult {
  readonly options: HttpBenchOptions;
  readonly leader: string;
  readonly nodes: number;
  readonly sequentialPut: LoadResult;
  /**
   * CPU of every node per sequential put, summed, in µs; null when the cluster is not local. At 1
   * in flight each put wakes each node a few times (read it against the bare server's CPU per
   * request at 1 in flight, one wake-up).
   */
  readonly sequentialCpuPerPutUs: number | null;
  /** Each node over the sequential phase, by endpoint, from its /metrics: where a write's time goes. */
  readonly sequentialNodes: Readonly<Record<string, NodePhase | null>>;
  readonly puts: readonly { readonly inFlight: number; readonly result: LoadResult }[];
  /** Null when the cluster is not local (no pids to read). */
  readonly serverCpu: ServerCpu | null;
  /**
   * Each node over the same phase, by endpoint, from its /metrics (its GC pauses and event-loop
   * stalls; null for a node that has none: not Concord).
   */
  readonly cpuPhaseNodes: Readonly<Record<string, NodePhase | null>>;
  readonly linearizableGet: LoadResult;
  /** Each node over the linearizable gets, by endpoint (the ReadIndex rounds' peer messages). */
  readonly linearizableGetNodes: Readonly<Record<string, NodePhase | null>>;
  readonly serializableGet: LoadResult;
}

const KEY_PREFIX = 'bench/kv';

export async function runHttpBench(context: SuiteContext): Promise<HttpBenchResult> {
  const options = optionsFor(context, DEFAULT_HTTP_BENCH_OPTIONS, QUICK_HTTP_BENCH_OPTIONS);
  const { target, pools, progress } = context;
  const endpoints = target.endpoints;
  const body = JSON.stringify({ value: 'x'.repeat(options.valueBytes) });
  const put: Operation = async (operation) =>
    expectStatus(await operation.send({ method: 'PUT', path: `/v1/kv/${keyOf(KEY_PREFIX, operation.sequence, options.keySpace)}?timeoutMs=5000`, body }));
  const get = (consistency: 'linearizable' | 'serializable'): Operation => async (operation) =>
    expectStatus(await operation.send({ method: 'GET', path: `/v1/kv/${keyOf(KEY_PREFIX, operation.sequence, options.keySpace)}?consistency=${consistency}` }));
  const budget = { budgetMs: options.phaseBudgetMs };

  progress(`http: warm-up, writing ${options.keySpace} keys over ${endpoints.length} nodes (not counted)`);
  await runLoad(pools, { endpoints, inFlight: 16, maxOps: options.keySpace, budgetMs: 60_000, operation: put });

  const leader = await findLeader(pools, endpoints);
  progress(`http: warm-up, sequential puts to the leader for ${options.warmUpMs / 1000} s (not counted)`);
  await runLoad(pools, { endpoints: [leader], inFlight: 1, maxOps: options.sequentialPuts, budgetMs: options.warmUpMs, operation: put });
  const pids = endpoints.map((endpoint) => target.pidOf(endpoint));
  const localPids = pids.every((pid) => pid !== null) ? (pids as number[]) : null;
  progress(`http: sequential puts to the leader ${leader} (${options.sequentialPuts} or ${options.phaseBudgetMs / 1000} s)`);
  const sequentialMeter = localPids === null ? null : new CpuMeter(localPids);
  const sequentialNodeMeter = await NodeMeter.start(pools, endpoints);
  const sequentialPut = await runLoad(pools, { endpoints: [leader], inFlight: 1, maxOps: options.sequentialPuts, ...budget, operation: put });
  const sequentialCpuPerPutUs = sequentialMeter?.microsecondsPer(sequentialPut.succeeded) ?? null;
  const sequentialNodes = await sequentialNodeMeter.delta();

  const puts: { inFlight: number; result: LoadResult }[] = [];
  let serverCpu: ServerCpu | null = null;
  let cpuPhaseNodes: Readonly<Record<string, NodePhase | null>> = {};
  for (const inFlight of options.putInFlight) {
    progress(`http: puts, ${inFlight} in flight over ${endpoints.length} nodes (${options.concurrentOps} or ${options.phaseBudgetMs / 1000} s)`);
    const meter = inFlight === options.cpuInFlight && localPids !== null ? new CpuMeter(localPids) : null;
    const nodeMeter = inFlight === options.cpuInFlight ? await NodeMeter.start(pools, endpoints) : null;
    const result = await runLoad(pools, { endpoints, inFlight, maxOps: options.concurrentOps, ...budget, operation: put });
    if (nodeMeter !== null) cpuPhaseNodes = await nodeMeter.delta();
    if (meter !== null) {
      const { cpuSeconds, wallSeconds } = meter.delta();
      serverCpu = {
        perPutUs: meter.microsecondsPer(result.succeeded),
        percentByEndpoint: Object.fromEntries(endpoints.map((endpoint, position) => [endpoint, (100 * (cpuSeconds[position] ?? 0)) / wallSeconds])),
      };
    }
    puts.push({ inFlight, result });
  }

  progress(`http: linearizable gets, ${options.getInFlight} in flight over ${endpoints.length} nodes`);
  const linearizableNodeMeter = await NodeMeter.start(pools, endpoints);
  const linearizableGet = await runLoad(pools, { endpoints, inFlight: options.getInFlight, maxOps: options.concurrentOps, ...budget, operation: get('linearizable') });
  const linearizableGetNodes = await linearizableNodeMeter.delta();
  progress(`http: serializable gets, ${options.getInFlight} in flight over ${endpoints.length} nodes`);
  const serializableGet = await runLoad(pools, { endpoints, inFlight: options.getInFlight, maxOps: options.concurrentOps, ...budget, operation: get('serializable') });
  return { options, leader, nodes: endpoints.length, sequentialPut, sequentialCpuPerPutUs, sequentialNodes, puts, serverCpu, cpuPhaseNodes, linearizableGet, linearizableGetNodes, serializableGet };
}
