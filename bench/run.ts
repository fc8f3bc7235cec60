/**
 * The benchmark suite (`npm run bench`). Prints a table of figures for people, or JSON with
 * `--json`; `--only NAME` runs one benchmark. Progress goes to stderr so that stdout stays
 * clean. Benchmarks report figures against stated targets and never assert timings: a slow
 * machine should produce a slow number, not a failed build.
 *
 *   npx tsx bench/run.ts [--json] [--only NAME | NAME...]
 *   NAME: raft-core-throughput | simulator-speed | storage-group-commit | kv | restart | http | locks
 */
import { DEFAULT_CORE_OPTIONS, runRaftCore, type CoreRunResult } from './raft-core.ts';
import {
  DEFAULT_SIMULATOR_OPTIONS,
  SWEEP_SEEDS,
  SWEEP_WORKERS,
  projectedSweepMinutes,
  runSimulatorBench,
} from './simulator.ts';
import { DEFAULT_STORAGE_BENCH_OPTIONS, runStorageBench } from './storage.ts';
import { DEFAULT_KV_BENCH_OPTIONS, runKvBench, type Spread } from './kv.ts';
import { DEFAULT_RESTART_BENCH_OPTIONS, runRestartBench } from './restart.ts';
import { DEFAULT_HTTP_BENCH_OPTIONS, runHttpBench, type PhaseResult } from './http.ts';
import { DEFAULT_LOCKS_BENCH_OPTIONS, runLocksBench } from './locks.ts';

/** One line of the table: a figure, its unit and the target it is read against. */
interface Row {
  readonly benchmark: string;
  readonly figure: number | string;
  /** Decimals shown in the table (JSON keeps the full number). */
  readonly decimals?: number;
  readonly unit: string;
  readonly target: string;
}

interface BenchOutcome {
  readonly rows: readonly Row[];
  /** Everything measured, for --json. */
  readonly raw: unknown;
}

interface Benchmark {
  readonly name: string;
  run(progress: (line: string) => void): BenchOutcome | Promise<BenchOutcome>;
}

const CORE_RUNS = 3;
const CORE_TARGET_PER_SECOND = 200_000;
const SWEEP_TARGET_MINUTES = 5;

const raftCoreThroughput: Benchmark = {
  name: 'raft-core-throughput',
  run(progress) {
    const options = DEFAULT_CORE_OPTIONS;
    progress(`raft-core-throughput: warm-up (100,000 entries, not counted)`);
    const warmUp = runRaftCore({ ...options, targetEntries: 100_000 });
    const runs: CoreRunResult[] = [];
    for (let i = 0; i < CORE_RUNS; i++) {
      progress(`raft-core-throughput: run ${i + 1}/${CORE_RUNS} (${options.targetEntries.toLocaleString('en')} entries or ${options.timeBudgetMs / 1000} s)`);
      runs.push(runRaftCore(options));
    }
    const rates = runs.map((run) => run.entriesPerSecond).sort((a, b) => a - b);
    const target = `≥ ${CORE_TARGET_PER_SECOND.toLocaleString('en')}`;
    const name = 'raft-core-throughput';
    const heapMb = process.memoryUsage().heapUsed / 2 ** 20;
    return {
      rows: [
        { benchmark: `${name} median`, figure: rates[1] ?? 0, decimals: 0, unit: 'entries/s', target },
        { benchmark: `${name} min`, figure: rates[0] ?? 0, decimals: 0, unit: 'entries/s', target: '' },
        { benchmark: `${name} max`, figure: rates[rates.length - 1] ?? 0, decimals: 0, unit: 'entries/s', target: '' },
        {
          benchmark: `${name} entries per run`,
          figure: runs.map((run) => run.entries + (run.timedOut ? ' (time budget hit)' : '')).join(' / '),
          unit: 'entries',
          target: `${options.targetEntries.toLocaleString('en')} in ≤ ${options.timeBudgetMs / 1000} s`,
        },
        { benchmark: `${name} log retained`, figure: Math.max(...runs.map((run) => run.retainedLogEntries)), unit: 'entries', target: `flat (compact every ${options.compactEvery.toLocaleString('en')})` },
        { benchmark: `${name} heap after runs`, figure: heapMb, decimals: 1, unit: 'MiB', target: '' },
      ],
      raw: { options, warmUp, runs, heapUsedMb: heapMb },
    };
  },
};

