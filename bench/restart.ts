/**
 * restart: how long a node takes from process start to "caught up with its own log" — open
 * the data dir, load() (every checksum and the log's shape checked), restore the KV
 * snapshot, and replay the log into the state machine up to the stored commit index. The start
 * path is the real one: WalStorage, then NodeHost (whose constructor restores the snapshot and
 * whose Ready loop replays the committed entries, maxApplyEntriesPerReady at a time) driving a
 * KvStateMachine, on the SystemClock, with a transport that drops everything (a follower whose
 * peers are down: nothing here waits for the network).
 *
 * The data dirs are written the way a node writes them: persist() batches through WalStorage
 * (the production write-ahead log), compaction batches moving its snapshot marker. Both hold 100,000 keys (16–32-byte keys, 100-byte values) after a history of
 * 100,000 creating puts and 1,000,000 overwriting puts (1,100,000 entries in all):
 *
 * - bounded: a node with the default snapshot interval (DEFAULT_SNAPSHOT_EVERY, 100,000
 *   entries) just before its next snapshot: the snapshot and 99,999 entries after it; the worst
 *   it holds.
 * - worst: compaction configured rarely (an interval above 1,000,000): a snapshot at 100,000
 *   and all 1,000,000 later entries in the log.
 *
 * The data dirs live under os.tmpdir() and are removed afterwards, also on failure. Timings are
 * warm-cache (the files were just written); a cold disk adds its read time on top.
 *
 *   npx tsx bench/restart.ts [bounded|worst] [--keys=N] [--updates=N] [--runs=N]   (or import runRestartBench)
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DEFAULT_SNAPSHOT_EVERY } from '../src/cli/serve-options.ts';
import { SystemClock } from '../src/common/clock.ts';
import { SeededRandom } from '../src/common/random.ts';
import { KvStateMachine } from '../src/kv/index.ts';
import { NodeHost } from '../src/node/node-host.ts';
import { DEFAULT_RAFT_CONFIG, type RaftConfig } from '../src/raft/config.ts';
import type { ClusterConfig, Entry, HardState, Snapshot } from '../src/raft/types.ts';
import { WalStorage } from '../src/storage/wal-storage.ts';
import type { PersistBatch, Storage } from '../src/storage/storage.ts';
import { encodePut, makeKeys, makeValues, type Spread, spread } from './kv.ts';

export interface RestartBenchOptions {
  readonly keys: number;
  readonly valueBytes: number;
  /** Overwriting puts after the creating ones. */
  readonly updates: number;
  /** The bounded scenario's snapshot interval (the server's default). */
  readonly snapshotEvery: number;
  readonly runs: number;
  /** After this long restarting one scenario, stop after the run in progress (at least one run). */
  readonly scenarioBudgetMs: number;
  readonly scenarios: readonly ScenarioName[];
  readonly seed: number;
}

export type ScenarioName = 'bounded' | 'worst';

export const DEFAULT_RESTART_BENCH_OPTIONS: RestartBenchOptions = {
  keys: 100_000,
  valueBytes: 100,
  updates: 1_000_000,
  snapshotEvery: DEFAULT_SNAPSHOT_EVERY,
  runs: 3,
  scenarioBudgetMs: 120_000,
  scenarios: ['bounded', 'worst'],
  seed: 7,
};

export interface RestartRun {
  readonly totalMs: number;
  readonly openMs: number;
  readonly loadMs: number;
  /** NodeHost construction: the Raft log rebuilt from the loaded entries, the snapshot restored. */
  readonly restoreMs: number;
  /** From start() until the last committed entry applied. */
  readonly replayMs: number;
  readonly heapUsedMb: number;
}

export interface ScenarioResult {
  readonly scenario: ScenarioName;
  readonly snapshotIndex: number;
  readonly logEntries: number;
  readonly snapshotBytes: number;
  readonly buildSeconds: number;
  readonly runs: readonly RestartRun[];
  readonly totalMs: Spread;
  readonly openMs: Spread;
  readonly loadMs: Spread;
  readonly restoreMs: Spread;
  readonly replayMs: Spread;
}

