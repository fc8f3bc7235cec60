/**
 * One chaos run: start a fresh three-node cluster, run the chosen workloads against it while
 * the nemeses attack it, stop the faults and heal everything, then check what the clients saw
 * (linearizability, fencing, durability after the heal and after a full-cluster kill -9 and
 * restart, recovery time). Everything the run saw goes to its run folder. Cleanup (processes,
 * temp dirs, the iptables chain) happens whatever goes wrong.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { SeededRandom, type Random } from '../src/common/random.ts';
import { checkAckedWritesPresent, checkFencedTokens, checkGrantOrder, checkRegisterLinearizable, replayFencedWrites, type CheckResult } from './checks.ts';
import { ChaosHttp } from './client.ts';
import { ChaosCluster } from './cluster.ts';
import { History } from './history.ts';
import { DEFAULT_TIMING, NemesisRunner, PARTITION_NEMESES, type NemesisName, type NemesisTiming } from './nemesis.ts';
import { Netfilter, partitionSupport } from './netfilter.ts';
import { formatSummary, progressLine } from './report.ts';
import { DEFAULT_LOCK, LockWorkload, RESOURCE_KEY, type LockOptions } from './workloads/lock.ts';
import { DEFAULT_REGISTER, RegisterWorkload, type RegisterOptions } from './workloads/register.ts';
import type { Workload, WorkloadContext } from './workloads/workload.ts';

export type WorkloadName = 'register' | 'lock';
export const WORKLOAD_NAMES: readonly WorkloadName[] = ['register', 'lock'];

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
  /** > 0: start the nodes with the hidden test-only `--test-stale-reads-ms` planted bug. */
  readonly plantStaleReadsMs: number;
  /** Linearizability search budget per key. */
  readonly maxStatesPerKey: number;
  /** Echo the nodes' logs to stderr. */
  readonly echo: boolean;
  /** Where progress lines go (null: nowhere). */
  readonly progress: ((line: string, final: boolean) => void) | null;
  /** Aborting ends the workload phase early (Ctrl-C); the checks still run. */
  readonly signal?: AbortSignal;
  /** Called once the iptables chain exists and once the cluster is up, so a signal handler can clean up synchronously. */
  readonly onResources?: (resources: { readonly netfilter?: Netfilter; readonly cluster?: ChaosCluster }) => void;
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
  plantStaleReadsMs: 0,
  maxStatesPerKey: 1_000_000,
  echo: false,
};

export interface ChaosResult {
  readonly ok: boolean;
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
  options.onResources?.({ cluster });
  try {
    if (support.ok && wantsPartitions) {
      netfilter = new Netfilter(cluster.peerPort);
      options.onResources?.({ netfilter, cluster });
      await netfilter.install();
    }
    cluster.startAll();
    await cluster.local.waitLeader(60_000);

    const workloads: Workload[] = [];
    const register = options.workloads.includes('register') ? new RegisterWorkload(options.register) : null;
    const lock = options.workloads.includes('lock') ? new LockWorkload(options.lock) : null;
    if (register !== null) workloads.push(register);
    if (lock !== null) workloads.push(lock);

    let stopped = false;
    const clientRuns: Promise<void>[] = [];
    let clientNumber = 0;
    for (const workload of workloads) {
      const count = workload === register ? options.register.clients : options.lock.clients;
      for (let i = 0; i < count; i++) {
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

    const recovery = await measureRecovery(cluster, http, options.recoveryBoundMs, 'after-heal');
    checks.push(recoveryCheck('after the final heal', recovery, options.recoveryBoundMs));
    if (register !== null) checks.push(checkRegisterLinearizable(history.registerRecords, options.maxStatesPerKey));
    if (lock !== null) {
      const leader = await cluster.findLeader();
      const replay = leader === null ? 'no leader to replay from' : await replayFencedWrites(cluster.url(leader.leaderId), http, RESOURCE_KEY);
      checks.push(checkFencedTokens(lock.fencedWrites, replay, lock.grants.length));
      checks.push(checkGrantOrder(lock.grants));
    }
    const urls = cluster.ids.map((id) => cluster.url(id));
    if (register !== null) checks.push(await checkAckedWritesPresent(register.acked, urls, http, 'after the final heal'));

    // Every node killed at once, then all restarted: what was acknowledged must survive.
    runner.record('full-restart', 'start', 'kill -9 every node');
    await Promise.all(cluster.ids.map((id) => cluster.kill(id)));
    cluster.startAll();
    runner.record('full-restart', 'heal', 'every node restarted');
    const restartRecovery = await measureRecovery(cluster, http, options.recoveryBoundMs + 20_000, 'after-restart');
    checks.push(recoveryCheck('after the full restart', restartRecovery, options.recoveryBoundMs + 20_000));
    if (register !== null) checks.push(await checkAckedWritesPresent(register.acked, urls, http, 'after the full restart'));
  } catch (error) {
    checks.push({ name: 'run completed', verdict: 'violated', detail: `the run itself failed: ${error instanceof Error ? error.message : String(error)}` });
  } finally {
    if (progressTimer !== null) clearInterval(progressTimer);
    await runner?.stop().catch(() => undefined);
    await netfilter?.remove().catch(() => undefined);
    await writeRunFolder(options, history, runner, checks, skippedNemeses, cluster).catch((error: unknown) => {
      checks.push({ name: 'run folder written', verdict: 'violated', detail: error instanceof Error ? error.message : String(error) });
    });
    await cluster.destroy().catch(() => undefined);
    await http.close();
  }
  const ok = checks.length > 0 && checks.every((check) => check.verdict !== 'violated');
  const summary = formatSummary(options, history, runner?.timeline ?? [], checks, skippedNemeses, ok);
  await writeFile(path.join(options.outDir, 'summary.txt'), summary).catch(() => undefined);
  return { ok, checks, skippedNemeses, summary, outDir: options.outDir };
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
  await writeFile(path.join(dir, 'timeline.txt'), timeline.map((event) => `${(event.atMs / 1000).toFixed(3).padStart(9)}s  ${event.phase.padEnd(5)} ${event.nemesis.padEnd(17)} ${event.detail}`).join('\n') + '\n');
  await writeFile(path.join(dir, 'timeline.json'), `${JSON.stringify(timeline, null, 2)}\n`);
  await writeFile(path.join(dir, 'checks.json'), `${JSON.stringify(checks, null, 2)}\n`);
  for (const check of checks) {
    if (check.report !== undefined) await writeFile(path.join(dir, `violation-${check.name.replace(/[^a-z0-9]+/gi, '-')}.txt`), check.report);
  }
  await mkdir(path.join(dir, 'nodes'), { recursive: true });
  for (const id of cluster.ids) await writeFile(path.join(dir, 'nodes', `${id}.log`), `${cluster.logOf(id)}\n`);
}
