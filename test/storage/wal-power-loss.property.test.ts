/**
 * Power loss at sector granularity, as a property of WalStorage.
 *
 * fast-check generates what a Raft node persists (appends of batches of entries of all sizes —
 * some spanning many 512-byte sectors, some larger than a segment —, conflicting suffixes
 * overwritten in a higher term, hard-state changes, compactions, snapshots installed from a
 * leader) and runs it on a real data dir with small segments, so records rotate into new
 * segments, grow a fresh segment's file and get old segments deleted. Every durable step the
 * storage takes is recorded with an image of the data dir just before it:
 *
 *   - each write to a WAL segment (the record, a rotation's base record, recovery's zeroing),
 *     intercepted at segment-files.ts's writeFully (vi.mock below), with its file, offset and
 *     bytes. Segments are opened O_DSYNC, so only the write in flight at the power loss can be
 *     torn, and it can be torn in any subset of its 512-byte sectors (none, all, a prefix, all
 *     but one, any pattern: not only a prefix); the
 *     sectors not written keep their previous bytes (the preallocated zeros), and a write past
 *     the end of the file leaves the file as long as its last sector written (or, "size first",
 *     as long as the whole write, with the unwritten sectors reading as zeros);
 *   - the steps that are not segment writes, taken as atomic and in their order: the snapshot
 *     file's write, the snapshot file saved (then LevelDB's metadata: its effect is in the image
 *     of the next WAL write), each deletion of an obsolete segment.
 *
 * A crash at one of those points is the image with the step's write torn as fast-check chose.
 * WalStorage must load it without refusing it, and load exactly the model's state before the
 * persist in flight or after it (after it only if its record can be whole: every sector of the
 * record written, or some missing sectors whose bytes happened to be zeros anyway; before it
 * when no sector of it was written). One documented exception (docs/storage.md, "After a
 * crash"): a snapshot's file and metadata are durable before the record naming it, so a crash
 * between them loads the state before the persist with that snapshot applied (and the entries
 * after it kept only where the log holds the snapshot's last entry), not the batch's entries
 * nor its hard state. The Storage interface calls a batch atomic; this is not, though it is safe
 * for Raft (nothing of the batch was acknowledged; the snapshot covers committed entries only).
 * Then one more generated batch is persisted, and a reopen must load exactly the state plus it.
 * Sometimes a second power loss comes during that recovery (its zeroing, its reconciling record,
 * its deletions) or that batch, and is checked the same way.
 *
 * Replay: the seed is fixed (CONCORD_WAL_POWER_LOSS_SEED overrides it, CONCORD_WAL_POWER_LOSS_RUNS
 * the number of runs); fast-check prints the seed, the path and the shrunk counterexample.
 */
import type { FileHandle } from 'node:fs/promises';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it, vi } from 'vitest';
import type { Entry, EntryType, PersistedState } from '../../src/raft/types.ts';
import type { ScannedSegment } from '../../src/storage/wal/frame.ts';
import type { PersistBatch, Storage } from '../../src/storage/storage.ts';
import { WalStorage } from '../../src/storage/wal-storage.ts';
import { batch, makeTempDir, persist, removeTempDirs, snapshot } from './helpers.ts';
import type { BatchIntent, ModelState } from './storage-model.ts';
import { applyToModel, batchFor as planBatch, EMPTY_STATE, unitArbitrary } from './storage-model.ts';

// --- Interception: the module mocks only observe (and the planted rule, off by default). ---

const interception = vi.hoisted(() => ({
  /** Called before every writeFully, with the write's arguments. */
  beforeWrite: null as null | ((handle: FileHandle, bytes: Uint8Array, position: number) => Promise<void>),
  /** Called before every removeFiles (a segment's deletion, or a leftover's). */
  beforeRemove: null as null | ((paths: readonly string[]) => Promise<void>),
  /** Called once a snapshot's file is saved, before its metadata goes to LevelDB. */
  afterSnapshotFileSaved: null as null | (() => Promise<void>),
  /** The path of every WAL segment handle opened (openForAppend, createSegment). */
  segmentPaths: new WeakMap<object, string>(),
  /** Segment preparations under way: an image waits for them, so it never catches a half-made spare. */
  preparing: new Set<Promise<unknown>>(),
  /** Every deletion, preparation and directory sync under way, for settle(). */
  background: new Set<Promise<unknown>>(),
  /** The planted bug of the last test: etcd's zero-sector rule checked on a frame's last sector only. */
  lastSectorOnlyRule: false,
}));

