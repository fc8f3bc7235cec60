/**
 * The locks and registry benchmark (`npm run bench -- locks`): a real three-node cluster of
 * `concord serve` processes on loopback (the test/cluster harness, temp data dirs, the
 * production fsync path), driven over keep-alive connections with undici:
 *
 *   - uncontended: one client acquires (ttlMs, try once) and releases one lock through the
 *     leader, cycle after cycle: cycles/s, cycle p50/p99;
 *   - contended: eight clients, spread over the three nodes (followers forward), each acquiring
 *     one lock with waitMs and releasing it at once, for 10 s: handoffs/s, the wait after a
 *     release (release sent → the next holder's grant received), and each acquire's wait in
 *     line (comparable to etcd's figure);
 *   - registry: 1,000 instances, each heartbeating once a second (plain heartbeats: lease
 *     keepalives on the leader, never logged), twice: all sent to the leader, then spread over
 *     the three nodes (followers forward to the leader), so the leader's own cost and the cost
 *     of forwarding show apart. Heartbeat p50/p99 and each node's CPU share over the phase
 *     (utime + stime from /proc/<pid>/stat; 100 % = one core), next to the leader's idle share
 *     measured before any load, and the load generator's own share.
 *
 * Every phase is bounded by a count and a time budget; the cluster is always torn down. The
 * machine's load average is recorded with the figures: on a shared machine they say as much
 * about the neighbours as about Concord.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { request } from 'undici';
import { LocalCluster, sleep } from '../test/cluster/harness.ts';
import { percentile, runPhase, type PhaseResult } from './http.ts';

export interface LocksBenchOptions {
  readonly uncontendedCycles: number;
  readonly uncontendedBudgetMs: number;
  readonly warmUpCycles: number;
  readonly contenders: number;
  readonly contendedMs: number;
  /** Upper bound on grants in the contended phase (it normally ends by time). */
  readonly contendedMaxGrants: number;
  readonly contendedWaitMs: number;
  readonly instances: number;
  readonly heartbeatEveryMs: number;
  readonly heartbeatPhaseMs: number;
  readonly instanceTtlMs: number;
  /** One heartbeat phase per entry, each with its own 1,000 instances. */
  readonly heartbeatRoutes: readonly HeartbeatRoute[];
  readonly idleCpuMs: number;
}

export const DEFAULT_LOCKS_BENCH_OPTIONS: LocksBenchOptions = {
  uncontendedCycles: 5_000,
  uncontendedBudgetMs: 10_000,
  warmUpCycles: 200,
  contenders: 8,
  contendedMs: 10_000,
  contendedMaxGrants: 100_000,
  contendedWaitMs: 5_000,
  instances: 1_000,
  heartbeatEveryMs: 1_000,
  heartbeatPhaseMs: 15_000,
  instanceTtlMs: 5_000,
  heartbeatRoutes: ['leader', 'spread'],
  idleCpuMs: 3_000,
};

