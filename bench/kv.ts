/**
 * kv: what the KV state machine costs on its own — one process, no I/O, no Raft. Commands are
 * encoded up front with encodeCommand (as KvNode.submit does) and applied through
 * KvStateMachine.apply(index, data), exactly the call NodeHost makes for each committed entry,
 * so decode, validation, the MVCC write, the watch feed and the outcome object are all counted.
 *
 * Workload: `keys` distinct keys (16–32 bytes, `svc/<name>/...` shaped) with `valueBytes` values.
 * Each run starts from an empty machine: `keys` puts that create the keys (insert), then
 * `updates` puts that overwrite random keys (update, which is what a long log mostly holds).
 * The snapshot figures are taken on the machine left by the run: 100,000 keys plus the full
 * retained watch history (10,000 events by default, each with its `prev`); the restore is timed
 * whole and in slices (the longest slice: what a follower installing it stalls for at most).
 *
 *   npx tsx bench/kv.ts      (or import runKvBench)
 */
import { pathToFileURL } from 'node:url';
import { SeededRandom } from '../src/common/random.ts';
import type { Slices } from '../src/common/slices.ts';
import { encodeCommand, isKvError, type KvCommand, KvStateMachine } from '../src/kv/index.ts';

export interface KvBenchOptions {
  readonly keys: number;
  readonly updates: number;
  readonly valueBytes: number;
  readonly runs: number;
  /** Also measure puts that carry an idempotency key (the dedup table fills to its bound). */
  readonly idempotent: boolean;
  readonly seed: number;
}

export const DEFAULT_KV_BENCH_OPTIONS: KvBenchOptions = {
  keys: 100_000,
  updates: 100_000,
  valueBytes: 100,
  runs: 3,
  idempotent: true,
  seed: 42,
};

/** One run's figures. */
export interface KvRunResult {
  readonly insertPutsPerSecond: number;
  readonly updatePutsPerSecond: number;
  readonly idempotentPutsPerSecond: number | null;
  readonly snapshotBytes: number;
  readonly snapshotMs: number;
  readonly restoreMs: number;
  /** The same restore in slices as NodeHost runs it (2,000 list elements per slice): the longest. */
  readonly restoreSliceMaxMs: number;
  readonly restoreSlices: number;
  /** Snapshot of the idempotent run's machine (its dedup table is full). */
  readonly idempotentSnapshotBytes: number | null;
}

export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

export function spread(values: readonly number[]): Spread {
  const sorted = values.slice().sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  const median =
    sorted.length % 2 === 1 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
  return { median, min: sorted[0] ?? 0, max: sorted[sorted.length - 1] ?? 0 };
}

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

function randomText(random: SeededRandom, length: number): string {
  let text = '';
  for (let i = 0; i < length; i++) text += ALPHABET[random.int(ALPHABET.length)];
  return text;
}

/**
 * `count` distinct keys of 16–32 bytes, e.g. `svc/k3x9/000123/ab`: a service-ish prefix (many
 * keys share one, as a registry or config tree has), a unique serial, random padding.
 */
export function makeKeys(count: number, random: SeededRandom): string[] {
  const services = Array.from({ length: 64 }, () => randomText(random, 4));
  const keys: string[] = [];
  for (let i = 0; i < count; i++) {
    const base = `svc/${random.pick(services)}/${i.toString(36).padStart(6, '0')}`; // 17 bytes
    const length = 16 + random.int(17); // 16..32
    keys.push(length > base.length + 1 ? `${base}/${randomText(random, length - base.length - 1)}` : base);
  }
  return keys;
}

/** A few distinct values to draw from (values are opaque to the machine; only size matters). */
export function makeValues(valueBytes: number, random: SeededRandom): string[] {
  return Array.from({ length: 256 }, () => randomText(random, valueBytes));
}

/** The log entry data of a put, as KvNode.submit encodes it. */
export function encodePut(key: string, value: string, proposedAtMs: number, idempotencyKey?: string): Uint8Array {
  const command: KvCommand = {
    proposedAtMs,
    body: { type: 'put', key, value },
    ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
  };
  return encodeCommand(command);
}

interface Workload {
  readonly inserts: Uint8Array[];
  readonly updates: Uint8Array[];
  readonly idempotentUpdates: Uint8Array[] | null;
}

const BASE_TIME_MS = 1_700_000_000_000;

function buildWorkload(options: KvBenchOptions): Workload {
  const random = new SeededRandom(options.seed);
  const keys = makeKeys(options.keys, random);
  const values = makeValues(options.valueBytes, random);
  // One proposal per millisecond of proposer time: the dedup window (10 min) holds them all.
  const inserts = keys.map((key, i) => encodePut(key, random.pick(values), BASE_TIME_MS + i));
  const updates: Uint8Array[] = [];
  const idempotentUpdates: Uint8Array[] = [];
  for (let i = 0; i < options.updates; i++) {
    const key = random.pick(keys);
    const value = random.pick(values);
    const at = BASE_TIME_MS + options.keys + i;
    updates.push(encodePut(key, value, at));
    if (options.idempotent) idempotentUpdates.push(encodePut(key, value, at, `client-7/${i.toString(36)}`));
  }
  return { inserts, updates, idempotentUpdates: options.idempotent ? idempotentUpdates : null };
}