vi.mock('../../src/storage/wal/segment-files.ts', async (importOriginal) => {
  const original = await importOriginal<typeof import('../../src/storage/wal/segment-files.ts')>();
  const track = <T>(promise: Promise<T>, set?: Set<Promise<unknown>>): Promise<T> => {
    for (const into of [interception.background, set]) {
      if (into === undefined) continue;
      into.add(promise);
      promise.then(
        () => into.delete(promise),
        () => into.delete(promise),
      );
    }
    return promise;
  };
  return {
    ...original,
    openForAppend: async (dir: string, sequence: number): Promise<FileHandle> => {
      const handle = await original.openForAppend(dir, sequence);
      interception.segmentPaths.set(handle, original.segmentPath(dir, sequence));
      return handle;
    },
    createSegment: (dir: string, sequence: number, bytes: number): Promise<FileHandle> =>
      track(
        original.createSegment(dir, sequence, bytes).then((handle) => {
          interception.segmentPaths.set(handle, original.segmentPath(dir, sequence));
          return handle;
        }),
        interception.preparing,
      ),
    removeFiles: (paths: readonly string[]): Promise<void> =>
      track(
        (async () => {
          await interception.beforeRemove?.(paths);
          await original.removeFiles(paths);
        })(),
      ),
    syncDirectory: (dir: string): Promise<void> => track(original.syncDirectory(dir)),
    writeFully: async (handle: FileHandle, bytes: Uint8Array, position: number): Promise<void> => {
      await interception.beforeWrite?.(handle, bytes, position);
      await original.writeFully(handle, bytes, position);
    },
  };
});

vi.mock('../../src/storage/wal/snapshot-files.ts', async (importOriginal) => {
  const original = await importOriginal<typeof import('../../src/storage/wal/snapshot-files.ts')>();
  return {
    ...original,
    saveSnapshotFile: async (...args: Parameters<typeof original.saveSnapshotFile>): Promise<void> => {
      await original.saveSnapshotFile(...args);
      await interception.afterSnapshotFileSaved?.();
    },
  };
});

vi.mock('../../src/storage/wal/frame.ts', async (importOriginal) => {
  const original = await importOriginal<typeof import('../../src/storage/wal/frame.ts')>();
  return {
    ...original,
    scanSegment: (bytes: Uint8Array): ScannedSegment => {
      const scanned = original.scanSegment(bytes);
      return interception.lastSectorOnlyRule ? lastSectorOnly(bytes, scanned) : scanned;
    },
  };
});

const SECTOR = 512;

/**
 * The planted bug: a torn last record (its checksum failing) is believed only if the sector
 * holding its end is zeros — right for a write torn after a prefix of its sectors, wrong for one
 * whose middle sector was lost.
 */
function lastSectorOnly(bytes: Uint8Array, scanned: ScannedSegment): ScannedSegment {
  if (scanned.end.kind !== 'torn') return scanned;
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const start = scanned.endOffset;
  const length = view.readUInt32LE(start);
  const frameEnd = start + 8 + length;
  if (length === 0 || frameEnd > view.length) return scanned;
  const lastSector = Math.max(start, Math.floor((frameEnd - 1) / SECTOR) * SECTOR);
  return view.subarray(lastSector, frameEnd).some((byte) => byte !== 0) ? { ...scanned, end: { kind: 'corrupt' } } : scanned;
}

/** Waits until no deletion, preparation or directory sync is under way. */
async function settle(): Promise<void> {
  for (;;) {
    await new Promise<void>((resolve) => setImmediate(resolve)); // lets a deletion loop start its next step
    if (interception.background.size === 0) return;
    await Promise.allSettled([...interception.background]);
  }
}

// --- The model: storage-model.ts's, with entries of all sizes. ---

/**
 * The state a crash leaves when `write`'s snapshot is durable (file and metadata) but not its
 * record: `before` with that snapshot, the entries after it kept only if `before` holds its
 * last entry with its term (docs/storage.md, "After a crash"). Null when `write` saves none.
 */
function snapshotWithoutRecord(before: ModelState, after: ModelState): ModelState | null {
  const saved = after.snapshot;
  if (saved === null || saved === before.snapshot) return null;
  const atIndex = before.entries.find((stored) => stored.index === saved.meta.index);
  const continues = atIndex !== undefined && atIndex.term === saved.meta.term;
  return { hardState: before.hardState, snapshot: saved, entries: continues ? before.entries.filter((stored) => stored.index > saved.meta.index) : [] };
}

