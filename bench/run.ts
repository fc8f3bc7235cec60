/**
 * The benchmark suite (`npm run bench`): Concord end to end over HTTP, each figure beside the
 * floor measured on this machine, etcd 3.4's figure and the target (issue 8). A table for people
 * on stdout, or JSON with `--json`; progress lines on stderr. Benchmarks never assert timings: a
 * slow machine produces a slow number, not a failed build.
 *
 *   npm run bench [-- [--json] [--quick] [--endpoints URL,URL,URL] [NAME...]]
 *
 * With no NAME, the cluster suite runs: floor, http, txn, locks, registry, watch, failover (about
 * four minutes; `--quick` is a tenth of each budget, a smoke test). The floors are measured
 * first whenever a cluster workload runs. Without `--endpoints` the suite starts the local
 * three-node cluster (test/cluster/harness.ts) and tears it down at the end; with it, it drives
 * that running cluster and skips failover (which kills a node). The component benchmarks
 * (raft-core-throughput, simulator-speed, storage-group-commit, kv, restart) run by name, or with
 * everything else under `all`.
 */
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { buildState } from '../bin/build-freshness.js';
import { COMPONENT_BENCHMARKS, type BenchOutcome } from './components.ts';
import { runFailoverBench } from './failover.ts';
import { DEFAULT_FLOOR_OPTIONS, measureFloors, type FloorOptions, type Floors } from './floor.ts';
import { runHttpBench } from './http.ts';
import { EndpointPools, originOf } from './load/pools.ts';
import type { SuiteContext } from './load/suite.ts';
import { remoteTarget, startLocalTarget, type ClusterTarget } from './load/target.ts';
import { runLocksBench } from './locks.ts';
import { runRegistryBench } from './registry.ts';
import { formatTable, type Row } from './report.ts';
import { FloorCells, failoverRows, floorRows, httpRows, locksRows, registryRows, txnRows, watchRows } from './suite-rows.ts';
import { runTxnBench } from './txn.ts';
import { runWatchBench } from './watch.ts';

/** A cluster workload: runs against the suite's cluster, reads its rows against the floors. */
interface ClusterWorkload {
  readonly name: string;
  /** Kills nodes: only on the cluster the suite started, and last. */
  readonly needsLocalCluster?: boolean;
  run(context: SuiteContext, floors: FloorCells): Promise<BenchOutcome>;
}

const outcome = <T>(raw: T, rows: (raw: T) => Row[]): BenchOutcome => ({ rows: rows(raw), raw });

/** In the order they run: failover last, since it kills the leader. */
const CLUSTER_WORKLOADS: readonly ClusterWorkload[] = [
  { name: 'http', run: async (context, floors) => outcome(await runHttpBench(context), (raw) => httpRows(raw, floors)) },
  { name: 'txn', run: async (context, floors) => outcome(await runTxnBench(context), (raw) => txnRows(raw, floors)) },
  { name: 'locks', run: async (context, floors) => outcome(await runLocksBench(context), (raw) => locksRows(raw, floors)) },
  { name: 'registry', run: async (context, floors) => outcome(await runRegistryBench(context), (raw) => registryRows(raw, floors)) },
  { name: 'watch', run: async (context) => outcome(await runWatchBench(context), watchRows) },
  { name: 'failover', needsLocalCluster: true, run: async (context) => outcome(await runFailoverBench(context), failoverRows) },
];

const FLOOR = 'floor';
const ALL = 'all';
const DEFAULT_SELECTION = [FLOOR, ...CLUSTER_WORKLOADS.map((workload) => workload.name)];
const KNOWN = [...DEFAULT_SELECTION, ...COMPONENT_BENCHMARKS.map((bench) => bench.name), ALL];
const USAGE = `usage: npm run bench -- [--json] [--quick] [--endpoints URL,URL,...] [NAME...]; NAME: ${KNOWN.join(' | ')}`;

/** A command line the suite cannot run: exit code 2, as the concord CLI does for bad arguments. */
class UsageError extends Error {}

interface Arguments {
  readonly json: boolean;
  readonly quick: boolean;
  readonly endpoints: readonly string[] | null;
  readonly names: readonly string[];
}

function parseArgs(argv: readonly string[]): Arguments {
  let json = false;
  let quick = false;
  let endpoints: string[] | null = null;
  const names: string[] = [];
  const endpointList = (value: string | undefined): string[] => {
    const list = (value ?? '').split(',').map((endpoint) => endpoint.trim()).filter((endpoint) => endpoint !== '');
    if (list.length === 0) throw new UsageError(`--endpoints needs a comma-separated list of URLs; ${USAGE}`);
    let origins: string[];
    try {
      origins = list.map(originOf);
    } catch (error) {
      throw new UsageError(error instanceof Error ? error.message : String(error));
    }
    if (new Set(origins).size !== origins.length) throw new UsageError(`--endpoints lists an endpoint twice: ${list.join(',')}`);
    return origins;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--json') json = true;
    else if (arg === '--quick') quick = true;
    else if (arg === '--endpoints') endpoints = endpointList(argv[++i]);
    else if (arg.startsWith('--endpoints=')) endpoints = endpointList(arg.slice('--endpoints='.length));
    else if (arg === '--only') names.push(argv[++i] ?? '');
    else if (arg.startsWith('--only=')) names.push(arg.slice('--only='.length));
    else if (!arg.startsWith('-')) names.push(arg);
    else throw new UsageError(`unknown argument ${arg}; ${USAGE}`);
  }
  const unknown = names.filter((name) => !KNOWN.includes(name));
  if (unknown.length > 0) throw new UsageError(`no benchmark named ${unknown.join(', ')}; ${USAGE}`);
  return { json, quick, endpoints, names };
}