const simulatorSpeed: Benchmark = {
  name: 'simulator-speed',
  run(progress) {
    const options = DEFAULT_SIMULATOR_OPTIONS;
    progress(`simulator-speed: ${options.seeds} seeds of ${options.nodeCount}-node clusters, sequentially on one core`);
    const result = runSimulatorBench(options, progress);
    const name = 'simulator-speed';
    const projected = projectedSweepMinutes(result);
    for (const failure of result.failures) {
      progress(`simulator-speed: seed ${failure.seed} VIOLATIONS:\n  ${failure.violations.join('\n  ')}`);
    }
    return {
      rows: [
        { benchmark: `${name} virtual/wall`, figure: result.virtualPerWall, decimals: 1, unit: 'virtual s per wall s', target: '' },
        { benchmark: `${name} seeds/min (1 core)`, figure: result.seedsPerMinute, decimals: 1, unit: 'seeds/min', target: `≥ ${(SWEEP_SEEDS / SWEEP_TARGET_MINUTES / SWEEP_WORKERS).toFixed(0)}` },
        {
          benchmark: `${name} ${SWEEP_SEEDS} seeds on ${SWEEP_WORKERS} workers`,
          figure: projected, decimals: 2,
          unit: 'minutes (projected)',
          target: `< ${SWEEP_TARGET_MINUTES}`,
        },
        { benchmark: `${name} wall time`, figure: result.wallSeconds, decimals: 1, unit: `s for ${result.seeds} seeds`, target: '' },
        { benchmark: `${name} shortest seed`, figure: result.minVirtualSecondsPerSeed, decimals: 1, unit: 'virtual s', target: '≥ 30' },
        { benchmark: `${name} slowest seed`, figure: result.slowestSeedSeconds, decimals: 2, unit: 'wall s', target: '' },
        { benchmark: `${name} violations`, figure: result.failures.length, unit: 'seeds with violations', target: '0' },
      ],
      raw: { options, ...result, projectedSweepMinutes: projected, sweepSeeds: SWEEP_SEEDS, sweepWorkers: SWEEP_WORKERS },
    };
  },
};

const storageGroupCommit: Benchmark = {
  name: 'storage-group-commit',
  async run(progress) {
    const results = await runStorageBench(DEFAULT_STORAGE_BENCH_OPTIONS, progress);
    const name = 'storage-group-commit';
    return {
      rows: results.flatMap((result) => [
        { benchmark: `${name} batch ${result.batchSize}`, figure: result.entriesPerSecond, decimals: 0, unit: 'entries/s (fsync)', target: '' },
        { benchmark: `${name} batch ${result.batchSize} write p50`, figure: result.writeLatencyP50Ms, decimals: 2, unit: 'ms', target: '' },
        { benchmark: `${name} batch ${result.batchSize} write p99`, figure: result.writeLatencyP99Ms, decimals: 2, unit: 'ms', target: '' },
      ]),
      raw: { options: DEFAULT_STORAGE_BENCH_OPTIONS, results },
    };
  },
};

/** A median row and a row with the spread (min–max over the runs). */
function spreadRows(benchmark: string, figures: Spread, decimals: number, unit: string, target: string): Row[] {
  const range = `${figures.min.toFixed(decimals)}–${figures.max.toFixed(decimals)}`;
  return [{ benchmark: `${benchmark} median`, figure: figures.median, decimals, unit, target }, { benchmark: `${benchmark} min–max`, figure: range, unit, target: '' }];
}

