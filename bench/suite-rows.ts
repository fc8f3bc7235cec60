/**
 * The rows of the suite's cluster workloads, each beside its floor (measured by bench/floor.ts
 * on this machine) and etcd 3.4's figure and Concord's target (bench/reference.ts). The floors
 * a workload is read against:
 *
 *   - a durable write (put, txn, lock step): one HTTP round trip plus one fdatasync (p50 with
 *     p50, p99 with p99); its rate at 1 in flight is the inverse;
 *   - N in flight: the bare server's rate at 64 in flight caps every rate, and by Little's law
 *     no p50 can be below N ÷ that rate (nor below one write);
 *   - a read or a heartbeat (not logged): one HTTP round trip;
 *   - server CPU per put: the bare server's CPU per empty request (one process, not three), at 64
 *     in flight, and at 1 in flight for the sequential put (where every message wakes a process).
 */
import type { Floors } from './floor.ts';
import type { FailoverBenchResult } from './failover.ts';
import type { HttpBenchResult } from './http.ts';
import type { NodePhase } from './load/node-metrics.ts';
import type { LocksBenchResult } from './locks.ts';
import type { RegistryBenchResult } from './registry.ts';
import type { TxnBenchResult } from './txn.ts';
import type { WatchBenchResult } from './watch.ts';
import { formatErrors, formatMs, formatNumber, latencyRows, loadRows, type LoadFloors, type Row } from './report.ts';
import { REFERENCE } from './reference.ts';

/** An endpoint's host, to name a node in a row (the local nodes share a port). */
function hostOf(endpoint: string): string {
  const url = new URL(endpoint);
  return url.port === '' ? url.hostname : url.host;
}

/** A node's name among `endpoints`: its hostname alone when every node has the same port. */
function nodeName(endpoint: string, endpoints: readonly string[]): string {
  const samePort = new Set(endpoints.map((each) => new URL(each).port)).size === 1;
  return samePort ? new URL(endpoint).hostname : hostOf(endpoint);
}

/** `endpoint: value` pairs as `node value, ...`. */
function perNodeList<T>(byEndpoint: readonly (readonly [string, T])[], show: (value: T) => string): string {
  const endpoints = byEndpoint.map(([endpoint]) => endpoint);
  return byEndpoint.map(([endpoint, value]) => `${nodeName(endpoint, endpoints)} ${show(value)}`).join(', ');
}

function shareList(percentByEndpoint: Readonly<Record<string, number>>): string {
  return perNodeList(Object.entries(percentByEndpoint), (percent) => percent.toFixed(1));
}

/** The floor cells derived from the measured floors. */
export class FloorCells {
  private readonly writeP50: number;
  private readonly writeP99: number;
  private readonly rate: number;

  constructor(private readonly floors: Floors) {
    this.writeP50 = floors.httpOne.latency.p50Ms + floors.fsyncPreallocated.p50Ms;
    this.writeP99 = floors.httpOne.latency.p99Ms + floors.fsyncPreallocated.p99Ms;
    this.rate = floors.httpMany.opsPerSecond;
  }

  /** `writes` durable writes one after another (a lock cycle is two). */
  sequentialWrites(writes = 1): LoadFloors {
    const cost = writes > 1 ? `${writes}×(rtt+fsync)` : 'rtt+fsync';
    return {
      opsPerSecond: `${formatNumber(1000 / (writes * this.writeP50), 0)} (1/(${cost}))`,
      p50Ms: `${formatMs(writes * this.writeP50)} (${cost})`,
      p99Ms: `${formatMs(writes * this.writeP99)} (${cost})`,
    };
  }

  /** Requests at `inFlight`, durable writes when `durable`. */
  concurrent(inFlight: number, durable: boolean): LoadFloors {
    const little = (inFlight / this.rate) * 1000;
    const one = durable ? this.writeP50 : this.floors.httpOne.latency.p50Ms;
    return {
      opsPerSecond: `${formatNumber(this.rate, 0)} (bare HTTP)`,
      p50Ms: little > one ? `${formatMs(little)} (${inFlight}/bare rate)` : `${formatMs(one)} (${durable ? 'rtt+fsync' : 'rtt'})`,
    };
  }

