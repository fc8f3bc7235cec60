/**
 * One chaos run: start a fresh three-node cluster, run the chosen workloads against it while
 * the nemeses attack it, stop the faults and heal everything, then check what the clients saw
 * (linearizability, fencing, durability after the heal and after a full-cluster kill -9 and
 * restart, recovery time). Everything the run saw goes to its run folder. Cleanup (processes,
 * temp dirs, the iptables chain) happens whatever goes wrong.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { SeededRandom, type Random } from '../src/common/random.ts';
import { checkAckedWritesPresent, checkFencedTokens, checkGrantOrder, checkRegisterLinearizable, replayAllFencedWrites, type CheckResult } from './checks.ts';
import { ChaosHttp } from './client.ts';
import { ChaosCluster } from './cluster.ts';
import { History } from './history.ts';
import { checkLockLinearizable } from './lock-check.ts';
import { DEFAULT_TIMING, faultSpans, NemesisRunner, PARTITION_NEMESES, type NemesisName, type NemesisTiming } from './nemesis.ts';
import { Netfilter, partitionSupport } from './netfilter.ts';
import { checkRegistryAgreement, checkRegistryKept, checkRegistryRemoved, mustExpire, removalBound, untilLeaderServes, type ServedWrite } from './registry-check.ts';
import { formatSummary, progressLine } from './report.ts';
import { readSse } from './sse.ts';
import { checkWatchFinalState, checkWatchMatchesWrites, checkWatchStreams } from './watch-check.ts';
import { DEFAULT_LOCK, LockWorkload, type LockOptions } from './workloads/lock.ts';
import { DEFAULT_REGISTER, RegisterWorkload, type RegisterOptions } from './workloads/register.ts';
import { DEFAULT_REGISTRY, RegistryWorkload, type RegistryOptions } from './workloads/registry.ts';
import { changeOf, DEFAULT_WATCH, WATCH_PREFIX, WatchWorkload, type SeenEvent, type WatchOptions } from './workloads/watch.ts';
import type { Workload, WorkloadContext } from './workloads/workload.ts';

export type WorkloadName = 'register' | 'lock' | 'watch' | 'registry';
export const WORKLOAD_NAMES: readonly WorkloadName[] = ['register', 'lock', 'watch', 'registry'];

/** After the final heal: every node a voter again within this (a membership fault may have left one joining). */
const VOTERS_BOUND_MS = 45_000;
/** After the faults stop, how long the watchers get to reach the end marker. */
const WATCH_DRAIN_MS = 30_000;

export interface ChaosOptions {
  readonly durationMs: number;
  readonly workloads: readonly WorkloadName[];
  readonly nemeses: readonly NemesisName[];
  readonly seed: number;
  /** The run folder (created). */
  readonly outDir: string;
  /** After the faults stop: a leader and an accepted write within this bound. */
  readonly recoveryBoundMs: number;
  readonly timing: NemesisTiming;
  readonly register: RegisterOptions;
  readonly lock: LockOptions;
  readonly watch: WatchOptions;
  readonly registry: RegistryOptions;
  /** > 0: start the nodes with the hidden test-only `--test-stale-reads-ms` planted bug. */
  readonly plantStaleReadsMs: number;
  /**
   * Kill every node at once after the checks, restart them and check again (the default).
   * Tests that cover something else turn it off to stay short.
   */
  readonly fullRestart: boolean;
  /** Linearizability search budget per key. */
  readonly maxStatesPerKey: number;
  /** Echo the nodes' logs to stderr. */
  readonly echo: boolean;
  /** Where progress lines go (null: nowhere). */
  readonly progress: ((line: string, final: boolean) => void) | null;
  /** Aborting ends the workload phase early (Ctrl-C); the checks still run. */
  readonly signal?: AbortSignal;
  /**
   * Called once the iptables chain exists and once the cluster is up, so a signal handler can
   * clean up synchronously; `savePartial` writes the history and timeline so far to the run
   * folder at once (for a second Ctrl-C, which does not wait for the run to finish).
   */
  readonly onResources?: (resources: { readonly netfilter?: Netfilter; readonly cluster?: ChaosCluster; readonly savePartial?: (why: string) => void }) => void;
}

export const DEFAULT_OPTIONS: Omit<ChaosOptions, 'outDir' | 'progress'> = {
  durationMs: 60_000,
  workloads: ['register'],
  nemeses: ['kill', 'pause', 'partition'],
  seed: 1,
  recoveryBoundMs: 20_000,
  timing: DEFAULT_TIMING,
  register: DEFAULT_REGISTER,
  lock: DEFAULT_LOCK,
  watch: DEFAULT_WATCH,
  registry: DEFAULT_REGISTRY,
  plantStaleReadsMs: 0,
  maxStatesPerKey: 1_000_000,
  fullRestart: true,
  echo: false,
};

