/**
 * WalStorage: the production Storage. The log and the hard state go to a write-ahead log of our
 * own (src/storage/wal: preallocated segment files, one checksummed record per persist, written
 * with O_DSYNC: one system call, durable on return). The latest snapshot's data is a file of its
 * own (wal/snapshot-files.ts); LevelDB holds the format version and the snapshot's metadata.
 *
 * Why not the log in LevelDB too (LevelStorage, format 1, which this migrates from): LevelDB's
 * write path — its memtable, its own log growing the file, the compactions that rewrite entries
 * the Raft log deletes soon after — makes a synced write 1.4-3.4x slower than this log's on this
 * machine (docs/performance.md); and a value put into a LevelDB batch is copied on the event
 * loop, which stalled every compaction of a large state.
 *
 * Atomicity: a persist is one record, all or nothing (frame.ts tells a torn last write from
 * damage). A snapshot's file and then its metadata are saved, synced, before the record that
 * names it; at load, a file no metadata names is removed, and a record missing after the
 * metadata is reconciled (recover.ts). Segments all of whose
 * entries are behind the snapshot are deleted once the record moving the marker is durable.
 */
import type { FileHandle } from 'node:fs/promises';
import { assert } from '../common/assert.ts';
import type { ConcordError } from '../common/errors.ts';
import type { HardState, LogIndex, PersistedState, Snapshot } from '../raft/types.ts';
import { EMPTY_HARD_STATE } from '../raft/types.ts';
import {
  checksum,
  decodeSnapshotMeta,
  decodeVersion,
  encodeSnapshotMeta,
  encodeVersion,
  FORMAT_VERSION,
  SNAPSHOT_DATA_KEY,
  SNAPSHOT_META_KEY,
  VERSION_KEY,
  WAL_FORMAT_VERSION,
  WAL_FORMAT_VERSION_DATA_IN_LEVELDB,
} from './codec.ts';
import { type Database, openDatabase } from './level-storage.ts';
import { loadSnapshot } from './load-image.ts';
import { readSnapshotFile, removeSnapshotFilesExcept, saveSnapshotFile } from './wal/snapshot-files.ts';
import { isStorageError, storageError } from './storage-error.ts';
import type { PersistBatch, Storage } from './storage.ts';
import { initializeWal, migrateKeySpaceToWal } from './wal/initialize.ts';
import { readWal, reconcile, type SegmentState } from './wal/recover.ts';
import { createSegment, listSegments, openForAppend, removeFiles, segmentPath, syncDirectory, walDir, writeFully } from './wal/segment-files.ts';
import { type PlannedRecord, planRecord } from './wal/plan-record.ts';
import { frameRecord, type SnapshotMarker } from './wal/wal-record.ts';

export interface WalStorageOptions {
  /** Bytes preallocated per segment (default 16 MiB); a record that does not fit opens the next. */
  readonly segmentBytes?: number;
}

export const DEFAULT_SEGMENT_BYTES = 16 * 1024 * 1024;

interface OpenSegment {
  readonly sequence: number;
  readonly handle: FileHandle;
  /**
   * Its preallocated size. Appends stay within it (the next segment takes what does not fit),
   * so a file only grows right after its base record, as frame.ts expects; a segment made by an
   * earlier run keeps the size it was made with, whatever segmentBytes is now.
   */
  readonly capacity: number;
  writeOffset: number;
}

/** Initialises a new data dir or migrates a format-1 one; returns the format migrated from, if any. */
async function checkOrStampVersion(dataDir: string, db: Database, segmentBytes: number): Promise<number | null> {
  const stored = await db.get(VERSION_KEY);
  if (stored === undefined) {
    const existingKeys = await db.keys({ limit: 1 }).all();
    if (existingKeys.length > 0) throw storageError({ dataDir }, 'no format version: not a Concord data dir');
    await initializeWal(dataDir, db, segmentBytes);
    return null;
  }
  const version = decodeVersion(stored);
  if (version === String(FORMAT_VERSION)) {
    await migrateKeySpaceToWal(dataDir, db, segmentBytes);
    return FORMAT_VERSION;
  }
  if (version === String(WAL_FORMAT_VERSION_DATA_IN_LEVELDB)) {
    // Readable as it is (readSnapshot falls back to s:data); the stamp keeps a build that
    // expects the data in LevelDB from opening the data dir once a save has moved it to snap/.
    await db.put(VERSION_KEY, encodeVersion(WAL_FORMAT_VERSION), { sync: true });
    return null;
  }
  if (version !== String(WAL_FORMAT_VERSION)) {
    const problem = `unknown format version ${JSON.stringify(version)} (this build reads ${FORMAT_VERSION} to ${WAL_FORMAT_VERSION})`;
    throw storageError({ dataDir, version }, problem);
  }
  return null;
}