  get roundTrip(): LoadFloors {
    return {
      opsPerSecond: `${formatNumber(1000 / this.floors.httpOne.latency.p50Ms, 0)} (1/rtt)`,
      p50Ms: `${formatMs(this.floors.httpOne.latency.p50Ms)} (rtt)`,
      p99Ms: `${formatMs(this.floors.httpOne.latency.p99Ms)} (rtt)`,
    };
  }

  get cpuPerRequestUs(): string {
    return `${formatNumber(this.floors.serverCpuPerRequestUs, 1)} (bare HTTP, 1 process)`;
  }

  get cpuPerWakeUs(): string {
    return `${formatNumber(this.floors.serverCpuPerRequestOneUs, 1)} (bare HTTP at 1 in flight, 1 process)`;
  }
}

export function floorRows(floors: Floors): Row[] {
  const fsync = (name: string, latency: Floors['fsyncAppend'], issue: string): Row[] => [
    { benchmark: `floor fdatasync 4 KiB, ${name} p50`, figure: latency.p50Ms, decimals: 3, unit: 'ms', target: issue },
    { benchmark: `floor fdatasync 4 KiB, ${name} p99`, figure: latency.p99Ms, decimals: 3, unit: 'ms', target: '' },
    { benchmark: `floor fdatasync 4 KiB, ${name} samples`, figure: latency.count, unit: 'writes', target: '' },
  ];
  const issueNote = { etcd: '', target: '' };
  return [
    ...fsync('preallocated file', floors.fsyncPreallocated, 'issue 8 here: ≈ 0.045'),
    ...fsync('appending', floors.fsyncAppend, ''),
    ...loadRows('floor empty HTTP, bare node:http, 1 in flight', floors.httpOne, 'req/s', {}, { p50Ms: { ...issueNote, target: 'issue 8 here: ≈ 0.03' } }),
    ...loadRows(`floor empty HTTP, bare node:http, ${floors.httpManyInFlight} in flight`, floors.httpMany, 'req/s', {}, { opsPerSecond: { ...issueNote, target: 'issue 8 here: ≈ 70,000' } }),
    { benchmark: 'floor bare node:http server CPU per request, 1 in flight', figure: floors.serverCpuPerRequestOneUs, decimals: 1, unit: 'µs', target: '' },
    { benchmark: `floor bare node:http server CPU per request, ${floors.httpManyInFlight} in flight`, figure: floors.serverCpuPerRequestUs, decimals: 1, unit: 'µs', target: '' },
  ];
}

export function httpRows(result: HttpBenchResult, floors: FloorCells): Row[] {
  const nodes = `${result.nodes} nodes`;
  const rows: Row[] = [...loadRows('http sequential put (1 client, leader)', result.sequentialPut, 'puts/s', floors.sequentialWrites(), REFERENCE.sequentialPut)];
  rows.push(...writePathRows(result));
  rows.push({
    benchmark: 'http server CPU per sequential put (all nodes)',
    figure: result.sequentialCpuPerPutUs ?? 'n/a (--endpoints: no pids)',
    decimals: 1,
    unit: 'µs',
    floor: floors.cpuPerWakeUs,
    target: '',
  });
  for (const { inFlight, result: phase } of result.puts) {
    rows.push(...loadRows(`http put, ${inFlight} in flight, ${nodes}`, phase, 'puts/s', floors.concurrent(inFlight, true), REFERENCE.puts[inFlight] ?? {}));
  }
  const cpu = result.serverCpu;
  rows.push({
    benchmark: `http server CPU per put, ${result.options.cpuInFlight} in flight (all nodes)`,
    figure: cpu === null ? 'n/a (--endpoints: no pids)' : cpu.perPutUs,
    decimals: 1,
    unit: 'µs',
    floor: floors.cpuPerRequestUs,
    etcd: REFERENCE.cpuPerPutUs.etcd,
    target: REFERENCE.cpuPerPutUs.target,
  });
  if (cpu !== null) {
    const shares = Object.values(cpu.percentByEndpoint);
    rows.push({
      benchmark: `http nodes' CPU, put ${result.options.cpuInFlight} in flight`,
      figure: shares.reduce((sum, percent) => sum + percent, 0),
      decimals: 0,
      unit: `% of a core, summed (${shareList(cpu.percentByEndpoint)}; leader ${nodeName(result.leader, Object.keys(cpu.percentByEndpoint))})`,
      target: '',
    });
  }
  rows.push(...pauseRows(`put ${result.options.cpuInFlight} in flight`, result.cpuPhaseNodes, result.leader));
  const cpuPhase = result.puts.find((phase) => phase.inFlight === result.options.cpuInFlight);
  if (cpuPhase !== undefined) {
    rows.push(...peerRows(`put ${result.options.cpuInFlight} in flight`, 'put', cpuPhase.result.succeeded, result.cpuPhaseNodes, result.leader));
  }
  const get = result.options.getInFlight;
  rows.push(...loadRows(`http linearizable get, ${get} in flight, ${nodes}`, result.linearizableGet, 'gets/s', floors.concurrent(get, false), REFERENCE.linearizableGet));
  rows.push(...peerRows(`linearizable get ${get} in flight`, 'get', result.linearizableGet.succeeded, result.linearizableGetNodes, result.leader));
  rows.push(...loadRows(`http serializable get, ${get} in flight, ${nodes}`, result.serializableGet, 'gets/s', floors.concurrent(get, false), REFERENCE.serializableGet));
  return rows;
}