function floorOptions(quick: boolean): FloorOptions {
  const options = DEFAULT_FLOOR_OPTIONS;
  return quick ? { ...options, fsyncSamples: options.fsyncSamples / 10, fsyncBudgetMs: options.fsyncBudgetMs / 10, httpBudgetMs: options.httpBudgetMs / 10 } : options;
}

interface Report {
  readonly name: string;
  readonly rows: readonly Row[];
  readonly raw: unknown;
}

async function runSuite(args: Arguments, selected: ReadonlySet<string>, progress: (line: string) => void): Promise<{ reports: Report[]; floors: Floors | null }> {
  const reports: Report[] = [];
  const workloads = CLUSTER_WORKLOADS.filter((workload) => selected.has(workload.name));
  const runnable = workloads.filter((workload) => {
    if (workload.needsLocalCluster === true && args.endpoints !== null) {
      progress(`${workload.name}: skipped — it kills a node, so it runs only on the cluster the suite starts itself (no --endpoints)`);
      return false;
    }
    return true;
  });
  if (!selected.has(FLOOR) && runnable.length === 0) return { reports, floors: null };
  const pools = new EndpointPools();
  let target: ClusterTarget | null = null;
  const stopOnSignal = (signal: NodeJS.Signals): void => {
    progress(`bench: ${signal}, tearing the cluster down`);
    void Promise.resolve(target?.close()).finally(() => process.exit(130));
  };
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);
  try {
    // Before the cluster starts, so its idle nodes do not share the cores with the floor; in
    // os.tmpdir(), where the local cluster's data dirs go (the same filesystem).
    const floors = await measureFloors(pools, os.tmpdir(), floorOptions(args.quick), progress);
    reports.push({ name: FLOOR, rows: floorRows(floors), raw: floors });
    if (runnable.length === 0) return { reports, floors };
    target = args.endpoints === null ? await startLocalTarget(progress) : remoteTarget(args.endpoints);
    const context: SuiteContext = { target, pools, quick: args.quick, progress };
    const cells = new FloorCells(floors);
    for (const workload of runnable) {
      const started = performance.now();
      const result = await workload.run(context, cells);
      progress(`${workload.name}: done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
      reports.push({ name: workload.name, ...result });
    }
    return { reports, floors };
  } finally {
    process.removeListener('SIGINT', stopOnSignal);
    process.removeListener('SIGTERM', stopOnSignal);
    await pools.close();
    await target?.close();
  }
}

/**
 * What the suite's own nodes run: bin/concord.js picks the compiled build while it is fresh, else
 * src/ through tsx, and the two differ in CPU per request (docs/performance.md, "Running it").
 * Judged once here, at the start; an edit to src/ during the run sends nodes started later
 * (failover's restarts) to tsx.
 */
function nodesRun(endpoints: readonly string[] | null): string {
  if (endpoints !== null) return 'n/a (--endpoints)';
  if (process.env['CONCORD_RUNTIME'] === 'source') return 'src/ through tsx (CONCORD_RUNTIME=source)';
  const state = buildState(fileURLToPath(new URL('../', import.meta.url)));
  return state === 'fresh' || state === 'fresh-by-content' ? 'compiled (dist/concord)' : `src/ through tsx (build ${state}: npm run build)`;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const names = args.names.length === 0 ? DEFAULT_SELECTION : args.names.includes(ALL) ? KNOWN : args.names;
  const selected = new Set(names);
  const progress = (line: string): void => void process.stderr.write(`${line}\n`);
  const loadAtStart = os.loadavg();
  const startedAt = performance.now();
  const code = nodesRun(args.endpoints);
  progress(`bench: ${[...selected].filter((name) => name !== ALL).join(', ')}${args.quick ? ' (--quick: a smoke test, not figures)' : ''}; load average ${loadAtStart.map((load) => load.toFixed(2)).join(' ')} on ${os.cpus().length} cores; nodes run ${code}`);
  const { reports } = await runSuite(args, selected, progress);
  for (const bench of COMPONENT_BENCHMARKS.filter((component) => selected.has(component.name))) {
    reports.push({ name: bench.name, ...(await bench.run(progress)) });
  }
  const loadAtEnd = os.loadavg();
  const load = (averages: readonly number[]): string => averages.map((value) => value.toFixed(2)).join(' / ');
  const machineRows: Row[] = [
    { benchmark: 'machine load average (1/5/15 min) at start', figure: load(loadAtStart), unit: `on ${os.cpus().length} cores`, target: '' },
    { benchmark: 'machine load average (1/5/15 min) at end', figure: load(loadAtEnd), unit: `after ${((performance.now() - startedAt) / 1000).toFixed(0)} s`, target: '' },
    { benchmark: 'code the nodes run (at the start)', figure: code, unit: '', target: '' },
  ];
  if (args.json) {
    const environment = {
      node: process.version,
      platform: process.platform,
      arch: process.arch,
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? '',
      loadAverageAtStart: loadAtStart,
      loadAverageAtEnd: loadAtEnd,
      quick: args.quick,
      endpoints: args.endpoints ?? 'local three-node cluster started by the suite',
      nodesRun: code,
    };
    process.stdout.write(`${JSON.stringify({ environment, benchmarks: reports }, null, 2)}\n`);
  } else {
    process.stdout.write(`${formatTable([...machineRows, ...reports.flatMap((report) => report.rows)])}\n`);
  }
}

try {
  await main();
} catch (error) {
  // A bad argument or a cluster that would not start: one line, not a stack trace.
  process.stderr.write(`bench: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = error instanceof UsageError ? 2 : 1;
}
