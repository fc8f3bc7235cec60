/**
 * etcd 3.4 measured here, now, by the suite's own load generator (`npm run bench:etcd`): the
 * comparison issue 8 asks for ("faster than etcd 3.4 under the same load on the same machine"),
 * without relying on reference figures taken when the machine's floors were 3–7× better.
 *
 * It starts three etcd members itself (the `etcd` binary on PATH, e.g. Debian's etcd-server
 * 3.4.23; default timeouts: heartbeat 100 ms, election 1 s) on 127.0.0.21–23 with data dirs under
 * os.tmpdir(), drives them through etcd's JSON gateway (keep-alive HTTP, as the Concord suite
 * drives Concord), and kills them and removes the data dirs at the end, also on an error. The
 * workloads mirror bench/http.ts and bench/locks.ts with the same options: sequential puts to the
 * leader; puts at 16, 64 and 256 in flight over the three members; linearizable and serializable
 * gets at 64 in flight; the members' CPU per put (from /proc); one client's lock cycle (lease
 * grant + lock + unlock, three calls, as issue 8's etcd figure); eight clients contending on one
 * lock, pinned round-robin to the members (each cycle: grant, lock, unlock); failover as
 * bench/failover.ts measures it (kill -9 of the leader to the first acknowledged write). Figures
 * only; no assertion. Run it next to `npm run bench` on a quiet machine and read the two side by side.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { DEFAULT_FAILOVER_BENCH_OPTIONS, killAndWriteUntilAcknowledged, median } from './failover.ts';
import { DEFAULT_HTTP_BENCH_OPTIONS } from './http.ts';
import { expectStatus, OK, runLoad, type LoadResult, type Operation, type OperationContext, type Outcome } from './load/generator.ts';
import { LatencyHistogram } from './load/histogram.ts';
import { EndpointPools } from './load/pools.ts';
import { CpuMeter } from './load/proc-cpu.ts';
import { keyOf } from './load/suite.ts';
import { DEFAULT_LOCKS_BENCH_OPTIONS } from './locks.ts';
import { formatTable, latencyRows, loadRows, type Row } from './report.ts';

const HOSTS = ['127.0.0.21', '127.0.0.22', '127.0.0.23'];
const CLIENT_PORT = 2379;
const PEER_PORT = 2380;
const START_TIMEOUT_MS = 30_000;
const LEASE_TTL_SECONDS = 5;

interface EtcdCluster {
  readonly endpoints: readonly string[];
  /** The members' pids now (a restarted member has a new one). */
  pids(): number[];
  /** kill -9 of the member at `endpoint`, resolved once it exited. */
  kill(endpoint: string): Promise<void>;
  /** Starts the member at `endpoint` again on its data dir. */
  restart(endpoint: string): void;
  stop(): Promise<void>;
}

const base64 = (text: string): string => Buffer.from(text).toString('base64');

/** POSTs `body` to an etcd gateway path; the parsed answer, or an Outcome naming the failure. */
async function post(operation: OperationContext, route: string, body: unknown): Promise<{ ok: true; json: Record<string, unknown> } | { ok: false; error: string }> {
  const answer = await operation.send({ method: 'POST', path: route, body: JSON.stringify(body) });
  if (answer.status !== 200) return { ok: false, error: `${route} ${answer.status}` };
  return { ok: true, json: JSON.parse(answer.text) as Record<string, unknown> };
}