interface EntryShape {
  readonly bytes: number;
  readonly fill: 'text' | 'zeros' | 'pattern';
  readonly type: EntryType;
}

/** storage-model.ts's intent, with the shape of each entry appended. */
interface Intent extends Omit<BatchIntent, 'appendCount' | 'sync'> {
  readonly appends: readonly EntryShape[];
}

const entryShapeArbitrary: fc.Arbitrary<EntryShape> = fc.record({
  // Small entries; entries over one or two sectors; entries of several sectors; entries larger
  // than a segment of 4 or 8 KiB, whose record grows the file of a fresh segment after its base.
  bytes: fc.oneof(
    { weight: 3, arbitrary: fc.integer({ min: 0, max: 64 }) },
    { weight: 3, arbitrary: fc.integer({ min: 100, max: 900 }) },
    { weight: 2, arbitrary: fc.integer({ min: 1000, max: 3500 }) },
    { weight: 1, arbitrary: fc.integer({ min: 3500, max: 9000 }) },
  ),
  // Zeros: a record holding whole sectors of zeros, as a torn write's unwritten sectors are.
  fill: fc.constantFrom('text', 'zeros', 'pattern'),
  type: fc.constantFrom<EntryType>('normal', 'normal', 'noop', 'config'),
});

const intentArbitrary: fc.Arbitrary<Intent> = fc.record({
  // A compaction in about one batch in five, a snapshot from the leader in one in ten.
  compactFraction: fc.oneof({ weight: 4, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: unitArbitrary }),
  installAhead: fc.oneof({ weight: 9, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.integer({ min: -5, max: 8 }) }),
  truncateFraction: unitArbitrary,
  appends: fc.array(entryShapeArbitrary, { maxLength: 5 }),
  newTerm: fc.boolean(),
  commitAdvance: fc.integer({ min: 0, max: 4 }),
  writeHardState: fc.boolean(),
});

function makeEntry(index: number, term: number, shape: EntryShape): Entry {
  const data = new Uint8Array(shape.bytes);
  if (shape.fill === 'pattern') for (let i = 0; i < data.length; i++) data[i] = (i * 131 + index * 17 + term) & 0xff;
  if (shape.fill === 'text') {
    const text = new TextEncoder().encode(`entry ${index} of term ${term}; `);
    for (let i = 0; i < data.length; i++) data[i] = text[i % text.length]!;
  }
  return { index, term, type: shape.type, data };
}

/**
 * A batch a node could write in `state`, its entries of the intent's sizes: the committed prefix
 * is never truncated, and entries overwriting the log come in a higher term.
 */
function batchFor(state: ModelState, intent: Intent): PersistBatch {
  return planBatch(state, { ...intent, appendCount: intent.appends.length }, { makeEntry: (index, term, offset) => makeEntry(index, term, intent.appends[offset]!), strictTerms: true });
}

/** A state as a string that two equal states share (key order and byte arrays' classes aside). */
function canonical(state: PersistedState | ModelState): string {
  return JSON.stringify(state, (_key, value: unknown) => {
    if (value instanceof Uint8Array) return `bytes:${Buffer.from(value).toString('base64')}`;
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      return Object.fromEntries(Object.entries(value).sort(([left], [right]) => left.localeCompare(right)));
    }
    return value;
  });
}

/** A state in a line, for failure messages. */
function summary(state: PersistedState | ModelState): string {
  const { term, vote, commit } = state.hardState;
  const held = state.snapshot === null ? 'none' : `${state.snapshot.meta.index}@${state.snapshot.meta.term}`;
  const log = state.entries.map((stored) => `${stored.index}@${stored.term}(${stored.data.length}B)`).join(' ');
  return `hardState ${term}/${JSON.stringify(vote)}/${commit}, snapshot ${held}, entries [${log}]`;
}

// --- The data dir's images, and the crash points recorded while a storage runs. ---

/** Every file of a data dir, by path relative to it, and its directories. */
interface Image {
  readonly files: ReadonlyMap<string, Buffer>;
  readonly dirs: readonly string[];
}

async function captureImage(root: string): Promise<Image> {
  const files = new Map<string, Buffer>();
  const dirs: string[] = [];
  const visit = async (dir: string): Promise<void> => {
    for (const found of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, found.name);
      if (found.isDirectory()) {
        dirs.push(relative(root, path));
        await visit(path);
      } else {
        files.set(relative(root, path), await readFile(path));
      }
    }
  };
  await visit(root);
  return { files, dirs };
}