export interface ChaosResult {
  readonly ok: boolean;
  /** Why the run did not run its course (a signal, an internal error), or null. */
  readonly interrupted: string | null;
  readonly checks: readonly CheckResult[];
  readonly skippedNemeses: readonly string[];
  readonly summary: string;
  readonly outDir: string;
}

async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted === true) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Time until a leader is known and a write is accepted, or null past `boundMs`. */
async function measureRecovery(cluster: ChaosCluster, http: ChaosHttp, boundMs: number, marker: string): Promise<number | null> {
  const started = performance.now();
  while (performance.now() - started < boundMs) {
    const leader = await cluster.findLeader();
    if (leader !== null) {
      const reply = await http.call(cluster.url(leader.leaderId), 'PUT', '/v1/kv/chaos/recovery', { value: marker }, 2_000);
      if (reply.kind === 'answer' && reply.status === 200) return Math.round(performance.now() - started);
    }
    await sleep(200);
  }
  return null;
}

function recoveryCheck(when: string, elapsedMs: number | null, boundMs: number): CheckResult {
  const name = `recovery (${when})`;
  return elapsedMs === null
    ? { name, verdict: 'violated', detail: `no leader with an accepted write within ${boundMs} ms` }
    : { name, verdict: 'ok', detail: `leader and accepted write after ${elapsedMs} ms (bound ${boundMs} ms)` };
}