const kv: Benchmark = {
  name: 'kv',
  run(progress) {
    const options = DEFAULT_KV_BENCH_OPTIONS;
    const result = runKvBench(options, progress);
    const keys = options.keys.toLocaleString('en');
    const rows: Row[] = [
      ...spreadRows(`kv apply put (create ${keys} keys)`, result.insertPutsPerSecond, 0, 'puts/s', ''),
      ...spreadRows(`kv apply put (overwrite, ${keys} keys)`, result.updatePutsPerSecond, 0, 'puts/s', ''),
    ];
    if (result.idempotentPutsPerSecond !== null) {
      rows.push(...spreadRows('kv apply put with idempotency key', result.idempotentPutsPerSecond, 0, 'puts/s', ''));
    }
    rows.push({ benchmark: `kv snapshot size (${keys} keys)`, figure: result.snapshotBytes, unit: 'bytes', target: '' });
    if (result.idempotentSnapshotBytes !== null) {
      rows.push({ benchmark: 'kv snapshot size (+ full dedup table)', figure: result.idempotentSnapshotBytes, unit: 'bytes', target: '' });
    }
    rows.push(...spreadRows('kv snapshot()', result.snapshotMs, 1, 'ms', ''), ...spreadRows('kv restore()', result.restoreMs, 1, 'ms', ''));
    return { rows, raw: { options, ...result } };
  },
};

const RESTART_TARGET_MS = 3_000;

const restart: Benchmark = {
  name: 'restart',
  async run(progress) {
    const options = DEFAULT_RESTART_BENCH_OPTIONS;
    const results = await runRestartBench(options, progress);
    return {
      rows: results.flatMap((result) => {
        const name = `restart ${result.scenario} (snapshot + ${result.logEntries.toLocaleString('en')} entries)`;
        const phases = (['openMs', 'loadMs', 'restoreMs', 'replayMs'] as const).map(
          (phase): Row => ({ benchmark: `${name} ${phase.slice(0, -2)} median`, figure: result[phase].median, decimals: 0, unit: 'ms', target: '' }),
        );
        const target = `≤ ${RESTART_TARGET_MS.toLocaleString('en')}`;
        return [...spreadRows(name, result.totalMs, 0, `ms (${result.runs.length} runs)`, target), ...phases];
      }),
      raw: { options, results },
    };
  },
};

/** etcd 3.4 on this machine under the same load (issue 4): the figures to quote ours next to. */
const ETCD_REFERENCE = { sequentialPutP50Ms: 0.43, concurrentPutsPerSecond: 8_700, concurrentGetsPerSecond: 8_900, failoverMs: 1_200 };

const http: Benchmark = {
  name: 'http',
  async run(progress) {
    const options = DEFAULT_HTTP_BENCH_OPTIONS;
    const result = await runHttpBench(options, progress);
    const phaseRows = (name: string, phase: PhaseResult, opsTarget: string, p50Target: string): Row[] => [
      { benchmark: `${name} ops/s`, figure: phase.opsPerSecond, decimals: 0, unit: 'ops/s', target: opsTarget },
      { benchmark: `${name} p50`, figure: phase.p50Ms, decimals: 2, unit: 'ms', target: p50Target },
      { benchmark: `${name} p99`, figure: phase.p99Ms, decimals: 2, unit: 'ms', target: '' },
      { benchmark: `${name} done / errors`, figure: `${phase.operations} / ${phase.errors}`, unit: `in ${phase.seconds.toFixed(1)} s`, target: '' },
    ];
    const inFlight = options.inFlight;
    return {
      rows: [
        ...phaseRows('http sequential put (1 client, leader)', result.sequentialPut, '', `etcd 3.4: ${ETCD_REFERENCE.sequentialPutP50Ms}`),
        ...phaseRows(`http put, ${inFlight} in flight, 3 nodes`, result.concurrentPut, `etcd 3.4: ${ETCD_REFERENCE.concurrentPutsPerSecond.toLocaleString('en')}`, ''),
        ...phaseRows(`http linearizable get, ${inFlight} in flight, 3 nodes`, result.concurrentGet, `etcd 3.4: ${ETCD_REFERENCE.concurrentGetsPerSecond.toLocaleString('en')}`, ''),
        {
          benchmark: `http failover (kill -9 of ${result.leader} to first acknowledged write)`,
          figure: result.failoverMs ?? 'none in budget',
          decimals: 0,
          unit: 'ms',
          target: `etcd 3.4: ${ETCD_REFERENCE.failoverMs.toLocaleString('en')} (1 s election timeout)`,
        },
      ],
      raw: { options, ...result, etcdReference: ETCD_REFERENCE },
    };
  },
};

