/**
 * The registry workload (`npm run bench -- registry`): 1,000 service instances, each
 * heartbeating once a second (plain heartbeats: lease keepalives on the leader, never logged) —
 * on the load generator paced, one worker per instance, staggered over the second. Twice: all
 * sent to the leader, then each instance pinned to one node (followers forward to the leader),
 * so the leader's own cost and the cost of forwarding show apart. Heartbeat p50/p99, late
 * heartbeats, and — when the suite started the cluster — each node's CPU share over the phase
 * (utime + stime from /proc/<pid>/stat; 100 % = one core) next to the leader's idle share
 * measured before any load. Instances are registered before and deregistered after each phase.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { expectStatus, runLoad, type LoadResult, type Operation } from './load/generator.ts';
import { CpuMeter } from './load/proc-cpu.ts';
import { optionsFor, type SuiteContext } from './load/suite.ts';
import { findLeader } from './load/target.ts';

/** Where the instances send their heartbeats: all to the leader, or spread over the nodes. */
export type HeartbeatRoute = 'leader' | 'spread';

export interface RegistryBenchOptions {
  readonly instances: number;
  readonly heartbeatEveryMs: number;
  readonly phaseMs: number;
  readonly instanceTtlMs: number;
  readonly routes: readonly HeartbeatRoute[];
  /** How long the leader's idle CPU share is sampled before any load. */
  readonly idleCpuMs: number;
}

export const DEFAULT_REGISTRY_BENCH_OPTIONS: RegistryBenchOptions = {
  instances: 1_000,
  heartbeatEveryMs: 1_000,
  phaseMs: 10_000,
  // Long enough that the first instances registered are still alive when the last one is
  // (1,000 registrations are 1,000 log writes: seconds on a loaded machine); the TTL does not
  // change what a heartbeat costs.
  instanceTtlMs: 30_000,
  routes: ['leader', 'spread'],
  idleCpuMs: 2_000,
};

/** Still 1,000 instances (the figure is about that many), but two rounds each, not ten. */
export const QUICK_REGISTRY_BENCH_OPTIONS: RegistryBenchOptions = { ...DEFAULT_REGISTRY_BENCH_OPTIONS, phaseMs: 2_000, idleCpuMs: 500 };

export interface RegistryPhase {
  readonly via: HeartbeatRoute;
  readonly registered: number;
  readonly heartbeats: LoadResult;
  /** Each node's share of one core over the phase, in percent, by endpoint; null if not local. */
  readonly cpuPercent: Readonly<Record<string, number>> | null;
  /** The load generator's own share of a core over the phase. */
  readonly clientCpuPercent: number;
  /** Instances still listed after the phase (all of them, unless heartbeats failed). */
  readonly listedAfter: number;
  /** The leader at the end of the phase (a change means the CPU figures mix roles). */
  readonly leaderAfter: string;
}

export interface RegistryBenchResult {
  readonly options: RegistryBenchOptions;
  readonly leader: string;
  readonly nodes: number;
  /** The leader's CPU share before any load, in percent of one core; null if not local. */
  readonly leaderIdleCpuPercent: number | null;
  readonly phases: readonly RegistryPhase[];
}

function localPids(context: SuiteContext): number[] | null {
  const pids = context.target.endpoints.map((endpoint) => context.target.pidOf(endpoint));
  return pids.every((pid) => pid !== null) ? (pids as number[]) : null;
}

