/**
 * The component benchmarks (run by name, or with `all`): the Raft core in memory, the simulator's
 * speed, LevelStorage's group commit, the KV state machine, and restart. Each measures one part
 * of a node in-process, without HTTP; the cluster suite (bench/run.ts) measures them together.
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
import type { Row } from './report.ts';

export interface BenchOutcome {
  readonly rows: readonly Row[];
  /** Everything measured, for --json. */
  readonly raw: unknown;
}

export interface ComponentBenchmark {
  readonly name: string;
  run(progress: (line: string) => void): BenchOutcome | Promise<BenchOutcome>;
}

const CORE_RUNS = 3;
const CORE_TARGET_PER_SECOND = 200_000;
const SWEEP_TARGET_MINUTES = 5;

const raftCoreThroughput: ComponentBenchmark = {
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

const simulatorSpeed: ComponentBenchmark = {
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

const storageGroupCommit: ComponentBenchmark = {
  name: 'storage-group-commit',
  async run(progress) {
    const results = await runStorageBench(DEFAULT_STORAGE_BENCH_OPTIONS, progress);
    const name = 'storage-group-commit';
    return {
      rows: results.flatMap((result) => [
        { benchmark: `${name} ${result.engine} batch ${result.batchSize}`, figure: result.entriesPerSecond, decimals: 0, unit: 'entries/s (fsync)', target: '' },
        { benchmark: `${name} ${result.engine} batch ${result.batchSize} write p50`, figure: result.writeLatencyP50Ms, decimals: 2, unit: 'ms', target: '' },
        { benchmark: `${name} ${result.engine} batch ${result.batchSize} write p99`, figure: result.writeLatencyP99Ms, decimals: 2, unit: 'ms', target: '' },
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

const kv: ComponentBenchmark = {
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
    rows.push(...spreadRows(`kv restoreInSlices(), longest of ${result.restoreSlices} slices`, result.restoreSliceMaxMs, 1, 'ms', ''));
    return { rows, raw: { options, ...result } };
  },
};

const RESTART_TARGET_MS = 3_000;

const restart: ComponentBenchmark = {
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

export const COMPONENT_BENCHMARKS: readonly ComponentBenchmark[] = [raftCoreThroughput, simulatorSpeed, storageGroupCommit, kv, restart];