/**
 * What the nodes sent each other per operation over a phase: Raft messages, and frames (socket
 * writes, each waking a peer). None when no node has the metrics or nothing succeeded.
 */
function peerRows(phase: string, operation: string, operations: number, nodes: Readonly<Record<string, NodePhase | null>>, leader: string): Row[] {
  const measured = measuredNodes(nodes);
  if (measured.length === 0 || operations === 0) return [];
  const perOperation = (count: number): string => (count / operations).toFixed(2);
  const messages = measured.reduce((sum, [, node]) => sum + node.peerMessagesSent, 0);
  const frames = measured.reduce((sum, [, node]) => sum + node.peerFramesSent, 0);
  return [
    {
      benchmark: `http peer messages per ${operation}, ${phase}`,
      figure: messages / operations,
      decimals: 2,
      unit: `messages, summed (${perNodeList(measured, (node) => perOperation(node.peerMessagesSent))}; leader ${nodeName(leader, Object.keys(nodes))}); frames ${perOperation(frames)}`,
      target: '',
    },
  ];
}

function measuredNodes(nodes: Readonly<Record<string, NodePhase | null>>): [string, NodePhase][] {
  return Object.entries(nodes).filter((entry): entry is [string, NodePhase] => entry[1] !== null);
}

/**
 * Where one client's write spends its time, as means over the sequential phase: at the client;
 * on the leader from the request's arrival to its answer (the rest is the two trips between the
 * client and the leader); of which from proposing to applying (the rest is HTTP, parsing and the
 * answer); and each node's synced storage write (the leader's own, and the followers' that the
 * commit waits for).
 */
function writePathRows(result: HttpBenchResult): Row[] {
  const leader = result.sequentialNodes[result.leader];
  if (leader === null || leader === undefined) return [];
  const ms = (value: number | null): string => (value === null ? 'n/a' : formatMs(value));
  const fsyncs = perNodeList(measuredNodes(result.sequentialNodes), (node) => ms(node.fsyncMs));
  return [
    {
      benchmark: 'http sequential put: where the time goes (means)',
      figure: result.sequentialPut.latency.meanMs,
      decimals: 3,
      unit: `ms at the client; on the leader ${ms(leader.httpPutMs)} from request to answer, of which ${ms(leader.proposalMs)} from proposing to applying; synced writes ${fsyncs} (leader ${nodeName(result.leader, Object.keys(result.sequentialNodes))})`,
      target: '',
    },
  ];
}