export class WalStorage implements Storage {
  private readonly dir: string;
  private recovered = false;
  private current: OpenSegment | null = null;
  /** Segments holding records, oldest first; the last is `current`. */
  private segments: SegmentState[] = [];
  private spare: Promise<OpenSegment> | null = null;
  /** What the durable records say: the snapshot marker, the hard state, the last index. */
  private marker: SnapshotMarker = { index: 0, term: 0 };
  private hardState: HardState = EMPTY_HARD_STATE;
  private lastIndex: LogIndex = 0;
  private persisting = false;
  /** The write in flight (settled once its done was called), for close() to wait for. */
  private inFlight: Promise<void> = Promise.resolve();
  private closed = false;
  private failure: ConcordError | null = null;
  /** The deletion of obsolete segments under way (one at a time); close() and load() wait for it. */
  private cleanup: Promise<void> = Promise.resolve();
  private deleting = false;

  private constructor(
    readonly dataDir: string,
    private readonly db: Database,
    private readonly segmentBytes: number,
    /** The format this open migrated the log from (1), or null when the log was already in wal/ or the dir is new. */
    readonly migratedFromFormat: number | null,
  ) {
    this.dir = walDir(dataDir);
  }

  /**
   * Opens (creating if missing) the data dir, migrating a format-1 one. Rejects with a
   * 'storage_failure' ConcordError if the dir is locked by another opener or holds an unknown
   * format version.
   */
  static async open(dataDir: string, options: WalStorageOptions = {}): Promise<WalStorage> {
    const segmentBytes = options.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
    const db = await openDatabase(dataDir);
    let migratedFromFormat: number | null;
    try {
      migratedFromFormat = await checkOrStampVersion(dataDir, db, segmentBytes);
    } catch (error) {
      await db.close();
      if (isStorageError(error)) throw error;
      throw storageError({ dataDir }, 'cannot read, stamp or migrate the format version', error);
    }
    return new WalStorage(dataDir, db, segmentBytes, migratedFromFormat);
  }

  async load(): Promise<PersistedState> {
    assert(!this.persisting, 'load() during a persist(): the state would be read mid-write');
    try {
      const snapshot = await this.readSnapshot();
      if (!this.recovered) return await this.recover(snapshot);
      await this.cleanup; // a segment listed while its deletion runs would vanish before it is read
      const wal = await readWal(this.dataDir, this.dir, (await listSegments(this.dir)).sequences);
      return reconcile(this.dataDir, wal.log, snapshot).state;
    } catch (error) {
      if (isStorageError(error)) throw error;
      throw storageError({ dataDir: this.dataDir }, 'cannot read the data dir', error);
    }
  }

  persist(batch: PersistBatch, done: (error: Error | null) => void): void {
    assert(!this.persisting, 'persist() while another persist() is outstanding');
    assert(this.failure === null, 'persist() after a failed write: the node must stop');
    assert(this.recovered, 'persist() before load(): the write-ahead log is not open');
    assert(!this.closed, 'persist() after close()');
    const planned = planRecord(this.marker, this.lastIndex, batch);
    this.persisting = true;
    // then(onFulfilled, onRejected): an exception thrown by done(null) must not call done again.
    this.inFlight = this.write(planned).then(
      () => {
        this.persisting = false;
        this.deleteObsoleteSegments();
        done(null);
      },
      (cause: unknown) => {
        this.persisting = false;
        this.failure = storageError({ dataDir: this.dataDir }, 'write failed', cause);
        done(this.failure);
      },
    );
  }

  /** Waits for the write in flight and the deletions it started, then closes every file. */
  async close(): Promise<void> {
    await this.inFlight.catch(() => undefined); // a throw from its done is the caller's to see, not close()'s
    this.closed = true;
    const spare = this.spare;
    this.spare = null;
    const spareSegment = spare === null ? null : await spare.catch(() => null);
    await spareSegment?.handle.close();
    await this.cleanup;
    await this.current?.handle.close();
    this.current = null;
    await this.db.close();
  }