/** Applies `commands` from index `firstIndex`; returns puts per second. Every put must succeed. */
function applyAll(machine: KvStateMachine, commands: readonly Uint8Array[], firstIndex: number): number {
  const started = performance.now();
  let failed = 0;
  for (let i = 0; i < commands.length; i++) {
    const outcome = machine.apply(firstIndex + i, commands[i] as Uint8Array);
    if (isKvError(outcome.result)) failed++;
  }
  const seconds = (performance.now() - started) / 1000;
  if (failed > 0) throw new Error(`kv bench: ${failed} puts failed`);
  return commands.length / seconds;
}

function runOnce(workload: Workload): KvRunResult {
  const machine = new KvStateMachine();
  const insertPutsPerSecond = applyAll(machine, workload.inserts, 1);
  const updatePutsPerSecond = applyAll(machine, workload.updates, workload.inserts.length + 1);

  let started = performance.now();
  const snapshot = machine.snapshot();
  const snapshotMs = performance.now() - started;
  const restored = new KvStateMachine();
  started = performance.now();
  restored.restore(snapshot);
  const restoreMs = performance.now() - started;
  if (restored.range('', 0).items.length !== workload.inserts.length || restored.revision !== machine.revision) {
    throw new Error('kv bench: the restored machine differs from the snapshotted one');
  }
  const { longestMs: restoreSliceMaxMs, slices: restoreSlices } = timeSlices(new KvStateMachine().restoreInSlices(snapshot, NODE_SLICE_ELEMENTS));

  let idempotentPutsPerSecond: number | null = null;
  let idempotentSnapshotBytes: number | null = null;
  if (workload.idempotentUpdates !== null) {
    const withKeys = new KvStateMachine();
    applyAll(withKeys, workload.inserts, 1);
    idempotentPutsPerSecond = applyAll(withKeys, workload.idempotentUpdates, workload.inserts.length + 1);
    idempotentSnapshotBytes = withKeys.snapshot().length;
  }
  return {
    insertPutsPerSecond,
    updatePutsPerSecond,
    idempotentPutsPerSecond,
    snapshotBytes: snapshot.length,
    snapshotMs,
    restoreMs,
    restoreSliceMaxMs,
    restoreSlices,
    idempotentSnapshotBytes,
  };
}

/** NodeHost's default snapshotSliceElements. */
const NODE_SLICE_ELEMENTS = 2_000;

/** Runs every slice back to back; the longest one's time, and how many there were. */
function timeSlices(slices: Slices<unknown>): { longestMs: number; slices: number } {
  let longestMs = 0;
  for (let count = 1; ; count++) {
    const started = performance.now();
    const step = slices.next();
    longestMs = Math.max(longestMs, performance.now() - started);
    if (step.done === true) return { longestMs, slices: count };
  }
}

export interface KvBenchResult {
  readonly runs: readonly KvRunResult[];
  readonly insertPutsPerSecond: Spread;
  readonly updatePutsPerSecond: Spread;
  readonly idempotentPutsPerSecond: Spread | null;
  readonly snapshotBytes: number;
  readonly idempotentSnapshotBytes: number | null;
  readonly snapshotMs: Spread;
  readonly restoreMs: Spread;
  readonly restoreSliceMaxMs: Spread;
  readonly restoreSlices: number;
}

export function runKvBench(
  options: KvBenchOptions = DEFAULT_KV_BENCH_OPTIONS,
  progress: (line: string) => void = () => {},
): KvBenchResult {
  progress(`kv: encoding ${options.keys.toLocaleString('en')} inserts and ${options.updates.toLocaleString('en')} updates (${options.valueBytes}-byte values)`);
  const workload = buildWorkload(options);
  progress('kv: warm-up run (not counted)');
  runOnce(workload);
  const runs: KvRunResult[] = [];
  for (let i = 0; i < options.runs; i++) {
    progress(`kv: run ${i + 1}/${options.runs}`);
    runs.push(runOnce(workload));
  }
  const idempotent = runs.map((run) => run.idempotentPutsPerSecond).filter((rate) => rate !== null);
  return {
    runs,
    insertPutsPerSecond: spread(runs.map((run) => run.insertPutsPerSecond)),
    updatePutsPerSecond: spread(runs.map((run) => run.updatePutsPerSecond)),
    idempotentPutsPerSecond: idempotent.length > 0 ? spread(idempotent) : null,
    snapshotBytes: runs[0]?.snapshotBytes ?? 0,
    idempotentSnapshotBytes: runs[0]?.idempotentSnapshotBytes ?? null,
    snapshotMs: spread(runs.map((run) => run.snapshotMs)),
    restoreMs: spread(runs.map((run) => run.restoreMs)),
    restoreSliceMaxMs: spread(runs.map((run) => run.restoreSliceMaxMs)),
    restoreSlices: runs[0]?.restoreSlices ?? 0,
  };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const result = runKvBench(DEFAULT_KV_BENCH_OPTIONS, (line) => console.error(line));
  const show = (s: Spread, decimals = 0): string =>
    `${s.median.toFixed(decimals)} (${s.min.toFixed(decimals)}–${s.max.toFixed(decimals)})`;
  console.table({
    'insert puts/s': show(result.insertPutsPerSecond),
    'update puts/s': show(result.updatePutsPerSecond),
    'idempotent update puts/s': result.idempotentPutsPerSecond === null ? '-' : show(result.idempotentPutsPerSecond),
    'snapshot bytes': result.snapshotBytes,
    'snapshot bytes (dedup table full)': result.idempotentSnapshotBytes ?? '-',
    'snapshot() ms': show(result.snapshotMs, 1),
    'restore() ms': show(result.restoreMs, 1),
    [`restoreInSlices(): longest of ${result.restoreSlices} slices, ms`]: show(result.restoreSliceMaxMs, 1),
  });
}