/**
 * etcd 3.4 on this machine (issue 5): lease grant + lock + unlock (three calls) by one client,
 * and eight clients on one lock. Issue 5's targets for Concord: ≥ 1,000 cycles/s, ≥ 800 handoffs/s.
 */
const ETCD_LOCK_REFERENCE = { cyclesPerSecond: '380–500', cycleP50Ms: '1.7–2.1', handoffsPerSecond: 79, waitP50Ms: 99 };

const locks: Benchmark = {
  name: 'locks',
  async run(progress) {
    const options = DEFAULT_LOCKS_BENCH_OPTIONS;
    const result = await runLocksBench(options, progress);
    const { uncontended, contended, registry } = result;
    const load = (averages: readonly number[]): string => averages.map((value) => value.toFixed(2)).join(' / ');
    const contenders = options.contenders;
    const statuses = (counts: Readonly<Record<string, number>>): string => {
      const parts = Object.entries(counts).map(([status, count]) => `${count}× ${status}`);
      return parts.length === 0 ? '' : `; failed: ${parts.join(', ')}`;
    };
    return {
      rows: [
        { benchmark: 'locks machine load average (1/5/15 min) at start', figure: load(result.loadAverageAtStart), unit: `on ${result.cores} cores`, target: '' },
        { benchmark: 'locks uncontended acquire+release (1 client, leader)', figure: uncontended.opsPerSecond, decimals: 0, unit: 'cycles/s', target: `≥ 1,000; etcd 3.4: ${ETCD_LOCK_REFERENCE.cyclesPerSecond}` },
        { benchmark: 'locks uncontended cycle p50', figure: uncontended.p50Ms, decimals: 2, unit: 'ms', target: `etcd 3.4: ${ETCD_LOCK_REFERENCE.cycleP50Ms}` },
        { benchmark: 'locks uncontended cycle p99', figure: uncontended.p99Ms, decimals: 2, unit: 'ms', target: '' },
        { benchmark: 'locks uncontended done / errors', figure: `${uncontended.operations} / ${uncontended.errors}`, unit: `in ${uncontended.seconds.toFixed(1)} s`, target: '' },
        { benchmark: `locks ${contenders} clients on one lock (3 nodes) handoffs`, figure: contended.handoffsPerSecond, decimals: 0, unit: 'handoffs/s', target: `≥ 800; etcd 3.4: ${ETCD_LOCK_REFERENCE.handoffsPerSecond}` },
        { benchmark: `locks ${contenders} clients wait after a release p50`, figure: contended.afterRelease.p50Ms, decimals: 2, unit: 'ms (release sent → next grant)', target: '' },
        { benchmark: `locks ${contenders} clients wait after a release p99`, figure: contended.afterRelease.p99Ms, decimals: 2, unit: 'ms (release sent → next grant)', target: '' },
        { benchmark: `locks ${contenders} clients acquire wait in line p50`, figure: contended.acquireWait.p50Ms, decimals: 1, unit: 'ms (acquire sent → grant)', target: `etcd 3.4: ${ETCD_LOCK_REFERENCE.waitP50Ms}` },
        { benchmark: `locks ${contenders} clients acquire wait in line p99`, figure: contended.acquireWait.p99Ms, decimals: 1, unit: 'ms (acquire sent → grant)', target: '' },
        { benchmark: `locks ${contenders} clients grants / errors`, figure: `${contended.grants} / ${contended.errors}`, unit: `in ${contended.seconds.toFixed(1)} s${statuses(contended.errorStatuses)}`, target: '' },
        ...registry.flatMap((phase): Row[] => {
          const name = `registry ${phase.instances.toLocaleString('en')} instances, heartbeats ${phase.via === 'leader' ? 'to the leader' : 'over 3 nodes'}`;
          const leaderCpu = phase.cpu.find((node) => node.leader)?.percent ?? Number.NaN;
          const followerCpu = phase.cpu.filter((node) => !node.leader).map((node) => `${node.id} ${node.percent.toFixed(1)}`).join(', ');
          const moved = phase.leaderAfter === result.leader ? '' : ` (leader moved to ${phase.leaderAfter})`;
          return [
            { benchmark: `${name}: heartbeat p50`, figure: phase.heartbeats.p50Ms, decimals: 2, unit: 'ms', target: '' },
            { benchmark: `${name}: heartbeat p99`, figure: phase.heartbeats.p99Ms, decimals: 2, unit: 'ms', target: '' },
            { benchmark: `${name}: leader ${result.leader} CPU`, figure: leaderCpu, decimals: 1, unit: `% of a core (idle: ${result.leaderIdleCpuPercent.toFixed(1)} %)${moved}`, target: '' },
            { benchmark: `${name}: follower CPU`, figure: followerCpu, unit: '% of a core', target: '' },
            { benchmark: `${name}: load generator CPU`, figure: phase.clientCpuPercent, decimals: 1, unit: '% of a core (this process)', target: '' },
            {
              benchmark: `${name}: done / errors / late`,
              figure: `${phase.heartbeats.count} / ${phase.errors} / ${phase.late}`,
              unit: `in ${phase.seconds.toFixed(1)} s (${phase.heartbeatsPerSecond.toFixed(0)}/s)${statuses(phase.errorStatuses)}`,
              target: '',
            },
            { benchmark: `${name}: still listed after`, figure: phase.listedAfter, unit: `of ${phase.registered} registered`, target: phase.instances.toLocaleString('en') },
          ];
        }),
        { benchmark: 'locks machine load average (1/5/15 min) at end', figure: load(result.loadAverageAtEnd), unit: `on ${result.cores} cores`, target: '' },
      ],
      raw: { options, ...result, etcdReference: ETCD_LOCK_REFERENCE },
    };
  },
};