interface SegmentWrite {
  readonly path: string;
  readonly offset: number;
  readonly bytes: Buffer;
}

interface CrashPoint {
  readonly label: string;
  /** The data dir just before the step. */
  readonly image: Image;
  /** The WAL segment write the power loss tears; null for an atomic step (not done). */
  readonly write: SegmentWrite | null;
  /** The state to load when no sector of the write landed, and when all did; null until the load it is part of returns. */
  ifNone: ModelState | null;
  ifAll: ModelState | null;
}

/** Which sectors of a write reach the disk. */
type Tear =
  | { readonly kind: 'none' }
  | { readonly kind: 'all' }
  | { readonly kind: 'prefix'; readonly fraction: number }
  /** Every sector but one. */
  | { readonly kind: 'allButOne'; readonly which: number }
  | { readonly kind: 'subset'; readonly bits: readonly boolean[]; readonly sizeFirst: boolean };


const tearArbitrary: fc.Arbitrary<Tear> = fc.oneof(
  { weight: 1, arbitrary: fc.constant({ kind: 'none' } as const) },
  { weight: 1, arbitrary: fc.constant({ kind: 'all' } as const) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('prefix' as const), fraction: unitArbitrary }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('allButOne' as const), which: unitArbitrary }) },
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant('subset' as const), bits: fc.array(fc.boolean(), { minLength: 1, maxLength: 16 }), sizeFirst: fc.boolean() }),
  },
);

/** Sector by sector (of the file: sector j of the write is file sector first + j), whether it landed. */
function landedSectors(write: SegmentWrite, tear: Tear): boolean[] {
  const first = Math.floor(write.offset / SECTOR);
  const count = Math.floor((write.offset + write.bytes.length - 1) / SECTOR) - first + 1;
  const landed: boolean[] = [];
  for (let j = 0; j < count; j++) {
    if (tear.kind === 'none') landed.push(false);
    else if (tear.kind === 'all') landed.push(true);
    else if (tear.kind === 'prefix') landed.push(j < Math.floor(tear.fraction * (count + 1)));
    else if (tear.kind === 'allButOne') landed.push(j !== Math.floor(tear.which * count));
    else landed.push(tear.bits[j % tear.bits.length]!);
  }
  return landed;
}

/** The file `write` leaves when only the `landed` sectors reached the disk. */
function tornFile(before: Buffer, write: SegmentWrite, landed: readonly boolean[], sizeFirst: boolean): Buffer {
  const end = write.offset + write.bytes.length;
  const after = Buffer.alloc(Math.max(before.length, end)); // beyond the old end: a hole, zeros
  before.copy(after);
  let length = sizeFirst ? Math.max(before.length, end) : before.length;
  const firstSector = Math.floor(write.offset / SECTOR);
  landed.forEach((didLand, j) => {
    if (!didLand) return;
    const from = Math.max((firstSector + j) * SECTOR, write.offset);
    const to = Math.min((firstSector + j + 1) * SECTOR, end);
    write.bytes.copy(after, from, from - write.offset, to - write.offset);
    length = Math.max(length, to);
  });
  return after.subarray(0, length);
}

/** Writes `point`'s image into the empty `dataDir`, its write torn by `tear`; returns the states it may load. */
async function materialize(point: CrashPoint, tear: Tear, dataDir: string): Promise<{ acceptable: ModelState[]; landed: string }> {
  const files = new Map(point.image.files);
  let acceptable = [point.ifNone!];
  let landed = 'an atomic step, not done';
  if (point.write !== null) {
    const sectors = landedSectors(point.write, tear);
    const before = files.get(point.write.path);
    if (before === undefined) throw new Error(`${point.label}: no ${point.write.path} in the image`);
    files.set(point.write.path, tornFile(before, point.write, sectors, tear.kind === 'subset' && tear.sizeFirst));
    const count = sectors.filter(Boolean).length;
    landed = `sectors landed: ${sectors.map((didLand) => (didLand ? '#' : '.')).join('')}${tear.kind === 'subset' && tear.sizeFirst ? ' (size first)' : ''}`;
    acceptable = count === 0 ? [point.ifNone!] : count === sectors.length ? [point.ifAll!] : [point.ifNone!, point.ifAll!];
  }
  for (const dir of point.image.dirs) await mkdir(join(dataDir, dir), { recursive: true });
  for (const [path, bytes] of files) {
    await mkdir(dirname(join(dataDir, path)), { recursive: true });
    await writeFile(join(dataDir, path), bytes);
  }
  return { acceptable, landed };
}