async function runPhase(context: SuiteContext, options: RegistryBenchOptions, via: HeartbeatRoute, leader: string): Promise<RegistryPhase> {
  const { target, pools, progress } = context;
  const service = `bench-heartbeat-${via}`;
  const endpoints = via === 'leader' ? [leader] : target.endpoints;
  const instancePath = (index: number): string => `/v1/services/${service}/instances/i${String(index).padStart(5, '0')}`;
  progress(`registry: registering ${options.instances} instances (ttlMs ${options.instanceTtlMs}) ${via === 'leader' ? 'through the leader' : `over ${endpoints.length} nodes`}`);
  const register: Operation = async (operation) => expectStatus(await operation.send({
    method: 'PUT',
    path: instancePath(operation.sequence),
    body: JSON.stringify({ address: `10.9.${Math.floor(operation.sequence / 250)}.${operation.sequence % 250}`, port: 8080, ttlMs: options.instanceTtlMs }),
  }));
  const registration = await runLoad(pools, { endpoints, inFlight: 64, maxOps: options.instances, budgetMs: 60_000, operation: register });
  if (registration.failed > 0) progress(`registry: ${registration.failed} registrations failed: ${JSON.stringify(registration.errors)}`);

  progress(`registry: ${options.instances} instances heartbeating every ${options.heartbeatEveryMs} ms for ${options.phaseMs / 1000} s, ${via === 'leader' ? 'to the leader' : `over ${endpoints.length} nodes (followers forward)`}`);
  const pids = localPids(context);
  const meter = pids === null ? null : new CpuMeter(pids);
  const clientCpuBefore = process.cpuUsage();
  // Worker w is instance w, pinned to one node; the generator staggers workers over the interval.
  const heartbeat: Operation = async (operation) => expectStatus(await operation.send({ method: 'POST', path: `${instancePath(operation.worker)}/heartbeat` }));
  const heartbeats = await runLoad(pools, {
    endpoints,
    inFlight: options.instances,
    routing: 'per-worker',
    workerIntervalMs: options.heartbeatEveryMs,
    maxOps: Number.MAX_SAFE_INTEGER,
    budgetMs: options.phaseMs,
    operation: heartbeat,
  });
  const clientCpu = process.cpuUsage(clientCpuBefore);
  let cpuPercent: Record<string, number> | null = null;
  if (meter !== null) {
    const { cpuSeconds, wallSeconds } = meter.delta();
    cpuPercent = Object.fromEntries(target.endpoints.map((endpoint, position) => [endpoint, (100 * (cpuSeconds[position] ?? 0)) / wallSeconds]));
  }
  const listed = await pools.send(leader, { method: 'GET', path: `/v1/services/${service}` });
  const instances = (JSON.parse(listed.text) as { instances?: unknown }).instances;
  const leaderAfter = await findLeader(pools, target.endpoints);
  if (leaderAfter !== leader) progress(`registry: the leader moved from ${leader} to ${leaderAfter} during this phase: its CPU figure is not the leader's alone`);
  // Deregistered, so that the next phase starts on a quiet cluster (not amid 1,000 expiries).
  await runLoad(pools, {
    endpoints: [leaderAfter],
    inFlight: 32,
    maxOps: options.instances,
    budgetMs: 60_000,
    operation: async (operation) => expectStatus(await operation.send({ method: 'DELETE', path: instancePath(operation.sequence) })),
  });
  return {
    via,
    registered: registration.succeeded,
    heartbeats,
    cpuPercent,
    clientCpuPercent: (clientCpu.user + clientCpu.system) / 1e4 / heartbeats.seconds,
    listedAfter: Array.isArray(instances) ? instances.length : 0,
    leaderAfter,
  };
}

export async function runRegistryBench(context: SuiteContext): Promise<RegistryBenchResult> {
  const options = optionsFor(context, DEFAULT_REGISTRY_BENCH_OPTIONS, QUICK_REGISTRY_BENCH_OPTIONS);
  const leader = await findLeader(context.pools, context.target.endpoints);
  const leaderPid = context.target.pidOf(leader);
  let leaderIdleCpuPercent: number | null = null;
  if (leaderPid !== null) {
    const meter = new CpuMeter([leaderPid]);
    await sleep(options.idleCpuMs);
    const { cpuSeconds, wallSeconds } = meter.delta();
    leaderIdleCpuPercent = (100 * (cpuSeconds[0] ?? 0)) / wallSeconds;
  }
  const phases: RegistryPhase[] = [];
  for (const via of options.routes) phases.push(await runPhase(context, options, via, leader));
  return { options, leader, nodes: context.target.endpoints.length, leaderIdleCpuPercent, phases };
}