  /**
   * LevelDB's snapshot metadata, and its data: from LevelDB when it is there (formats 1 and 2 kept
   * it there, and the batch naming a file deletes it), else from the file the metadata names.
   * loadSnapshot checks the data's length and CRC32 against the metadata either way.
   */
  private async readSnapshot(): Promise<Snapshot | null> {
    const [snapshotMeta, dataInLevelDb] = await this.db.getMany([SNAPSHOT_META_KEY, SNAPSHOT_DATA_KEY]);
    const stored = snapshotMeta === undefined || dataInLevelDb !== undefined ? null : decodeSnapshotMeta(snapshotMeta);
    const dataInFile = stored === null ? undefined : await readSnapshotFile(this.dataDir, { index: stored.meta.index, checksum: stored.dataChecksum });
    return loadSnapshot(this.dataDir, { snapshotMeta, snapshotData: dataInLevelDb ?? dataInFile });
  }

  /** The first load: reads the log, repairs a torn tail, and opens the segment appends go to. */
  private async recover(snapshot: Snapshot | null): Promise<PersistedState> {
    const { dataDir, dir } = this;
    const listing = await listSegments(dir).catch((error: unknown) => {
      if (error instanceof Error && 'code' in error && error.code === 'ENOENT') {
        throw storageError({ dataDir }, 'the write-ahead log directory wal/ is missing: refusing to start without the log and vote this node had');
      }
      throw error;
    });
    if (listing.unexpected.length > 0) {
      throw storageError({ dataDir }, `unexpected file ${JSON.stringify(listing.unexpected[0])} in the write-ahead log directory`);
    }
    // Every verdict comes before any file is touched: a refused data dir is left as found.
    const wal = await readWal(dataDir, dir, listing.sequences);
    const { state, fix } = reconcile(dataDir, wal.log, snapshot);
    const last = wal.segments.at(-1);
    if (last === undefined || wal.tail === null) {
      // The first segment is written before the format stamp: without it the log was lost.
      throw storageError({ dataDir }, 'the write-ahead log holds no records (wal/ missing or emptied): refusing to start without the log and vote this node had');
    }
    // Spares, a rotation a crash cut short, a preallocation cut short: nothing acknowledged. And
    // snapshot files but the current one's: older ones, and a save a crash cut short.
    await removeFiles([...listing.leftovers, ...wal.strays.map((sequence) => segmentPath(dir, sequence))]);
    await removeSnapshotFilesExcept(dataDir, snapshot === null ? null : { index: snapshot.meta.index, checksum: checksum(snapshot.data) });
    this.hardState = state.hardState;
    this.lastIndex = state.entries.at(-1)?.index ?? snapshot?.meta.index ?? 0;
    this.marker = wal.log.marker;
    this.segments = wal.segments;
    const handle = await openForAppend(dir, last.sequence);
    const { size } = await handle.stat();
    this.current = { sequence: last.sequence, handle, capacity: size, writeOffset: wal.tail.endOffset };
    const { endOffset, garbageEnd } = wal.tail;
    // What a torn write left goes, so that no later scan can mistake it for a record.
    if (garbageEnd > endOffset) {
      await writeFully(handle, Buffer.alloc(garbageEnd - endOffset), endOffset);
    }
    if (fix !== null) await this.append({ record: fix, snapshotToSave: null, lastIndex: this.lastIndex });
    this.recovered = true;
    this.deleteObsoleteSegments();
    this.prepareSpareWhenHalfFull();
    return state;
  }

  private async write(planned: PlannedRecord): Promise<void> {
    const { snapshotToSave } = planned;
    // The data's CRC32, once: it names the file and goes into the metadata.
    const saved = snapshotToSave === null ? null : { index: snapshotToSave.meta.index, checksum: checksum(snapshotToSave.data) };
    if (snapshotToSave !== null && saved !== null) {
      // Its file, then its metadata naming it (and no longer data of formats 1 and 2 in LevelDB).
      await saveSnapshotFile(this.dataDir, saved, snapshotToSave.data);
      const metadata = this.db.batch();
      metadata.put(SNAPSHOT_META_KEY, encodeSnapshotMeta(snapshotToSave.meta, snapshotToSave.data, saved.checksum));
      metadata.del(SNAPSHOT_DATA_KEY);
      await metadata.write({ sync: true });
    }
    await this.append(planned);
    if (saved !== null) {
      // Within the write, not after it: the next write may be saving the next snapshot's file.
      // A file left by a failure is removed at the next save or load.
      await removeSnapshotFilesExcept(this.dataDir, saved).catch(() => undefined);
    }
  }