/** The nodes' GC pauses and event-loop stalls over a phase (none when no node has the metrics). */
function pauseRows(phase: string, nodes: Readonly<Record<string, NodePhase | null>>, leader: string): Row[] {
  const measured = measuredNodes(nodes);
  if (measured.length === 0) return [];
  const each = (show: (node: NodePhase) => string): string => perNodeList(measured, show);
  const total = (read: (node: NodePhase) => number): number => measured.reduce((sum, [, node]) => sum + read(node), 0);
  return [
    {
      benchmark: `http nodes' GC pauses, ${phase}`,
      figure: total((node) => node.gcMs),
      decimals: 0,
      unit: `ms, summed (${each((node) => `${node.gcMs.toFixed(0)} in ${node.gcCount}`)}; leader ${nodeName(leader, Object.keys(nodes))})`,
      target: '',
    },
    {
      benchmark: `http nodes' event-loop stalls over 50 ms, ${phase}`,
      figure: total((node) => node.stallsOver50ms),
      decimals: 0,
      unit: `stalls, summed (${each((node) => String(node.stallsOver50ms))}; over 10 ms: ${each((node) => String(node.stallsOver10ms))})`,
      target: '',
    },
  ];
}

export function txnRows(result: TxnBenchResult, floors: FloorCells): Row[] {
  const { options } = result;
  const name = `txn CAS on ${options.hotKeys} hot keys, ${options.inFlight} in flight, ${result.nodes} nodes`;
  const answered = result.succeeded + result.compareFailed;
  return [
    ...loadRows(name, result.result, 'txns/s', floors.concurrent(options.inFlight, true)),
    { benchmark: `${name} succeeded`, figure: result.succeeded / result.result.seconds, decimals: 0, unit: 'swaps/s', target: '' },
    {
      benchmark: `${name} compare failures`,
      figure: answered === 0 ? Number.NaN : (100 * result.compareFailed) / answered,
      decimals: 1,
      unit: `% of answered txns (${result.compareFailed} of ${answered})`,
      target: '',
    },
  ];
}

export function locksRows(result: LocksBenchResult, floors: FloorCells): Row[] {
  const { contended, options } = result;
  const contenders = options.contenders;
  const cycle = floors.sequentialWrites(2);
  const handoffFloor = floors.sequentialWrites(1);
  return [
    { benchmark: 'locks uncontended acquire+release (1 client, leader)', figure: result.uncontended.opsPerSecond, decimals: 0, unit: 'cycles/s', floor: cycle.opsPerSecond ?? '', etcd: REFERENCE.lockCycle.opsPerSecond.etcd, target: REFERENCE.lockCycle.opsPerSecond.target },
    // Without the rate row (the row above, under its long-standing name), and with the count row
    // under its long-standing name too.
    ...loadRows('locks uncontended cycle', result.uncontended, 'cycles/s', cycle, REFERENCE.lockCycle).slice(1)
      .map((row) => (row.benchmark.endsWith('done / errors') ? { ...row, benchmark: 'locks uncontended done / errors' } : row)),
    { benchmark: `locks ${contenders} clients on one lock (${result.nodes} nodes) handoffs`, figure: contended.handoffsPerSecond, decimals: 0, unit: 'handoffs/s', floor: handoffFloor.opsPerSecond ?? '', etcd: REFERENCE.handoffsPerSecond.etcd, target: REFERENCE.handoffsPerSecond.target },
    ...latencyRows(`locks ${contenders} clients wait after a release`, contended.afterRelease, 'ms (release sent → next grant)', { floor: handoffFloor.p50Ms ?? '' }),
    ...latencyRows(`locks ${contenders} clients acquire wait in line`, contended.acquireWait, 'ms (acquire sent → grant)', { reference: REFERENCE.acquireWaitP50Ms }).slice(0, 2),
    {
      benchmark: `locks ${contenders} clients grants / errors`,
      figure: `${contended.grantsPerClient.reduce((sum, grants) => sum + grants, 0)} / ${contended.cycles.failed}`,
      unit: `in ${contended.cycles.seconds.toFixed(1)} s; per client ${contended.grantsPerClient.join(' ')}${contended.cycles.failed > 0 ? `; failed: ${formatErrors(contended.cycles.errors)}` : ''}`,
      target: '',
    },
  ];
}