const RECOVERY = 'the recovery in load()';
const SNAPSHOT_AHEAD = 'its snapshot and metadata durable';

type Phase =
  | { readonly kind: 'load' }
  | { readonly kind: 'persist'; readonly name: string; readonly before: ModelState; readonly withoutRecord: ModelState | null; readonly after: ModelState; metadataSaved: boolean }
  | { readonly kind: 'idle'; readonly state: ModelState };

/** Records the crash points of whatever storage runs on `root` while it is active. */
class Recorder {
  readonly points: CrashPoint[] = [];
  private phase: Phase = { kind: 'load' };
  private phaseStart = 0;

  constructor(private readonly root: string) {
    interception.beforeWrite = (handle, bytes, position) => this.beforeWrite(handle, bytes, position);
    interception.beforeRemove = (paths) => this.beforeRemove(paths);
    interception.afterSnapshotFileSaved = () => this.afterSnapshotFileSaved();
  }

  stop(): void {
    interception.beforeWrite = null;
    interception.beforeRemove = null;
    interception.afterSnapshotFileSaved = null;
  }

  /** The load that just returned `loaded`: the crash points during it (and its deletions) must load it again. */
  loaded(loaded: ModelState): void {
    for (const point of this.points) {
      point.ifNone ??= loaded;
      point.ifAll ??= loaded;
    }
    this.phase = { kind: 'idle', state: loaded };
  }

  beginPersist(name: string, before: ModelState, after: ModelState): void {
    this.phase = { kind: 'persist', name, before, withoutRecord: snapshotWithoutRecord(before, after), after, metadataSaved: false };
    this.phaseStart = this.points.length;
  }

  /** The persist was acknowledged: its last segment write was its record. */
  endPersist(): void {
    const phase = this.phase;
    if (phase.kind !== 'persist') throw new Error('endPersist() outside a persist');
    const record = this.points.slice(this.phaseStart).findLast((point) => point.write !== null);
    if (record === undefined) throw new Error(`${phase.name}: no WAL write recorded`);
    record.ifAll = phase.after;
    this.phase = { kind: 'idle', state: phase.after };
  }

  /** The state a crash before the step in progress loads (or null: what the load under way returns). */
  private stateNow(): ModelState | null {
    const phase = this.phase;
    if (phase.kind === 'load') return null;
    if (phase.kind === 'idle') return phase.state;
    return phase.metadataSaved && phase.withoutRecord !== null ? phase.withoutRecord : phase.before;
  }

  private phaseName(): string {
    const phase = this.phase;
    if (phase.kind === 'persist') return phase.metadataSaved && phase.withoutRecord !== null ? `${phase.name} (${SNAPSHOT_AHEAD})` : phase.name;
    return phase.kind === 'load' ? RECOVERY : 'between persists';
  }

  private async record(label: string, write: SegmentWrite | null, state: ModelState | null): Promise<void> {
    await Promise.allSettled([...interception.preparing]);
    const image = await captureImage(this.root);
    this.points.push({ label: `${this.phaseName()}: ${label}`, image, write, ifNone: state, ifAll: state });
  }

  private async beforeWrite(handle: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
    const segment = interception.segmentPaths.get(handle);
    if (segment === undefined) return this.record(`a write of ${bytes.length} bytes to another file (a snapshot's)`, null, this.stateNow());
    const path = relative(this.root, segment);
    const write = { path, offset: position, bytes: Buffer.from(bytes) };
    return this.record(`a write of ${bytes.length} bytes at ${position} of ${path}`, write, this.stateNow());
  }

  private async beforeRemove(paths: readonly string[]): Promise<void> {
    if (paths.length === 0) return;
    const phase = this.phase;
    // Segments are deleted only once the record moving the marker is durable.
    const state = phase.kind === 'persist' ? phase.after : this.stateNow();
    await this.record(`deleting ${paths.map((path) => relative(this.root, path)).join(', ')}`, null, state);
  }

  private async afterSnapshotFileSaved(): Promise<void> {
    if (this.phase.kind !== 'persist') return;
    await this.record('the snapshot file saved, before its metadata', null, this.stateNow());
    this.phase.metadataSaved = true; // LevelDB's batch comes next, then the WAL writes
  }
}

// --- The property. ---

type OpenStorage = (dataDir: string, segmentBytes: number) => Promise<Storage>;

const openWal: OpenStorage = (dataDir, segmentBytes) => WalStorage.open(dataDir, { segmentBytes });