export interface LatencySummary {
  readonly count: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

export interface ContendedResult {
  readonly seconds: number;
  readonly grants: number;
  /** Grants that followed a release (the lock went from one holder straight to a waiter). */
  readonly handoffs: number;
  readonly handoffsPerSecond: number;
  /** Release sent → the next holder's grant received. */
  readonly afterRelease: LatencySummary;
  /** Acquire sent → granted (the time in line). */
  readonly acquireWait: LatencySummary;
  readonly errors: number;
  /** Failed calls by status ("423", "504", ...; "network" when no answer came). */
  readonly errorStatuses: Readonly<Record<string, number>>;
  readonly grantsPerClient: readonly number[];
}

export interface NodeCpu {
  readonly id: string;
  readonly leader: boolean;
  /** CPU seconds per wall second, in percent of one core. */
  readonly percent: number;
}

/** Where the instances send their heartbeats: all to the leader, or spread over the nodes. */
export type HeartbeatRoute = 'leader' | 'spread';

export interface RegistryResult {
  readonly via: HeartbeatRoute;
  readonly instances: number;
  /** Registrations that succeeded. */
  readonly registered: number;
  readonly registerSeconds: number;
  readonly seconds: number;
  readonly heartbeats: LatencySummary;
  readonly heartbeatsPerSecond: number;
  readonly errors: number;
  /** Failed heartbeats by status ("404" = the instance had expired; "network" when no answer came). */
  readonly errorStatuses: Readonly<Record<string, number>>;
  /** Heartbeats sent more than one interval late (the previous one was still in flight). */
  readonly late: number;
  readonly cpu: readonly NodeCpu[];
  /** This process (the load generator) over the phase, in percent of one core. */
  readonly clientCpuPercent: number;
  /** Instances still listed after the phase (all of them, unless heartbeats failed). */
  readonly listedAfter: number;
  /** The leader at the end of the phase (a change means the CPU figures mix roles). */
  readonly leaderAfter: string;
}

export interface LocksBenchResult {
  readonly leader: string;
  readonly loadAverageAtStart: readonly number[];
  readonly loadAverageAtEnd: readonly number[];
  readonly cores: number;
  /** The leader's CPU share before any load, in percent of one core. */
  readonly leaderIdleCpuPercent: number;
  readonly uncontended: PhaseResult;
  readonly contended: ContendedResult;
  readonly registry: readonly RegistryResult[];
}

interface Answer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

function summarize(latencies: number[]): LatencySummary {
  latencies.sort((a, b) => a - b);
  return {
    count: latencies.length,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
    maxMs: latencies[latencies.length - 1] ?? Number.NaN,
  };
}

function countError(counts: Record<string, number>, answer: Answer | null): void {
  const key = answer === null ? 'network' : String(answer.status);
  counts[key] = (counts[key] ?? 0) + 1;
}

let clockTicksPerSecond: number | null = null;

/** utime + stime of a process, in seconds (Linux /proc). */
function cpuSeconds(pid: number): number {
  if (clockTicksPerSecond === null) {
    try {
      clockTicksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicksPerSecond = 100;
    }
  }
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start with field 3, the state.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / clockTicksPerSecond;
}

export async function runLocksBench(options: LocksBenchOptions, progress: (line: string) => void): Promise<LocksBenchResult> {
  const loadAverageAtStart = os.loadavg();
  const cluster = await LocalCluster.create({ extraArgs: ['--log-level', 'warn'] });
  try {
    progress(`locks: starting three concord serve processes in ${cluster.root} (load average ${loadAverageAtStart.map((load) => load.toFixed(2)).join(' ')} on ${os.cpus().length} cores)`);
    cluster.startAll();
    const leader = await cluster.waitLeader(60_000);
    const ids = cluster.ids;
    const pidOf = (id: string): number => {
      const pid = cluster.node(id).child?.pid;
      if (pid === undefined) throw new Error(`no pid for ${id}`);
      return pid;
    };
    const call: Call = async (id, method, path, body) => {
      const response = await request(`${cluster.url(id)}${path}`, {
        method,
        dispatcher: cluster.agent,
        ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
        headersTimeout: 30_000,
        bodyTimeout: 30_000,
      });
      const text = await response.body.text();
      let parsed: Record<string, unknown> = {};
      try {
        parsed = JSON.parse(text) as Record<string, unknown>;
      } catch {
        // not JSON: an error page would be a bug, counted as a failed call by the status
      }
      return { status: response.statusCode, body: parsed };
    };

    // The leader's idle CPU share first, before anything has been asked of the cluster.
    const idleStart = { cpu: cpuSeconds(pidOf(leader)), wall: performance.now() };
    await sleep(options.idleCpuMs);
    const leaderIdleCpuPercent = (100 * (cpuSeconds(pidOf(leader)) - idleStart.cpu)) / ((performance.now() - idleStart.wall) / 1000);

    const cycle = async (id: string, lock: string): Promise<boolean> => {
      const acquired = await call(id, 'POST', `/v1/locks/${lock}/acquire`, { ttlMs: 5_000 });
      if (acquired.status !== 200) return false;
      const released = await call(id, 'POST', `/v1/locks/${lock}/release`, { token: acquired.body['token'] });
      return released.status === 200;
    };
    progress(`locks: leader ${leader}; warm-up (${options.warmUpCycles} cycles, not counted)`);
    await runPhase(options.warmUpCycles, 1, 30_000, () => cycle(leader, 'bench-warm-up'));
    progress(`locks: uncontended acquire+release through the leader (${options.uncontendedCycles} cycles or ${options.uncontendedBudgetMs / 1000} s)`);
    const uncontended = await runPhase(options.uncontendedCycles, 1, options.uncontendedBudgetMs, () => cycle(leader, 'bench-uncontended'));

    progress(`locks: ${options.contenders} clients over three nodes contending on one lock for ${options.contendedMs / 1000} s`);
    const contended = await runContended(options, ids, call);

    const registry: RegistryResult[] = [];
    for (const via of options.heartbeatRoutes) {
      // A fresh service per variant: the first variant's instances may have expired.
      registry.push(await runRegistry(options, via, ids, leader, pidOf, call, progress));
    }
    return {
      leader,
      loadAverageAtStart,
      loadAverageAtEnd: os.loadavg(),
      cores: os.cpus().length,
      leaderIdleCpuPercent,
      uncontended,
      contended,
      registry,
    };
  } finally {
    await cluster.destroy();
  }
}

type Call = (id: string, method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown) => Promise<Answer>;

async function runContended(options: LocksBenchOptions, ids: readonly string[], call: Call): Promise<ContendedResult> {
  const afterRelease: number[] = [];
  const acquireWait: number[] = [];
  const grantsPerClient = Array.from({ length: options.contenders }, () => 0);
  let grants = 0;
  let handoffs = 0;
  let errors = 0;
  const errorStatuses: Record<string, number> = {};
  // Holders follow one another, so at most one release is outstanding: the one the next
  // grant follows.
  let releaseSentAt: number | null = null;
  const startedAt = performance.now();
  const deadline = startedAt + options.contendedMs;
  const client = async (index: number): Promise<void> => {
    const via = ids[index % ids.length] ?? 'n1';
    while (performance.now() < deadline && grants < options.contendedMaxGrants) {
      const sentAt = performance.now();
      const acquired = await call(via, 'POST', '/v1/locks/bench-contended/acquire', { ttlMs: 5_000, waitMs: options.contendedWaitMs, owner: `client-${index}` }).catch(() => null);
      const grantedAt = performance.now();
      if (acquired?.status !== 200) {
        errors++;
        countError(errorStatuses, acquired);
        await sleep(10);
        continue;
      }
      // Grants after the deadline (the line draining) are not counted.
      if (grantedAt <= deadline) {
        grants++;
        grantsPerClient[index] = (grantsPerClient[index] ?? 0) + 1;
        acquireWait.push(grantedAt - sentAt);
        if (releaseSentAt !== null) {
          handoffs++;
          afterRelease.push(grantedAt - releaseSentAt);
        }
      }
      releaseSentAt = performance.now();
      const released = await call(via, 'POST', '/v1/locks/bench-contended/release', { token: acquired.body['token'] }).catch(() => null);
      if (released?.status !== 200) {
        errors++;
        countError(errorStatuses, released);
      }
    }
  };
  await Promise.all(Array.from({ length: options.contenders }, (_, index) => client(index)));
  const seconds = options.contendedMs / 1000;
  return {
    seconds,
    grants,
    handoffs,
    handoffsPerSecond: handoffs / seconds,
    afterRelease: summarize(afterRelease),
    acquireWait: summarize(acquireWait),
    errors,
    errorStatuses,
    grantsPerClient,
  };
}

async function runRegistry(
  options: LocksBenchOptions,
  via: HeartbeatRoute,
  ids: readonly string[],
  leader: string,
  pidOf: (id: string) => number,
  call: Call,
  progress: (line: string) => void,
): Promise<RegistryResult> {
  const service = `bench-heartbeat-${via}`;
  const nodeFor = (index: number): string => (via === 'leader' ? leader : ids[index % ids.length] ?? leader);
  const instancePath = (index: number): string => `/v1/services/${service}/instances/i${String(index).padStart(5, '0')}`;
  progress(`locks: registering ${options.instances} instances (ttlMs ${options.instanceTtlMs}) ${via === 'leader' ? 'through the leader' : 'over three nodes'}`);
  const registered = performance.now();
  const registration = await runPhase(options.instances, 32, 60_000, async (index) => {
    const answer = await call(nodeFor(index), 'PUT', instancePath(index), {
      address: `10.9.${Math.floor(index / 250)}.${index % 250}`,
      port: 8080,
      ttlMs: options.instanceTtlMs,
    });
    return answer.status === 200;
  });
  const registerSeconds = (performance.now() - registered) / 1000;
  if (registration.errors > 0) progress(`locks: ${registration.errors} registrations failed`);
  progress(`locks: ${options.instances} instances heartbeating every ${options.heartbeatEveryMs} ms for ${options.heartbeatPhaseMs / 1000} s, ${via === 'leader' ? 'to the leader' : 'over three nodes (followers forward)'}`);
  const latencies: number[] = [];
  let errors = 0;
  const errorStatuses: Record<string, number> = {};
  let late = 0;
  const rounds = Math.floor(options.heartbeatPhaseMs / options.heartbeatEveryMs);
  const cpuBefore = ids.map((id) => cpuSeconds(pidOf(id)));
  const clientCpuBefore = process.cpuUsage();
  const startedAt = performance.now();
  const deadline = startedAt + options.heartbeatPhaseMs;
  // Instance i heartbeats at startedAt + i × (interval / instances) + k × interval, k < rounds.
  const instance = async (index: number): Promise<void> => {
    const node = nodeFor(index);
    const offset = (index * options.heartbeatEveryMs) / options.instances;
    for (let round = 0; round < rounds; round++) {
      const due = startedAt + offset + round * options.heartbeatEveryMs;
      const now = performance.now();
      if (due >= deadline) break;
      if (due > now) await sleep(due - now);
      else if (now - due > options.heartbeatEveryMs) late++;
      const sentAt = performance.now();
      const answer = await call(node, 'POST', `${instancePath(index)}/heartbeat`).catch(() => null);
      if (answer?.status === 200) {
        latencies.push(performance.now() - sentAt);
      } else {
        errors++;
        countError(errorStatuses, answer);
      }
    }
  };
  await Promise.all(Array.from({ length: options.instances }, (_, index) => instance(index)));
  const seconds = (performance.now() - startedAt) / 1000;
  const clientCpu = process.cpuUsage(clientCpuBefore);
  const clientCpuPercent = (clientCpu.user + clientCpu.system) / 1e4 / seconds;
  const cpu = ids.map((id, position) => ({
    id,
    leader: id === leader,
    percent: (100 * (cpuSeconds(pidOf(id)) - (cpuBefore[position] ?? 0))) / seconds,
  }));
  const listed = await call(leader, 'GET', `/v1/services/${service}`);
  const listedAfter = Array.isArray(listed.body['instances']) ? listed.body['instances'].length : 0;
  const leaderAfter = String((await call(leader, 'GET', '/v1/cluster')).body['leaderId'] ?? '');
  if (leaderAfter !== leader) progress(`locks: the leader changed from ${leader} to ${leaderAfter} by the end of this phase: its CPU figure is not the leader's alone`);
  // Deregistered, so that the next phase starts on a quiet cluster (not amid 1,000 expiries).
  await runPhase(options.instances, 32, 30_000, async (index) => (await call(leader, 'DELETE', instancePath(index))).status === 200);
  return {
    via,
    instances: options.instances,
    registered: registration.operations,
    registerSeconds,
    seconds,
    heartbeats: summarize(latencies),
    heartbeatsPerSecond: latencies.length / seconds,
    errors,
    errorStatuses,
    late,
    cpu,
    clientCpuPercent,
    listedAfter,
    leaderAfter,
  };
}