export function registryRows(result: RegistryBenchResult, floors: FloorCells): Row[] {
  return result.phases.flatMap((phase): Row[] => {
    const name = `registry ${result.options.instances.toLocaleString('en')} instances, heartbeats ${phase.via === 'leader' ? 'to the leader' : `over ${result.nodes} nodes`}`;
    const beats = phase.heartbeats;
    const leaderCpu = phase.cpuPercent?.[result.leader];
    const followers = phase.cpuPercent === null ? null : Object.entries(phase.cpuPercent).filter(([endpoint]) => endpoint !== result.leader);
    const idle = result.leaderIdleCpuPercent === null ? '' : ` (idle before: ${result.leaderIdleCpuPercent.toFixed(1)} %)`;
    const moved = phase.leaderAfter === result.leader ? '' : ` (leader moved to ${phase.leaderAfter})`;
    return [
      { benchmark: `${name}: heartbeat p50`, figure: beats.latency.p50Ms, decimals: 3, unit: 'ms', floor: floors.roundTrip.p50Ms ?? '', target: '' },
      { benchmark: `${name}: heartbeat p99`, figure: beats.latency.p99Ms, decimals: 3, unit: 'ms', floor: floors.roundTrip.p99Ms ?? '', target: '' },
      { benchmark: `${name}: leader CPU`, figure: leaderCpu ?? 'n/a (--endpoints: no pids)', decimals: 1, unit: `% of a core${idle}${moved}`, target: '' },
      {
        benchmark: `${name}: follower CPU`,
        figure: followers === null ? 'n/a (--endpoints: no pids)' : followers.reduce((sum, [, percent]) => sum + percent, 0),
        decimals: 1,
        unit: followers === null ? '' : `% of a core, summed (${shareList(Object.fromEntries(followers))})`,
        target: '',
      },
      { benchmark: `${name}: load generator CPU`, figure: phase.clientCpuPercent, decimals: 1, unit: '% of a core (this process)', target: '' },
      {
        benchmark: `${name}: done / errors / late`,
        figure: `${beats.succeeded} / ${beats.failed} / ${beats.late}`,
        unit: `in ${beats.seconds.toFixed(1)} s (${beats.opsPerSecond.toFixed(0)}/s)${beats.failed > 0 ? `; failed: ${formatErrors(beats.errors)}` : ''}`,
        target: '',
      },
      { benchmark: `${name}: still listed after`, figure: phase.listedAfter, unit: `of ${phase.registered} registered`, target: result.options.instances.toLocaleString('en') },
    ];
  });
}

export function watchRows(result: WatchBenchResult): Row[] {
  const { options } = result;
  const name = `watch fan-out, 1 writer, ${result.watchersOpen} watchers on one prefix, ${result.nodes} nodes`;
  const expected = result.writes.succeeded * result.watchersOpen;
  return [
    ...latencyRows(`${name}: delivery`, result.delivery, 'ms (put acknowledged → event received)'),
    {
      benchmark: `${name}: deliveries / missing / duplicates`,
      figure: `${result.delivered} / ${result.missing} / ${result.duplicates}`,
      unit: `of ${expected} (${result.writes.succeeded} puts at 1 per ${options.writeEveryMs} ms; ${result.beforeAck} before the ack)${result.writes.failed > 0 ? `; put errors: ${formatErrors(result.writes.errors)}` : ''}`,
      target: '0 missing, 0 duplicates',
    },
  ];
}

export function failoverRows(result: FailoverBenchResult): Row[] {
  const runs = result.runs.map((run) => (run.failoverMs === null ? 'none' : run.failoverMs.toFixed(0))).join(' / ');
  return [
    {
      benchmark: 'failover (kill -9 of the leader to first acknowledged write) median',
      figure: result.medianMs ?? 'none in budget',
      decimals: 0,
      unit: 'ms',
      etcd: REFERENCE.failoverMedianMs.etcd,
      target: REFERENCE.failoverMedianMs.target,
    },
    { benchmark: 'failover runs', figure: runs, unit: `ms (killed: ${result.runs.map((run) => hostOf(run.killed)).join(', ')})`, target: '' },
  ];
}