const NODE_ID = 'n1';
const BOOTSTRAP: ClusterConfig = { voters: ['n1', 'n2', 'n3'], learners: [] };
/** What `concord serve` runs with (src/cli/serve.ts): 100 ms ticks, election after 10. */
const RAFT_CONFIG: RaftConfig = { ...DEFAULT_RAFT_CONFIG, id: NODE_ID, electionTicks: 10, heartbeatTicks: 1 };
const TICK_MS = 100;
const TERM = 1;
const HARD_STATE_TERM = 2;
const WRITE_BATCH_ENTRIES = 10_000;
const BASE_TIME_MS = 1_700_000_000_000;

function persistAsync(storage: Storage, batch: PersistBatch): Promise<void> {
  return new Promise((resolve, reject) => storage.persist(batch, (error) => (error === null ? resolve() : reject(error))));
}

export interface Layout {
  /** Entries 1..snapshotIndex are compacted into the snapshot; the rest stay in the log. */
  readonly snapshotIndex: number;
  readonly lastIndex: number;
  /** The interval the node runs with: no compaction may happen during the measured replay. */
  readonly snapshotEveryEntries: number;
}

export function layoutOf(scenario: ScenarioName, options: RestartBenchOptions): Layout {
  const lastIndex = options.keys + options.updates;
  if (scenario === 'bounded') {
    const logEntries = Math.min(options.snapshotEvery - 1, lastIndex);
    return { snapshotIndex: lastIndex - logEntries, lastIndex, snapshotEveryEntries: options.snapshotEvery };
  }
  return { snapshotIndex: options.keys, lastIndex, snapshotEveryEntries: options.updates + 1 };
}

/**
 * Writes a data dir as a node would have: the history's entries in persist() batches, the log
 * compacted every `snapshotEvery` entries up to the snapshot index (each compaction moves the
 * write-ahead log's marker and deletes the segments behind it, as the node's do), the real KV
 * snapshot at the snapshot index. Intermediate compactions carry a stand-in snapshot (they are
 * overwritten; only the marker matters), so that building does not cost a million applies.
 */
export async function buildDataDir(
  dataDir: string,
  layout: Layout,
  options: RestartBenchOptions,
  progress: (line: string) => void,
): Promise<number> {
  const random = new SeededRandom(options.seed);
  const keys = makeKeys(options.keys, random);
  const values = makeValues(options.valueBytes, random);
  const commandAt = (index: number): Uint8Array => {
    const at = BASE_TIME_MS + index;
    return index <= options.keys ? encodePut(keys[index - 1] as string, random.pick(values), at) : encodePut(random.pick(keys), random.pick(values), at);
  };

  // The snapshot: the machine with every key created and the watch history filled, applied at
  // indices ending at the snapshot index (apply needs increasing indices, not contiguous ones).
  const machine = new KvStateMachine();
  // Its applied index must be the snapshot index exactly: replay continues from there.
  const historyFill = Math.min(machine.config.historyMaxEvents, layout.snapshotIndex - options.keys);
  const snapshotCommands = options.keys + historyFill;
  for (let i = 0; i < snapshotCommands; i++) {
    const key = i < options.keys ? (keys[i] as string) : random.pick(keys);
    machine.apply(layout.snapshotIndex - snapshotCommands + 1 + i, encodePut(key, random.pick(values), BASE_TIME_MS + i));
  }
  const snapshotData = machine.snapshot();
  const finalSnapshot: Snapshot = { meta: { index: layout.snapshotIndex, term: TERM, config: BOOTSTRAP }, data: snapshotData };
  const standIn = (index: number): Snapshot => ({ meta: { index, term: TERM, config: BOOTSTRAP }, data: new Uint8Array(16) });

  const storage = await WalStorage.open(dataDir);
  try {
    await storage.load();
    let next = 1;
    let lastCompaction = 0;
    while (next <= layout.lastIndex) {
      const through = Math.min(next + WRITE_BATCH_ENTRIES - 1, layout.lastIndex);
      const entries: Entry[] = [];
      for (let index = next; index <= through; index++) entries.push({ index, term: TERM, type: 'normal', data: commandAt(index) });
      const hardState: HardState = { term: HARD_STATE_TERM, vote: NODE_ID, commit: through };
      // A compaction goes with the batch after the entries it covers, as the node's next Ready.
      let compaction: Snapshot | null = null;
      const due = Math.min(next - 1, layout.snapshotIndex);
      if (due === layout.snapshotIndex && lastCompaction < due) compaction = finalSnapshot;
      else if (due - lastCompaction >= options.snapshotEvery) compaction = standIn(due);
      if (compaction !== null) lastCompaction = compaction.meta.index;
      await persistAsync(storage, { snapshot: null, compaction, entries, hardState, sync: through === layout.lastIndex });
      next = through + 1;
      if (through % 100_000 < WRITE_BATCH_ENTRIES || through === layout.lastIndex) {
        progress(`restart: building: ${through.toLocaleString('en')} / ${layout.lastIndex.toLocaleString('en')} entries written`);
      }
    }
    if (lastCompaction < layout.snapshotIndex) {
      const hardState: HardState = { term: HARD_STATE_TERM, vote: NODE_ID, commit: layout.lastIndex };
      await persistAsync(storage, { snapshot: null, compaction: finalSnapshot, entries: [], hardState, sync: true });
    }
  } finally {
    await storage.close();
  }
  return snapshotData.length;
}