const BENCHMARKS: readonly Benchmark[] = [raftCoreThroughput, simulatorSpeed, storageGroupCommit, kv, restart, http, locks];

function parseArgs(argv: readonly string[]): { json: boolean; only: string[] } {
  let json = false;
  const only: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--json') json = true;
    else if (arg === '--only') only.push(argv[++i] ?? '');
    else if (arg?.startsWith('--only=') === true) only.push(arg.slice('--only='.length));
    else if (arg !== undefined && !arg.startsWith('-')) only.push(arg); // `npm run bench -- kv restart`
    else throw new Error(`unknown argument ${arg}; usage: bench/run.ts [--json] [--only NAME | NAME...]`);
  }
  return { json, only };
}

function formatTable(rows: readonly Row[]): string {
  const header: Row = { benchmark: 'benchmark', figure: 'figure', unit: 'unit', target: 'target' };
  const show = (row: Row): string =>
    typeof row.figure === 'number' && row.decimals !== undefined ? row.figure.toFixed(row.decimals) : String(row.figure);
  const cells = [header, ...rows].map((row) => [row.benchmark, show(row), row.unit, row.target]);
  const widths = [0, 1, 2, 3].map((col) => Math.max(...cells.map((line) => (line[col] ?? '').length)));
  const render = (line: readonly string[]): string =>
    line
      .map((cell, col) => (col === 1 ? cell.padStart(widths[col] ?? 0) : cell.padEnd(widths[col] ?? 0)))
      .join('  ')
      .trimEnd();
  const rule = widths.map((width) => '-'.repeat(width)).join('  ');
  return [render(cells[0] ?? []), rule, ...cells.slice(1).map(render)].join('\n');
}

async function main(): Promise<void> {
  const { json, only } = parseArgs(process.argv.slice(2));
  const unknown = only.filter((name) => !BENCHMARKS.some((bench) => bench.name === name));
  if (unknown.length > 0) {
    throw new Error(`no benchmark named ${unknown.join(', ')}; known: ${BENCHMARKS.map((bench) => bench.name).join(', ')}`);
  }
  const selected = only.length === 0 ? BENCHMARKS : BENCHMARKS.filter((bench) => only.includes(bench.name));
  const progress = (line: string): void => void process.stderr.write(`${line}\n`);
  const results: ({ name: string } & BenchOutcome)[] = [];
  for (const bench of selected) results.push({ name: bench.name, ...(await bench.run(progress)) });
  if (json) {
    const environment = { node: process.version, platform: process.platform, arch: process.arch };
    process.stdout.write(`${JSON.stringify({ environment, benchmarks: results }, null, 2)}\n`);
  } else {
    process.stdout.write(`${formatTable(results.flatMap((result) => result.rows))}\n`);
  }
}

await main();