/** Where to pick a crash point: among the persists' record writes, the recovery's steps, or all steps. */
type Prefer = 'record' | 'recovery' | 'any';

interface CrashPick {
  readonly prefer: Prefer;
  readonly at: number;
  readonly tear: Tear;
}

interface CrashCheck extends CrashPick {
  /** The batch persisted after the recovery. */
  readonly next: Intent;
  /** A second power loss during that recovery or that batch. */
  readonly second: CrashPick | null;
}

interface Scenario {
  readonly segmentBytes: number;
  readonly intents: readonly Intent[];
  readonly crashes: readonly CrashCheck[];
}

/** The second power loss: during the recovery from the first, or the batch after it. */
const secondCrashArbitrary: fc.Arbitrary<CrashPick> = fc.record({
  prefer: fc.constantFrom<Prefer>('record', 'recovery', 'any'),
  at: unitArbitrary,
  tear: tearArbitrary,
});

/** The crash point `pick` chooses among `points` (any, when none is of the kind it prefers). */
function pickPoint(points: readonly CrashPoint[], pick: CrashPick): CrashPoint | undefined {
  const preferred = points.filter((point) =>
    pick.prefer === 'record' ? point.ifNone !== point.ifAll : pick.prefer === 'recovery' ? point.label.startsWith(RECOVERY) : true,
  );
  const pool = preferred.length > 0 ? preferred : points;
  return pool[Math.floor(pick.at * pool.length)];
}

const scenarioArbitrary: fc.Arbitrary<Scenario> = fc.record({
  segmentBytes: fc.constantFrom(4096, 8192),
  intents: fc.array(intentArbitrary, { minLength: 1, maxLength: 12 }),
  crashes: fc.array(
    fc.record({
      prefer: fc.constantFrom<Prefer>('record', 'record', 'any'),
      at: unitArbitrary,
      tear: tearArbitrary,
      next: intentArbitrary,
      second: fc.oneof({ weight: 2, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: secondCrashArbitrary }),
    }),
    { minLength: 1, maxLength: 3 },
  ),
});

/** What the checks covered (over the whole property run), to show the interesting cases ran. */
const coverage = new Map<string, number>();
const count = (what: string): void => {
  coverage.set(what, (coverage.get(what) ?? 0) + 1);
};

function noteCoverage(point: CrashPoint, tear: Tear, acceptable: readonly ModelState[], loaded: ModelState, depth: number): void {
  count(depth === 0 ? 'crash checked' : 'second crash checked');
  if (point.write === null) count(point.label.includes('deleting') ? 'atomic step: segment deletion' : 'atomic step: snapshot file');
  if (point.write !== null) {
    const sectors = landedSectors(point.write, tear);
    const landed = sectors.filter(Boolean).length;
    if (point.write.offset === 0) count('rotation base record torn');
    if (point.ifNone !== point.ifAll) count('record write torn');
    if (point.ifNone !== point.ifAll && landed > 0 && landed < sectors.length) count('record write partly landed');
    if (sectors.length >= 3 && sectors.some((didLand, j) => !didLand && sectors.slice(j + 1).some(Boolean))) count('a hole before a landed sector (not a prefix)');
    if (point.write.offset + point.write.bytes.length > point.image.files.get(point.write.path)!.length) count('write growing the file torn');
  }
  if (acceptable.length === 2 && canonical(loaded) === canonical(point.ifAll!)) count('partly landed record loaded whole (its missing sectors were zeros)');
  if (point.label.startsWith(RECOVERY)) count('crash during the recovery');
  if (point.label.includes(SNAPSHOT_AHEAD) && canonical(loaded) === canonical(point.ifNone!)) count('snapshot loaded without its record');
  if (point.ifNone !== null && point.label.includes('persist') && point.ifNone !== point.ifAll && acceptable.includes(point.ifNone) && canonical(loaded) === canonical(point.ifNone)) {
    count('persist lost, previous state loaded');
  }
}

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** Runs `step`; a failure is rethrown with `context` (where the power was lost) and `what` was being done. */
async function during<T>(context: string, what: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    throw new Error(`${context}: ${what}: ${messageOf(error)}`, { cause: error });
  }
}

/**
 * Loads the crash `point` with `tear` (it must load one of the states it may), persists
 * `check.next`, and reopens (it must load that state plus the batch); then, maybe, a second
 * power loss during that recovery or that batch. `earlier` says where an earlier one came.
 */