/** One restart, timed by phase, checked to have reached the commit index with every key. */
export async function restartOnce(dataDir: string, layout: Layout, options: RestartBenchOptions): Promise<RestartRun> {
  const started = performance.now();
  const storage = await WalStorage.open(dataDir);
  let host: NodeHost<unknown> | null = null;
  try {
    const opened = performance.now();
    const persisted = await storage.load();
    const loaded = performance.now();
    const commit = persisted.hardState.commit;
    const stateMachine = new KvStateMachine();
    let caughtUp: () => void = () => {};
    let failed: (error: Error) => void = () => {};
    const replayed = new Promise<void>((resolve, reject) => {
      caughtUp = resolve;
      failed = reject;
    });
    host = new NodeHost<unknown>({
      raftConfig: RAFT_CONFIG,
      bootstrap: BOOTSTRAP,
      persisted,
      random: new SeededRandom(options.seed),
      clock: new SystemClock(),
      transport: { send: () => {} },
      storage,
      stateMachine,
      tickMs: TICK_MS,
      snapshotEveryEntries: layout.snapshotEveryEntries,
      maxPendingProposals: 10_000,
      maxPendingReads: 10_000,
      hooks: {
        applied: (entry) => {
          if (entry.index >= commit) caughtUp();
        },
        fatal: (error) => failed(error),
      },
    });
    const restored = performance.now();
    if (host.raft.appliedIndex >= commit) caughtUp();
    host.start();
    await replayed;
    const finished = performance.now();
    const heapUsedMb = process.memoryUsage().heapUsed / 2 ** 20;
    const keyCount = stateMachine.range('', 0).items.length;
    if (stateMachine.appliedIndex !== commit || keyCount !== options.keys) {
      throw new Error(`restart: applied ${stateMachine.appliedIndex} (expected ${commit}), ${keyCount} keys (expected ${options.keys})`);
    }
    return {
      totalMs: finished - started,
      openMs: opened - started,
      loadMs: loaded - opened,
      restoreMs: restored - loaded,
      replayMs: finished - restored,
      heapUsedMb,
    };
  } finally {
    host?.stop();
    await storage.close();
  }
}