  /**
   * Appends the record, opening the next segment first when it does not fit in this one, durably
   * whatever the batch asked (segments are opened with O_DSYNC). The node's only unsynced batches are compactions, whose
   * moved marker must be durable anyway (segments are deleted on its strength); and with every
   * write synced before the next, a crash can tear only the last one, which frame.ts relies on.
   */
  private async append(planned: PlannedRecord): Promise<void> {
    const { record } = planned;
    const frame = frameRecord(record);
    let segment = this.current!;
    if (segment.writeOffset + frame.length > segment.capacity) segment = await this.rotate();
    await writeFully(segment.handle, frame, segment.writeOffset); // durable on return: O_DSYNC
    segment.writeOffset += frame.length;
    if (record.op === 'install') for (const earlier of this.segments) earlier.liveThrough = 0;
    if (record.op !== 'none') this.marker = record.marker;
    if (record.hardState !== null) this.hardState = record.hardState;
    const lastEntry = record.entries.at(-1);
    if (lastEntry !== undefined) this.segments.at(-1)!.liveThrough = Math.max(this.segments.at(-1)!.liveThrough, lastEntry.index);
    this.lastIndex = planned.lastIndex;
    this.prepareSpareWhenHalfFull();
  }

  /**
   * Continues in the spare segment, which opens with a base record. Each is its own durable write:
   * a write is one frame, so a torn write can only be the last frame (frame.ts relies on it).
   */
  private async rotate(): Promise<OpenSegment> {
    const previous = this.current!;
    const next = await this.takeSpare();
    const base = frameRecord({ op: 'base', marker: this.marker, hardState: this.hardState, entries: [] });
    await writeFully(next.handle, base, 0);
    next.writeOffset = base.length;
    await previous.handle.close();
    this.current = next;
    this.segments.push({ sequence: next.sequence, liveThrough: 0 });
    return next;
  }

  /**
   * Starts preparing the next segment once this one is half full: early enough that a busy node
   * rarely waits for it, late enough that an idle node (and every test's) keeps one segment.
   */
  private prepareSpareWhenHalfFull(): void {
    if (this.spare === null && this.current!.writeOffset > this.current!.capacity / 2) this.prepareSpare();
  }

  private prepareSpare(): void {
    const sequence = this.current!.sequence + 1;
    const capacity = this.segmentBytes;
    const spare = createSegment(this.dir, sequence, capacity).then((handle) => ({ sequence, handle, capacity, writeOffset: 0 }));
    spare.catch(() => undefined); // its failure surfaces when a rotation awaits it
    this.spare = spare;
  }

  /** The spare segment, prepared again once if its preparation failed (a disk full then, say). */
  private async takeSpare(): Promise<OpenSegment> {
    if (this.spare === null) this.prepareSpare();
    let spare: OpenSegment;
    try {
      spare = await this.spare!;
    } catch {
      this.prepareSpare();
      spare = await this.spare!;
    }
    this.spare = null;
    return spare;
  }

  /**
   * Deletes the oldest segments whose entries are all behind the durable snapshot marker (the
   * current one always stays), oldest first, then syncs the directory. A segment leaves the list
   * only once its file is gone, and a failed deletion stops the ones after it, so the files left
   * always run without a gap in their numbers (a gap refuses the data dir); the next deletion
   * tries again from the oldest. Failures are not a write's failure: a segment left behind is
   * replayed and dropped at load.
   */
  private deleteObsoleteSegments(): void {
    if (this.deleting || this.closed) return;
    const obsoleteCount = this.segments.findIndex((segment, position) => position === this.segments.length - 1 || segment.liveThrough > this.marker.index);
    if (obsoleteCount <= 0) return;
    const obsolete = this.segments.slice(0, obsoleteCount);
    this.deleting = true;
    this.cleanup = (async () => {
      try {
        for (const segment of obsolete) {
          await removeFiles([segmentPath(this.dir, segment.sequence)]);
          this.segments.shift();
        }
        await syncDirectory(this.dir);
      } catch {
        // Left for the next deletion, or the next load.
      } finally {
        this.deleting = false;
      }
    })();
  }
}