async function checkCrash(point: CrashPoint, tear: Tear, check: CrashCheck, segmentBytes: number, open: OpenStorage, earlier: string | null): Promise<void> {
  const dataDir = await makeTempDir();
  try {
    const { acceptable, landed } = await materialize(point, tear, dataDir);
    const where = `${earlier === null ? '' : `${earlier}; recovering from it, `}power lost at ${point.label}, ${landed}`;
    const recorder = earlier === null && check.second !== null ? new Recorder(dataDir) : null;
    let after: ModelState;
    try {
      const storage = await during(where, 'opening the data dir', () => open(dataDir, segmentBytes));
      try {
        const loaded = await during(where, 'load() refused the data dir', () => storage.load());
        const match = acceptable.find((state) => canonical(state) === canonical(loaded));
        if (match === undefined) {
          throw new Error(`${where}: loaded ${summary(loaded)}\nexpected ${acceptable.map(summary).join('\n      or ')}`);
        }
        noteCoverage(point, tear, acceptable, match, earlier === null ? 0 : 1);
        await settle();
        recorder?.loaded(match);
        const write = batchFor(match, check.next);
        after = applyToModel(match, write);
        recorder?.beginPersist('the batch after the restart', match, after);
        await during(where, 'persisting a batch after the recovery', () => persist(storage, write));
        await settle();
        recorder?.endPersist();
      } finally {
        recorder?.stop();
        await storage.close();
      }
    } finally {
      recorder?.stop();
    }
    await during(where, 'reopening after the recovery and one more batch', async () => {
      const reopened = await open(dataDir, segmentBytes);
      try {
        const again = await reopened.load();
        if (canonical(again) !== canonical(after)) throw new Error(`loaded ${summary(again)}\nexpected ${summary(after)}`);
      } finally {
        await reopened.close();
      }
    });
    const second = recorder === null || check.second === null ? undefined : pickPoint(recorder.points, check.second);
    if (second !== undefined) await checkCrash(second, check.second!.tear, check, segmentBytes, open, where);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

/** Runs `scenario` recording its crash points, then checks the crashes it picks. */
async function runScenario(scenario: Scenario, open: OpenStorage): Promise<void> {
  const dataDir = await makeTempDir();
  try {
    const storage = await WalStorage.open(dataDir, { segmentBytes: scenario.segmentBytes });
    const recorder = new Recorder(dataDir);
    try {
      await storage.load();
      await settle();
      recorder.loaded(EMPTY_STATE);
      let state = EMPTY_STATE;
      for (const [number, intent] of scenario.intents.entries()) {
        const write = batchFor(state, intent);
        const after = applyToModel(state, write);
        recorder.beginPersist(`persist ${number + 1}`, state, after);
        await persist(storage, write);
        await settle();
        recorder.endPersist();
        state = after;
      }
    } finally {
      recorder.stop();
      await storage.close();
    }
    for (const check of scenario.crashes) {
      await checkCrash(pickPoint(recorder.points, check)!, check.tear, check, scenario.segmentBytes, open, null);
    }
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

const powerLossProperty = (open: OpenStorage): fc.IAsyncPropertyWithHooks<[Scenario]> =>
  fc.asyncProperty(scenarioArbitrary, (scenario) => runScenario(scenario, open));

// 30 runs of up to 12 persists and 1-3 crash checks each (a second power loss in a third of the
// checks), about 60 crash checks in all: 10 s on the 2-core development machine with a simulator
// run beside it. To search further: CONCORD_WAL_POWER_LOSS_RUNS=1000 and another
// CONCORD_WAL_POWER_LOSS_SEED (1,000 runs, about 2,600 crash checks: 3.5 minutes under the same load).
const DEFAULT_SEED = 20261203;
const DEFAULT_RUNS = 30;
const SEED = Number(process.env.CONCORD_WAL_POWER_LOSS_SEED ?? DEFAULT_SEED);
const RUNS = Number(process.env.CONCORD_WAL_POWER_LOSS_RUNS ?? DEFAULT_RUNS);

/** A storage whose load() forgets the last entry it read: the planted bug the property must catch. */
class DropsLastEntryOnLoad implements Storage {
  private constructor(private readonly inner: Storage) {}

  static async open(dataDir: string, segmentBytes: number): Promise<Storage> {
    return new DropsLastEntryOnLoad(await WalStorage.open(dataDir, { segmentBytes }));
  }

  async load(): Promise<PersistedState> {
    const loaded = await this.inner.load();
    return { ...loaded, entries: loaded.entries.slice(0, -1) };
  }

  persist(write: PersistBatch, done: (error: Error | null) => void): void {
    this.inner.persist(write, done);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

describe('WalStorage: power loss at sector granularity', () => {
  afterAll(removeTempDirs);

  it('catches a planted bug: a load() that drops the last entry', async () => {
    const details = await fc.check(powerLossProperty(DropsLastEntryOnLoad.open), { seed: SEED, numRuns: 20, endOnFailure: true });
    expect(details.failed).toBe(true);
    expect(messageOf(details.errorInstance)).toMatch(/loaded hardState/);
  });

  it('catches a planted bug: the zero-sector rule checked on the last sector of a torn record only', async () => {
    interception.lastSectorOnlyRule = true;
    try {
      const details = await fc.check(powerLossProperty(openWal), { seed: SEED, numRuns: 200, endOnFailure: true });
      expect(details.failed).toBe(true);
      expect(messageOf(details.errorInstance)).toMatch(/load\(\) refused the data dir: .*corrupt record/);
    } finally {
      interception.lastSectorOnlyRule = false;
    }
  });

  // The one window where a batch is not all or nothing (docs/storage.md, "After a crash"; the
  // Storage interface says a batch is written atomically): its snapshot's file and metadata are
  // durable before its record, so power lost before any sector of the record lands loads the
  // snapshot without the batch's entries and hard state. Safe for Raft (nothing of the batch
  // was acknowledged, the snapshot covers committed entries only), but neither state k nor k+1.
  it('loads a compaction without the rest of its batch when power is lost before its record lands', async () => {
    const dataDir = await makeTempDir();
    const storage = await WalStorage.open(dataDir, { segmentBytes: 8192 });
    const recorder = new Recorder(dataDir);
    const entry = (index: number, term: number): Entry => makeEntry(index, term, { bytes: 20, fill: 'text', type: 'normal' });
    const first = batch({ entries: [1, 2, 3, 4, 5, 6].map((index) => entry(index, 1)), hardState: { term: 1, vote: 'a', commit: 4 } });
    const second = batch({ compaction: snapshot(3, 1), entries: [entry(7, 1), entry(8, 1)], hardState: { term: 1, vote: 'a', commit: 6 } });
    const afterFirst = applyToModel(EMPTY_STATE, first);
    const afterSecond = applyToModel(afterFirst, second);
    try {
      await storage.load();
      recorder.loaded(EMPTY_STATE);
      for (const [name, write, before, after] of [['persist 1', first, EMPTY_STATE, afterFirst], ['persist 2', second, afterFirst, afterSecond]] as const) {
        recorder.beginPersist(name, before, after);
        await persist(storage, write);
        await settle();
        recorder.endPersist();
      }
    } finally {
      recorder.stop();
      await storage.close();
    }
    const record = recorder.points.findLast((point) => point.ifAll === afterSecond)!;
    expect(record.label).toContain(SNAPSHOT_AHEAD);
    const crashed = await makeTempDir();
    await materialize(record, { kind: 'none' }, crashed);
    const reopened = await WalStorage.open(crashed, { segmentBytes: 8192 });
    try {
      const loaded = await reopened.load();
      const expected: ModelState = { hardState: afterFirst.hardState, snapshot: snapshot(3, 1), entries: afterFirst.entries.slice(3) };
      expect(canonical(loaded)).toBe(canonical(expected));
      expect(canonical(loaded)).not.toBe(canonical(afterFirst));
      expect(canonical(loaded)).not.toBe(canonical(afterSecond));
    } finally {
      await reopened.close();
    }
  });

  it('loads the state before or after the write torn by a power loss, and appends after it', async () => {
    coverage.clear();
    await fc.assert(powerLossProperty(openWal), { seed: SEED, numRuns: RUNS });
    const report = [...coverage].map(([what, times]) => `${what}: ${times}`).join('; ');
    console.info(`wal power loss (seed ${SEED}, ${RUNS} runs): ${report}`);
    if (SEED === DEFAULT_SEED && RUNS === DEFAULT_RUNS) {
      // What the default runs must keep exercising (a change to the generators could lose it silently).
      for (const what of [
        'record write partly landed',
        'a hole before a landed sector (not a prefix)',
        'write growing the file torn',
        'rotation base record torn',
        'persist lost, previous state loaded',
        'partly landed record loaded whole (its missing sectors were zeros)',
        'snapshot loaded without its record',
        'crash during the recovery',
        'atomic step: snapshot file',
        'atomic step: segment deletion',
      ]) {
        expect(coverage.get(what) ?? 0, `${what} (${report})`).toBeGreaterThan(0);
      }
    }
  });
});