export async function runChaos(options: ChaosOptions): Promise<ChaosResult> {
  await mkdir(options.outDir, { recursive: true });
  const random = new SeededRandom(options.seed);
  const skippedNemeses: string[] = [];
  let nemeses = [...options.nemeses];
  const wantsPartitions = nemeses.some((name) => PARTITION_NEMESES.includes(name));
  const support = wantsPartitions ? await partitionSupport() : { ok: true as const };
  if (!support.ok) {
    for (const name of nemeses.filter((n) => PARTITION_NEMESES.includes(n))) skippedNemeses.push(`${name}: ${support.reason}`);
    nemeses = nemeses.filter((name) => !PARTITION_NEMESES.includes(name));
  }

  // warn, not info: a node logs every request at info, and the harness keeps every line in memory.
  const extraArgs = ['--log-level', 'warn', ...(options.plantStaleReadsMs > 0 ? ['--test-stale-reads-ms', String(options.plantStaleReadsMs)] : [])];
  const cluster = await ChaosCluster.create(extraArgs, options.echo);
  const http = new ChaosHttp();
  const history = new History();
  let netfilter: Netfilter | null = null;
  const checks: CheckResult[] = [];
  let runner: NemesisRunner | null = null;
  let progressTimer: NodeJS.Timeout | null = null;
  let internalError: string | null = null;
  const savePartial = (why: string): void => writePartialSync(options, history, runner, why);
  options.onResources?.({ cluster, savePartial });
  const register = options.workloads.includes('register') ? new RegisterWorkload(options.register) : null;
  const lock = options.workloads.includes('lock') ? new LockWorkload(options.lock) : null;
  const watch = options.workloads.includes('watch') ? new WatchWorkload(options.watch) : null;
  const registry = options.workloads.includes('registry') ? new RegistryWorkload(options.registry) : null;
  try {
    if (support.ok && wantsPartitions) {
      netfilter = new Netfilter(cluster.peerPort);
      options.onResources?.({ netfilter, cluster, savePartial });
      await netfilter.install();
    }
    cluster.startAll();
    const firstLeader = await cluster.local.waitLeader(60_000);
    const urls = cluster.ids.map((id) => cluster.url(id));

    const workloads: { readonly workload: Workload; readonly clients: number }[] = [];
    if (register !== null) workloads.push({ workload: register, clients: options.register.clients });
    if (lock !== null) workloads.push({ workload: lock, clients: options.lock.clients });
    if (watch !== null) {
      await watch.prepare(cluster.url(firstLeader), http);
      watch.startWatchers(urls);
      workloads.push({ workload: watch, clients: options.watch.writers });
    }
    if (registry !== null) workloads.push({ workload: registry, clients: options.registry.instances + 1 });

    let stopped = false;
    const clientRuns: Promise<void>[] = [];
    let clientNumber = 0;
    for (const { workload, clients } of workloads) {
      for (let i = 0; i < clients; i++) {
        const clientRandom: Random = random.fork();
        const context: WorkloadContext = {
          random: clientRandom,
          history,
          http,
          stopped: () => stopped,
          pickNode: () => cluster.url(cluster.ids[clientRandom.int(cluster.ids.length)] ?? 'n1'),
          think: (r) => sleep(r.int(30)),
        };
        clientRuns.push(workload.runClient(clientNumber++, context));
      }
    }

    runner = new NemesisRunner(cluster, netfilter, nemeses, random.fork(), options.timing, () => history.now());
    runner.start();
    const activeRunner = runner;
    const startedMs = history.now();
    const report = (final: boolean): void =>
      options.progress?.(progressLine(history.now() - startedMs, options.durationMs, history.totals, activeRunner), final);
    progressTimer = setInterval(() => report(false), 1_000);
    await sleep(options.durationMs, options.signal);
    if (options.signal?.aborted === true) runner.record('interrupted', 'start', `${String(options.signal.reason ?? 'aborted')}: the faults stop early`);

    // Faults stop and everything heals; the clients finish what they have in flight.
    await runner.stop();
    cluster.healProcesses();
    await netfilter?.apply([]);
    runner.record('final-heal', 'heal', 'all processes running, network whole');
    stopped = true;
    await Promise.all(clientRuns);
    clearInterval(progressTimer);
    progressTimer = null;
    report(true);

    const voters = await cluster.ensureVoters(VOTERS_BOUND_MS);
    checks.push(voters === null
      ? { name: 'three voters (after the final heal)', verdict: 'ok', detail: `${cluster.ids.join(', ')} are voters` }
      : { name: 'three voters (after the final heal)', verdict: 'violated', detail: `not within ${VOTERS_BOUND_MS} ms: ${voters}` });
    const recovery = await measureRecovery(cluster, http, options.recoveryBoundMs, 'after-heal');
    checks.push(recoveryCheck('after the final heal', recovery, options.recoveryBoundMs));
    if (register !== null) checks.push(checkRegisterLinearizable(history.registerRecords, options.maxStatesPerKey));
    if (lock !== null) {
      const leader = await cluster.findLeader();
      const replay = leader === null ? 'no leader to replay from' : await replayAllFencedWrites(cluster.url(leader.leaderId), http, lock.resources);
      checks.push(typeof replay === 'string'
        ? checkFencedTokens(lock.fencedWrites, replay, lock.grants.length)
        : checkFencedTokens(lock.fencedWrites, replay.writes, lock.grants.length, replay.note));
      checks.push(checkGrantOrder(lock.grants));
      checks.push(checkLockLinearizable(history.operations, options.maxStatesPerKey));
    }
    if (watch !== null) checks.push(...(await watchChecks(watch, cluster, http, history)));
    if (registry !== null) checks.push(...(await registryChecks(registry, cluster, http, history, runner)));
    if (register !== null) checks.push(await checkAckedWritesPresent(register.acked, urls, http, 'after the final heal'));

    // Every node killed at once, then all restarted: what was acknowledged must survive. An
    // interrupted run skips this (whoever pressed Ctrl-C wants it over soon).
    if (options.fullRestart && options.signal?.aborted !== true) {
      runner.record('full-restart', 'start', 'kill -9 every node');
      await Promise.all(cluster.ids.map((id) => cluster.kill(id)));
      cluster.startAll();
      runner.record('full-restart', 'heal', 'every node restarted');
      const restartRecovery = await measureRecovery(cluster, http, options.recoveryBoundMs + 20_000, 'after-restart');
      checks.push(recoveryCheck('after the full restart', restartRecovery, options.recoveryBoundMs + 20_000));
      if (register !== null) checks.push(await checkAckedWritesPresent(register.acked, urls, http, 'after the full restart'));
    }
  } catch (error) {
    internalError = error instanceof Error ? error.message : String(error);
    checks.push({ name: 'run completed', verdict: 'violated', detail: `the run itself failed: ${internalError}` });
    runner?.record('interrupted', 'start', `internal error: ${internalError}`);
  } finally {
    if (progressTimer !== null) clearInterval(progressTimer);
    watch?.stopWatchers();
    await runner?.stop().catch(() => undefined);
    await registry?.stopKeepers().catch(() => undefined);
    await netfilter?.remove().catch(() => undefined);
    await writeRunFolder(options, history, runner, checks, skippedNemeses, cluster).catch((error: unknown) => {
      checks.push({ name: 'run folder written', verdict: 'violated', detail: error instanceof Error ? error.message : String(error) });
    });
    await cluster.destroy().catch(() => undefined);
    await http.close();
  }
  const interrupted = options.signal?.aborted === true
    ? `interrupted by ${String(options.signal.reason ?? 'a signal')}`
    : internalError !== null
      ? `internal error: ${internalError}`
      : null;
  const ok = interrupted === null && checks.length > 0 && checks.every((check) => check.verdict !== 'violated');
  const summary = formatSummary(options, history, runner?.timeline ?? [], checks, skippedNemeses, ok, interrupted);
  await writeFile(path.join(options.outDir, 'summary.txt'), summary).catch(() => undefined);
  return { ok, interrupted, checks, skippedNemeses, summary, outDir: options.outDir };
}