export async function runRestartBench(
  options: RestartBenchOptions = DEFAULT_RESTART_BENCH_OPTIONS,
  progress: (line: string) => void = () => {},
): Promise<ScenarioResult[]> {
  const results: ScenarioResult[] = [];
  for (const scenario of options.scenarios) {
    const layout = layoutOf(scenario, options);
    const logEntries = layout.lastIndex - layout.snapshotIndex;
    const dataDir = await mkdtemp(join(tmpdir(), `concord-bench-restart-${scenario}-`));
    try {
      progress(
        `restart ${scenario}: building a data dir with a snapshot of ${options.keys.toLocaleString('en')} keys at ` +
          `${layout.snapshotIndex.toLocaleString('en')} and ${logEntries.toLocaleString('en')} log entries (${dataDir})`,
      );
      const buildStarted = performance.now();
      const snapshotBytes = await buildDataDir(dataDir, layout, options, progress);
      const buildSeconds = (performance.now() - buildStarted) / 1000;
      progress(`restart ${scenario}: built in ${buildSeconds.toFixed(1)} s; snapshot ${snapshotBytes.toLocaleString('en')} bytes`);
      const runs: RestartRun[] = [];
      const runsStarted = performance.now();
      for (let i = 0; i < options.runs; i++) {
        if (i > 0 && performance.now() - runsStarted > options.scenarioBudgetMs) {
          progress(`restart ${scenario}: time budget of ${options.scenarioBudgetMs / 1000} s spent: ${i} runs`);
          break;
        }
        const run = await restartOnce(dataDir, layout, options);
        progress(
          `restart ${scenario}: run ${i + 1}/${options.runs}: ${run.totalMs.toFixed(0)} ms ` +
            `(open ${run.openMs.toFixed(0)}, load ${run.loadMs.toFixed(0)}, restore ${run.restoreMs.toFixed(0)}, ` +
            `replay ${run.replayMs.toFixed(0)}; heap ${run.heapUsedMb.toFixed(0)} MiB)`,
        );
        runs.push(run);
      }
      results.push({
        scenario,
        snapshotIndex: layout.snapshotIndex,
        logEntries,
        snapshotBytes,
        buildSeconds,
        runs,
        totalMs: spread(runs.map((run) => run.totalMs)),
        openMs: spread(runs.map((run) => run.openMs)),
        loadMs: spread(runs.map((run) => run.loadMs)),
        restoreMs: spread(runs.map((run) => run.restoreMs)),
        replayMs: spread(runs.map((run) => run.replayMs)),
      });
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  }
  return results;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  const only = args.filter((arg): arg is ScenarioName => arg === 'bounded' || arg === 'worst');
  // Smaller sizes for iterating (`--updates=100000`); the defaults are the figures we quote.
  const sized = (name: 'keys' | 'updates' | 'runs'): Partial<RestartBenchOptions> => {
    const arg = args.find((candidate) => candidate.startsWith(`--${name}=`));
    if (arg === undefined) return {};
    const value = Number(arg.slice(name.length + 3));
    if (!Number.isSafeInteger(value) || value < 1) throw new Error(`restart bench: bad ${arg}`);
    return { [name]: value };
  };
  const options: RestartBenchOptions = {
    ...DEFAULT_RESTART_BENCH_OPTIONS,
    ...(only.length > 0 ? { scenarios: only } : {}),
    ...sized('keys'),
    ...sized('updates'),
    ...sized('runs'),
  };
  const results = await runRestartBench(options, (line) => console.error(line));
  const show = (s: Spread): string => `${s.median.toFixed(0)} (${s.min.toFixed(0)}–${s.max.toFixed(0)})`;
  console.table(
    Object.fromEntries(
      results.map((result) => [
        `${result.scenario}: ${result.logEntries.toLocaleString('en')} entries`,
        {
          'total ms': show(result.totalMs),
          open: show(result.openMs),
          load: show(result.loadMs),
          restore: show(result.restoreMs),
          replay: show(result.replayMs),
        },
      ]),
    ),
  );
}