function killAndWait(child: ChildProcess): Promise<void> {
  return new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

async function startEtcd(progress: (line: string) => void): Promise<EtcdCluster> {
  const dataRoot = mkdtempSync(path.join(os.tmpdir(), 'concord-bench-etcd-'));
  const initialCluster = HOSTS.map((host, i) => `e${i + 1}=http://${host}:${PEER_PORT}`).join(',');
  const endpoints = HOSTS.map((host) => `http://${host}:${CLIENT_PORT}`);
  let spawnError: Error | null = null;
  // The initial-cluster flags are ignored when the data dir exists (a restart).
  const spawnMember = (i: number): ChildProcess => {
    const host = HOSTS[i] ?? '';
    const child = spawn('etcd', [
      '--name', `e${i + 1}`,
      '--data-dir', path.join(dataRoot, `e${i + 1}`),
      '--listen-client-urls', `http://${host}:${CLIENT_PORT}`,
      '--advertise-client-urls', `http://${host}:${CLIENT_PORT}`,
      '--listen-peer-urls', `http://${host}:${PEER_PORT}`,
      '--initial-advertise-peer-urls', `http://${host}:${PEER_PORT}`,
      '--initial-cluster', initialCluster,
      '--initial-cluster-state', 'new',
      '--initial-cluster-token', 'concord-bench',
      '--log-level', 'warn',
    ], { stdio: ['ignore', 'ignore', 'ignore'] });
    child.once('error', (error) => {
      spawnError = new Error(`cannot start etcd (is it on PATH? Debian: apt-get install etcd-server): ${error.message}`);
    });
    return child;
  };
  const children: ChildProcess[] = HOSTS.map((_, i) => spawnMember(i));
  const memberOf = (endpoint: string): number => {
    const i = endpoints.indexOf(endpoint);
    if (i < 0) throw new Error(`${endpoint} is not an etcd member of this run`);
    return i;
  };
  const cluster: EtcdCluster = {
    endpoints,
    pids: () => children.map((child) => child.pid ?? 0),
    kill: (endpoint) => killAndWait(children[memberOf(endpoint)] as ChildProcess),
    restart: (endpoint) => {
      const i = memberOf(endpoint);
      children[i] = spawnMember(i);
    },
    stop: async () => {
      await Promise.all(children.map(killAndWait));
      rmSync(dataRoot, { recursive: true, force: true });
    },
  };
  progress(`etcd: starting three members on ${HOSTS.join(', ')} (data under ${dataRoot})`);
  try {
    await untilAllAnswer(endpoints, () => spawnError);
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  return cluster;
}

/** Waits until every member answers a status request with a leader known. */
async function untilAllAnswer(endpoints: readonly string[], failure: () => Error | null): Promise<void> {
  const pools = new EndpointPools();
  const deadline = performance.now() + START_TIMEOUT_MS;
  try {
    while (!(await allAnswer(pools, endpoints))) {
      const error = failure();
      if (error !== null) throw error;
      if (performance.now() > deadline) throw new Error(`etcd did not answer within ${START_TIMEOUT_MS / 1000} s`);
      await sleep(200);
    }
  } finally {
    await pools.close();
  }
}

/** Whether every member answers a status request with a leader known. */
async function allAnswer(pools: EndpointPools, endpoints: readonly string[]): Promise<boolean> {
  try {
    const answers = await Promise.all(endpoints.map((endpoint) => pools.send(endpoint, { method: 'POST', path: '/v3/maintenance/status', body: '{}' })));
    return answers.every((answer) => answer.status === 200 && (JSON.parse(answer.text) as { leader?: string }).leader !== undefined);
  } catch {
    return false;
  }
}

/** The member whose id is the leader's, by asking each for its status. */
async function findEtcdLeader(pools: EndpointPools, endpoints: readonly string[]): Promise<string> {
  for (const endpoint of endpoints) {
    const answer = await pools.send(endpoint, { method: 'POST', path: '/v3/maintenance/status', body: '{}' });
    const status = JSON.parse(answer.text) as { header?: { member_id?: string }; leader?: string };
    if (status.leader !== undefined && status.header?.member_id === status.leader) return endpoint;
  }
  throw new Error('no etcd member says it leads');
}

/** Lease grant, lock and unlock (issue 8's etcd lock cycle); `onGranted`/`onReleasing` as in locks.ts. */
async function lockCycle(operation: OperationContext, name: string, onGranted?: () => void, onReleasing?: () => void): Promise<Outcome> {
  const lease = await post(operation, '/v3/lease/grant', { TTL: LEASE_TTL_SECONDS });
  if (!lease.ok) return lease;
  const locked = await post(operation, '/v3/lock/lock', { name: base64(name), lease: lease.json['ID'] });
  if (!locked.ok) return locked;
  onGranted?.();
  onReleasing?.();
  const unlocked = await post(operation, '/v3/lock/unlock', { key: locked.json['key'] });
  return unlocked.ok ? OK : unlocked;
}

async function measure(cluster: EtcdCluster, progress: (line: string) => void): Promise<Row[]> {
  const options = DEFAULT_HTTP_BENCH_OPTIONS;
  const locks = DEFAULT_LOCKS_BENCH_OPTIONS;
  const pools = new EndpointPools();
  const { endpoints } = cluster;
  const value = base64('x'.repeat(options.valueBytes));
  const put: Operation = async (operation) => {
    const answer = await post(operation, '/v3/kv/put', { key: base64(keyOf('bench/kv', operation.sequence, options.keySpace)), value });
    return answer.ok ? OK : answer;
  };
  const get = (serializable: boolean): Operation => async (operation) => {
    const answer = await post(operation, '/v3/kv/range', { key: base64(keyOf('bench/kv', operation.sequence, options.keySpace)), serializable });
    return answer.ok ? OK : answer;
  };
  const budget = { budgetMs: options.phaseBudgetMs };
  const rows: Row[] = [];
  try {
    progress(`etcd: warm-up, writing ${options.keySpace} keys (not counted)`);
    await runLoad(pools, { endpoints, inFlight: 16, maxOps: options.keySpace, budgetMs: 60_000, operation: put });
    const leader = await findEtcdLeader(pools, endpoints);
    // The same warm-up as bench/http.ts gives Concord's nodes (etcd has no JIT to warm, but the
    // two measurements should start alike).
    progress(`etcd: warm-up, sequential puts to the leader for ${options.warmUpMs / 1000} s (not counted)`);
    await runLoad(pools, { endpoints: [leader], inFlight: 1, maxOps: options.sequentialPuts, budgetMs: options.warmUpMs, operation: put });
    progress(`etcd: sequential puts to the leader ${leader}`);
    const sequentialMeter = new CpuMeter(cluster.pids());
    const sequential = await runLoad(pools, { endpoints: [leader], inFlight: 1, maxOps: options.sequentialPuts, ...budget, operation: put });
    rows.push(...loadRows('etcd sequential put (1 client, leader)', sequential, 'puts/s'));
    rows.push({ benchmark: 'etcd server CPU per sequential put (all members)', figure: sequentialMeter.microsecondsPer(sequential.succeeded), decimals: 1, unit: 'µs', target: '' });
    for (const inFlight of options.putInFlight) {
      progress(`etcd: puts, ${inFlight} in flight over ${endpoints.length} members`);
      const meter = new CpuMeter(cluster.pids());
      const result = await runLoad(pools, { endpoints, inFlight, maxOps: options.concurrentOps, ...budget, operation: put });
      rows.push(...loadRows(`etcd put, ${inFlight} in flight, ${endpoints.length} members`, result, 'puts/s'));
      if (inFlight === options.cpuInFlight) {
        rows.push({ benchmark: `etcd server CPU per put, ${inFlight} in flight (all members)`, figure: meter.microsecondsPer(result.succeeded), decimals: 1, unit: 'µs', target: '' });
      }
    }
    for (const serializable of [false, true]) {
      const consistency = serializable ? 'serializable' : 'linearizable';
      progress(`etcd: ${consistency} gets, ${options.getInFlight} in flight`);
      const result = await runLoad(pools, { endpoints, inFlight: options.getInFlight, maxOps: options.concurrentOps, ...budget, operation: get(serializable) });
      rows.push(...loadRows(`etcd ${consistency} get, ${options.getInFlight} in flight, ${endpoints.length} members`, result, 'gets/s'));
    }
    progress('etcd: uncontended lock cycles (lease grant + lock + unlock) through the leader');
    await runLoad(pools, { endpoints: [leader], inFlight: 1, maxOps: locks.warmUpCycles, budgetMs: 30_000, operation: (operation) => lockCycle(operation, 'bench-warm-up') });
    const uncontended = await runLoad(pools, { endpoints: [leader], inFlight: 1, maxOps: locks.uncontendedCycles, budgetMs: locks.uncontendedBudgetMs, operation: (operation) => lockCycle(operation, 'bench-uncontended') });
    rows.push(...loadRows('etcd lock cycle, grant+lock+unlock (1 client, leader)', uncontended, 'cycles/s'));
    progress(`etcd: ${locks.contenders} clients contending on one lock`);
    rows.push(...(await contended(pools, endpoints)));
    rows.push(...(await failover(pools, cluster, progress)));
  } finally {
    await pools.close();
  }
  return rows;
}

/** Eight clients on one lock, as bench/locks.ts's contended phase: handoffs and the wait after a release. */
async function contended(pools: EndpointPools, endpoints: readonly string[]): Promise<Row[]> {
  const locks = DEFAULT_LOCKS_BENCH_OPTIONS;
  const afterRelease = new LatencyHistogram();
  let handoffs = 0;
  let releaseSentAt: number | null = null;
  const cycles: LoadResult = await runLoad(pools, {
    endpoints,
    inFlight: locks.contenders,
    routing: 'per-worker',
    maxOps: locks.contendedMaxCycles,
    budgetMs: locks.contendedBudgetMs,
    operation: async (operation) => {
      const outcome = await lockCycle(operation, 'bench-contended', () => {
        if (releaseSentAt === null) return;
        handoffs++;
        afterRelease.recordMs(performance.now() - releaseSentAt);
      }, () => {
        releaseSentAt = performance.now();
      });
      if (!outcome.ok) await sleep(10);
      return outcome;
    },
  });
  return [
    { benchmark: `etcd ${locks.contenders} clients on one lock (${endpoints.length} members) handoffs`, figure: handoffs / cycles.seconds, decimals: 0, unit: 'handoffs/s', target: '' },
    ...latencyRows(`etcd ${locks.contenders} clients wait after a release`, afterRelease.summary(), 'ms (release sent → next grant)'),
    { benchmark: `etcd ${locks.contenders} clients cycles / errors`, figure: `${cycles.succeeded} / ${cycles.failed}`, unit: `in ${cycles.seconds.toFixed(1)} s`, target: '' },
  ];
}

/**
 * As bench/failover.ts: kill -9 of the leader, then one writer per survivor (each put with a 1 s
 * deadline, etcd's Grpc-Timeout) until the first write is acknowledged; the killed member is
 * started again between runs. etcd's default election timeout is 1 s, as Concord's base is.
 */
async function failover(pools: EndpointPools, cluster: EtcdCluster, progress: (line: string) => void): Promise<Row[]> {
  const options = DEFAULT_FAILOVER_BENCH_OPTIONS;
  const value = base64('failover');
  const times: number[] = [];
  for (let run = 0; run < options.runs; run++) {
    const leader = await findEtcdLeader(pools, cluster.endpoints);
    const survivors = cluster.endpoints.filter((endpoint) => endpoint !== leader);
    progress(`etcd failover ${run + 1}/${options.runs}: kill -9 of the leader ${leader}`);
    const write: Operation = async (operation) => {
      const key = base64(`bench/failover/${run}-${operation.sequence}`);
      const answer = await operation.send({ method: 'POST', path: '/v3/kv/put', body: JSON.stringify({ key, value }), headers: { 'grpc-timeout': '1S' } });
      return expectStatus(answer);
    };
    const { failoverMs } = await killAndWriteUntilAcknowledged(pools, survivors, () => cluster.kill(leader), write, options.budgetMs);
    if (failoverMs !== null) times.push(failoverMs);
    progress(`etcd failover ${run + 1}/${options.runs}: ${failoverMs === null ? 'no write acknowledged' : `${failoverMs.toFixed(0)} ms`}; restarting ${leader}`);
    cluster.restart(leader);
    await untilAllAnswer(cluster.endpoints, () => null);
  }
  return [
    { benchmark: 'etcd failover (kill -9 of the leader to first acknowledged write) median', figure: median(times) ?? 'none acknowledged', decimals: 0, unit: 'ms', target: '' },
    { benchmark: 'etcd failover runs', figure: times.map((ms) => ms.toFixed(0)).join(' / '), unit: `ms (${options.runs} runs)`, target: '' },
  ];
}

async function main(): Promise<void> {
  const json = process.argv.includes('--json');
  const progress = (line: string): void => void process.stderr.write(`${line}\n`);
  const cluster = await startEtcd(progress);
  const stopOnSignal = (): void => void cluster.stop().finally(() => process.exit(130));
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);
  let rows: Row[];
  try {
    rows = await measure(cluster, progress);
  } finally {
    await cluster.stop();
  }
  const load = os.loadavg().map((average) => average.toFixed(2)).join(' / ');
  rows.push({ benchmark: 'machine load average (1/5/15 min) at end', figure: load, unit: `on ${os.cpus().length} cores`, target: '' });
  process.stdout.write(json ? `${JSON.stringify(rows, null, 2)}\n` : `${formatTable(rows)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:etcd: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