/** The watch checks: the watchers drain to the end marker, a replay and the final state are read. */
async function watchChecks(watch: WatchWorkload, cluster: ChaosCluster, http: ChaosHttp, history: History): Promise<CheckResult[]> {
  const urls = cluster.ids.map((id) => cluster.url(id));
  await watch.finish(urls, http, history, WATCH_DRAIN_MS);
  const leader = await cluster.findLeader();
  const leaderUrl = leader === null ? (urls[0] ?? '') : cluster.url(leader.leaderId);
  const replay = watch.endRevision === null ? 'no end marker' : await replayWatch(leaderUrl, watch.startRevision, watch.endRevision);
  const finalState = await readPrefix(leaderUrl, http);
  const reference = typeof replay === 'string' ? (watch.watchers[0]?.events ?? []) : replay;
  return [
    checkWatchStreams({ watchers: watch.watchers, replay, writes: watch.writes, endRevision: watch.endRevision }),
    checkWatchMatchesWrites(reference, watch.writes, watch.startRevision),
    checkWatchFinalState(reference, finalState),
  ];
}

/** A fresh watch of the prefix from just after `startRevision` up to `endRevision` (or why not). */
async function replayWatch(url: string, startRevision: number, endRevision: number): Promise<SeenEvent[] | string> {
  const events: SeenEvent[] = [];
  let compacted: string | null = null;
  const end = await readSse(`${url}/v1/watch?prefix=${encodeURIComponent(WATCH_PREFIX)}&fromRevision=${startRevision + 1}`, { idleMs: 10_000 }, (frame) => {
    if (frame.event === 'compacted') {
      compacted = frame.data;
      return false;
    }
    const change = changeOf(frame.event, frame.data);
    if (change !== null) events.push(change);
    return change === null || change.revision < endRevision;
  });
  if (compacted !== null) return `the history no longer holds revision ${startRevision + 1} (${String(compacted)})`;
  if (end.kind === 'status') return `replay answered ${end.status}${end.status === 410 ? ' (compacted: the watch history keeps the last 10,000 events)' : ''}`;
  if ((events.at(-1)?.revision ?? 0) < endRevision) return `replay ended early (${end.kind}) at revision ${events.at(-1)?.revision ?? startRevision}`;
  return events;
}

async function readPrefix(url: string, http: ChaosHttp): Promise<Map<string, string> | string> {
  const items = new Map<string, string>();
  const reply = await http.call(url, 'GET', `/v1/kv?prefix=${encodeURIComponent(WATCH_PREFIX)}&limit=10000`, undefined, 5_000);
  if (reply.kind !== 'answer' || reply.status !== 200) return reply.kind === 'answer' ? `status ${reply.status}` : reply.error;
  for (const item of (reply.body as { items?: { key?: unknown; value?: unknown }[] }).items ?? []) items.set(String(item.key), String(item.value));
  return items;
}

/**
 * The registry checks: discovery is polled until every stopped instance is past its removal
 * bound, then read through every node; the live instances keep heartbeating meanwhile.
 */
async function registryChecks(registry: RegistryWorkload, cluster: ChaosCluster, http: ChaosHttp, history: History, runner: NemesisRunner): Promise<CheckResult[]> {
  const urls = cluster.ids.map((id) => cluster.url(id));
  const deadlineMs = registry.options.deadlineMs;
  const spans = untilLeaderServes(faultSpans(runner.timeline, history.now()), servedWrites(history));
  const dues = registry.instances.filter(mustExpire).map((instance) => removalBound(instance, spans, deadlineMs) ?? 0);
  const settleUntil = Math.min(Math.max(history.now(), ...dues) + 1_000, history.now() + 120_000);
  for (let poll = 0; history.now() < settleUntil; poll++) {
    await registry.discover(-1, urls[poll % urls.length] ?? '', history, http);
    await sleep(400);
  }
  // One read through each node, all at about the same time: the same live instances everywhere.
  let perNode = new Map<string, readonly string[] | string>();
  for (let attempt = 0; attempt < 5; attempt++) {
    perNode = new Map();
    for (const id of cluster.ids) {
      const read = await registry.discover(-1, cluster.url(id), history, http);
      perNode.set(id, read === null ? 'no answer' : read.ids);
    }
    const alive = registry.alive.map((instance) => instance.id).sort().join(',');
    if ([...perNode.values()].every((ids) => typeof ids !== 'string' && [...ids].sort().join(',') === alive)) break;
    await sleep(1_000);
  }
  const agreement = checkRegistryAgreement(perNode, registry.alive.map((instance) => instance.id));
  await registry.stopKeepers();
  const finalSpans = untilLeaderServes(faultSpans(runner.timeline, history.now()), servedWrites(history));
  return [
    checkRegistryKept(registry.instances, registry.reads),
    checkRegistryRemoved(registry.instances, registry.reads, finalSpans, deadlineMs),
    agreement,
  ];
}

/** Operations only a leader answers ok (writes, lease renewals, lock calls): proof that one served. */
const LEADER_SERVED = new Set(['put', 'cas', 'insert', 'delete', 'register', 'heartbeat', 'deregister', 'acquire', 'release', 'fenced-write']);

function servedWrites(history: History): ServedWrite[] {
  return history.operations
    .filter((operation) => operation.status === 'ok' && operation.completeMs !== null && LEADER_SERVED.has(String(operation.invoke['f'])))
    .map((operation) => ({ invokeMs: operation.invokeMs, completeMs: operation.completeMs ?? operation.invokeMs }));
}

/** What a second Ctrl-C leaves: the history and the timeline so far, written at once. */
function writePartialSync(options: ChaosOptions, history: History, runner: NemesisRunner | null, why: string): void {
  try {
    mkdirSync(options.outDir, { recursive: true });
    writeFileSync(path.join(options.outDir, 'history.jsonl'), history.operations.map((op) => JSON.stringify(op)).join('\n') + '\n');
    const timeline = runner?.timeline ?? [];
    writeFileSync(path.join(options.outDir, 'timeline.json'), `${JSON.stringify(timeline, null, 2)}\n`);
    writeFileSync(path.join(options.outDir, 'timeline.txt'), formatTimeline(timeline));
    writeFileSync(path.join(options.outDir, 'summary.txt'), `chaos run: seed ${options.seed}: INTERRUPTED (${why}) before the checks ran; partial history (${history.operations.length} operations) and timeline saved. NOT A PASS.\n`);
  } catch {
    // Best effort: the process is about to exit.
  }
}

function formatTimeline(timeline: NemesisRunner['timeline']): string {
  return timeline.map((event) => `${(event.atMs / 1000).toFixed(3).padStart(9)}s  ${event.phase.padEnd(5)} ${event.nemesis.padEnd(17)} ${event.detail}`).join('\n') + '\n';
}

async function writeRunFolder(
  options: ChaosOptions,
  history: History,
  runner: NemesisRunner | null,
  checks: readonly CheckResult[],
  skippedNemeses: readonly string[],
  cluster: ChaosCluster,
): Promise<void> {
  const dir = options.outDir;
  const { signal: _signal, progress: _progress, onResources: _onResources, ...settings } = options;
  await writeFile(path.join(dir, 'options.json'), `${JSON.stringify({ ...settings, skippedNemeses }, null, 2)}\n`);
  await writeFile(path.join(dir, 'history.jsonl'), history.operations.map((op) => JSON.stringify(op)).join('\n') + '\n');
  const timeline = runner?.timeline ?? [];
  await writeFile(path.join(dir, 'timeline.txt'), formatTimeline(timeline));
  await writeFile(path.join(dir, 'timeline.json'), `${JSON.stringify(timeline, null, 2)}\n`);
  await writeFile(path.join(dir, 'checks.json'), `${JSON.stringify(checks, null, 2)}\n`);
  for (const check of checks) {
    if (check.report !== undefined) await writeFile(path.join(dir, `violation-${check.name.replace(/[^a-z0-9]+/gi, '-')}.txt`), check.report);
  }
  await mkdir(path.join(dir, 'nodes'), { recursive: true });
  for (const id of cluster.ids) await writeFile(path.join(dir, 'nodes', `${id}.log`), `${cluster.logOf(id)}\n`);
}
