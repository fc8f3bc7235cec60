/**
 * What only WalStorage does (the shared contract runs in storage.test.ts): the torn last write
 * repaired and damage to durable records refused, segments rotated and deleted, a record larger
 * than a segment, the crash between the LevelDB snapshot and its record reconciled, format 1
 * migrated, a real SIGKILL, the files of the wal directory it tolerates and refuses, a refused
 * data dir left as found, and LevelDB lost under its log.
 *
 * The files are damaged by hand here, with frame.ts's scanner to find where the records are.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm, truncate, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Level } from 'level';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ConcordError } from '../../src/common/errors.ts';
import type { Entry, PersistedState } from '../../src/raft/types.ts';
import { EMPTY_HARD_STATE } from '../../src/raft/types.ts';
import {
  checksum,
  encodeSnapshotMeta,
  ENTRY_KEY_END,
  ENTRY_KEY_PREFIX,
  HARD_STATE_KEY,
  SNAPSHOT_DATA_KEY,
  SNAPSHOT_META_KEY,
  VERSION_KEY,
} from '../../src/storage/codec.ts';
import { LevelStorage } from '../../src/storage/level-storage.ts';
import { scanSegment, type ScannedSegment } from '../../src/storage/wal/frame.ts';
import { decodeWalRecord, frameRecord } from '../../src/storage/wal/wal-record.ts';
import { WalStorage } from '../../src/storage/wal-storage.ts';
import { entries, entry, hardState, makeTempDir, persist, removeTempDirs, snapshot } from './helpers.ts';

afterAll(removeTempDirs);

const SMALL_SEGMENT = 4096;
const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const WRITER = 'test/storage/fixtures/wal-writer.ts';

// --- Opening and loading: every storage opened here is closed before the helper returns. ---

/** Opens `dataDir`, loads it, runs `use`, and closes the storage whatever happens. */
async function withWal<T>(
  dataDir: string,
  use: (storage: WalStorage, loaded: PersistedState) => Promise<T>,
  segmentBytes = SMALL_SEGMENT,
): Promise<T> {
  const storage = await WalStorage.open(dataDir, { segmentBytes });
  try {
    return await use(storage, await storage.load());
  } finally {
    await storage.close();
  }
}

/** What a fresh process would load from `dataDir`. */
function loadAfterRestart(dataDir: string, segmentBytes = SMALL_SEGMENT): Promise<PersistedState> {
  return withWal(dataDir, async (_storage, loaded) => loaded, segmentBytes);
}

/** The storage_failure that loading `dataDir` is refused with. */
async function loadFailure(dataDir: string): Promise<ConcordError> {
  const storage = await WalStorage.open(dataDir, { segmentBytes: SMALL_SEGMENT });
  try {
    const error: unknown = await storage.load().then(
      (loaded) => new Error(`load() succeeded with ${loaded.entries.length} entries`),
      (reason: unknown) => reason,
    );
    expect(error).toBeInstanceOf(ConcordError);
    expect((error as ConcordError).code).toBe('storage_failure');
    return error as ConcordError;
  } finally {
    await storage.close();
  }
}

/** A closed data dir holding what `write` persisted. */
async function writtenDir(write: (storage: WalStorage) => Promise<void>, segmentBytes = SMALL_SEGMENT): Promise<string> {
  const dataDir = await makeTempDir();
  await withWal(dataDir, (storage) => write(storage), segmentBytes);
  return dataDir;
}

/** Opens the data dir's LevelDB itself, as a crash mid-persist or a stray tool leaves it. */
async function withLevelDb<T>(dataDir: string, use: (db: Level<string, Uint8Array>) => Promise<T>): Promise<T> {
  const db = new Level<string, Uint8Array>(dataDir, { keyEncoding: 'utf8', valueEncoding: 'view' });
  await db.open();
  try {
    return await use(db);
  } finally {
    await db.close();
  }
}

// --- The segment files, as frame.ts reads them. ---

const walDirOf = (dataDir: string): string => join(dataDir, 'wal');

interface SegmentFile {
  readonly path: string;
  readonly bytes: Buffer;
  readonly scan: ScannedSegment;
}

/** The `.wal` files, oldest first, each scanned. */
async function segmentFiles(dataDir: string): Promise<SegmentFile[]> {
  const names = (await readdir(walDirOf(dataDir))).filter((name) => name.endsWith('.wal')).sort();
  return Promise.all(
    names.map(async (name) => {
      const path = join(walDirOf(dataDir), name);
      const bytes = await readFile(path);
      return { path, bytes, scan: scanSegment(bytes) };
    }),
  );
}

/** The segments holding records (not the zeroed spare). */
async function segmentsWithRecords(dataDir: string): Promise<SegmentFile[]> {
  return (await segmentFiles(dataDir)).filter((segment) => segment.scan.payloads.length > 0);
}

/** The segment appends continue in: the last one holding records. */
async function currentSegment(dataDir: string): Promise<SegmentFile> {
  const segment = (await segmentsWithRecords(dataDir)).at(-1);
  if (segment === undefined) throw new Error(`no segment with records in ${dataDir}`);
  return segment;
}

/** Where record `position` of `segment` begins (its frame header) and where its payload begins. */
function recordOffsets(segment: SegmentFile, position: number): { frame: number; payload: number; payloadBytes: number } {
  const payload = segment.scan.payloads[position];
  if (payload === undefined) throw new Error(`no record ${position} in ${segment.path}`);
  const payloadOffset = payload.byteOffset - segment.bytes.byteOffset;
  return { frame: payloadOffset - 8, payload: payloadOffset, payloadBytes: payload.length };
}

/** The position in `segment` of the record that appends entry `index`. */
function recordAppending(segment: SegmentFile, index: number): number {
  const position = segment.scan.payloads.findIndex((payload) => decodeWalRecord(payload)?.entries.some((stored) => stored.index === index));
  if (position < 0) throw new Error(`no record appends entry ${index} in ${segment.path}`);
  return position;
}

/** Writes `bytes` into the file at `offset`, as a device writes sectors. */
async function writeAt(path: string, offset: number, bytes: Uint8Array): Promise<void> {
  const content = await readFile(path);
  content.set(bytes, offset);
  await writeFile(path, content);
}

async function flipBit(path: string, offset: number, mask = 0x08): Promise<void> {
  const content = await readFile(path);
  content[offset]! ^= mask;
  await writeFile(path, content);
}

/**
 * Every file of the wal directory, by name, as its size and a digest of its bytes: what a
 * refused data dir must still hold afterwards.
 */
async function walDirContents(dataDir: string): Promise<Record<string, string>> {
  const contents: Record<string, string> = {};
  for (const name of (await readdir(walDirOf(dataDir))).sort()) {
    const bytes = await readFile(join(walDirOf(dataDir), name));
    contents[name] = `${bytes.length} bytes, sha256 ${createHash('sha256').update(bytes).digest('hex')}`;
  }
  return contents;
}

/** Where a preallocation of the segment after the last `.wal` file would leave its temporary file. */
async function nextTempSegmentPath(dataDir: string): Promise<string> {
  const last = (await segmentFiles(dataDir)).at(-1);
  if (last === undefined) throw new Error(`no segment in ${dataDir}`);
  const sequence = Number.parseInt(last.path.slice(-20, -4), 16) + 1;
  return join(walDirOf(dataDir), `${sequence.toString(16).padStart(16, '0')}.wal.tmp`);
}

/** An entry with `bytes` bytes of data, all `fill` (large records, or runs of zeros). */
function bulkyEntry(index: number, term: number, bytes: number, fill: number): Entry {
  return { index, term, type: 'normal', data: new Uint8Array(bytes).fill(fill) };
}

/** Five synced batches of two entries each, 1..10, all in one segment. */
async function fiveBatches(storage: WalStorage): Promise<void> {
  for (let batchNumber = 0; batchNumber < 5; batchNumber++) {
    const first = batchNumber * 2 + 1;
    await persist(storage, { entries: entries(first, first + 1, 1), hardState: hardState(1, 'a', first) });
  }
}

describe('WalStorage: a torn last write', () => {
  const SEGMENT = 64 * 1024;
  const A = entries(1, 3, 1);
  const B = entries(4, 5, 1);
  const C = [bulkyEntry(6, 1, 2000, 0x61)];
  const D = entries(6, 7, 2);

  /**
   * A dir holding synced batches A and B, then C's frame at the tail as a crash mid-write leaves
   * it: `tear` gets the whole frame and returns the bytes that reached the disk.
   */
  async function tornDir(tear: (frame: Buffer, offset: number) => Buffer): Promise<{ dataDir: string; endOffset: number; garbageEnd: number }> {
    const dataDir = await writtenDir(async (storage) => {
      await persist(storage, { entries: A, hardState: hardState(1, 'a', 2) });
      await persist(storage, { entries: B, hardState: hardState(1, 'a', 4) });
    }, SEGMENT);
    const segment = await currentSegment(dataDir);
    const endOffset = segment.scan.endOffset;
    // The frame WalStorage itself would have written for batch C.
    const frame = frameRecord({ op: 'none', marker: { index: 0, term: 0 }, hardState: hardState(1, 'a', 5), entries: C });
    await writeAt(segment.path, endOffset, tear(frame, endOffset));
    const damaged = scanSegment(await readFile(segment.path));
    // The premise: frame.ts sees a torn write here, with bytes to clear after the good records.
    expect(damaged.end.kind).toBe('torn');
    expect(damaged.endOffset).toBe(endOffset);
    expect(damaged.garbageEnd).toBeGreaterThan(endOffset);
    return { dataDir, endOffset, garbageEnd: damaged.garbageEnd };
  }

  /** Zeroes the first whole 512-byte sector inside the payload: the device never wrote it. */
  const zeroOneSector = (frame: Buffer, offset: number): Buffer => {
    const sectorStart = Math.ceil((offset + 8) / 512) * 512;
    expect(sectorStart + 512).toBeLessThan(offset + frame.length); // non-zero bytes follow the hole
    const torn = Buffer.from(frame);
    torn.fill(0, sectorStart - offset, sectorStart - offset + 512);
    return torn;
  };

  /** Only the frame's first sector reached the disk: the rest is still the preallocated zeros. */
  const firstSectorOnly = (frame: Buffer, offset: number): Buffer => {
    const written = Math.ceil((offset + 9) / 512) * 512 - offset;
    return frame.subarray(0, written);
  };

  it.each([
    ['a zeroed sector inside the frame', zeroOneSector],
    ['only its first sector written', firstSectorOnly],
  ])('drops the torn frame (%s), clears it, and appends where the good records end', async (_name, tear) => {
    const { dataDir, endOffset, garbageEnd } = await tornDir(tear);
    await withWal(
      dataDir,
      async (storage, loaded) => {
        expect(loaded).toEqual({ hardState: hardState(1, 'a', 4), snapshot: null, entries: [...A, ...B] });
        // The repair is on disk before anything is appended: the torn bytes are zeros now.
        const repaired = await readFile((await currentSegment(dataDir)).path);
        expect(repaired.subarray(endOffset, garbageEnd).every((byte) => byte === 0)).toBe(true);
        await persist(storage, { entries: D, hardState: hardState(2, 'b', 6) });
      },
      SEGMENT,
    );
    expect(await loadAfterRestart(dataDir, SEGMENT)).toEqual({ hardState: hardState(2, 'b', 6), snapshot: null, entries: [...A, ...B, ...D] });
    // D went where C was torn, and nothing follows it.
    const segment = await currentSegment(dataDir);
    expect(segment.scan.end.kind).toBe('clean');
    expect(recordOffsets(segment, segment.scan.payloads.length - 1).frame).toBe(endOffset);
    expect(segment.scan.garbageEnd).toBe(segment.scan.endOffset);
  });
});

describe('WalStorage: damage to durable records', () => {
  it('refuses a flipped bit in a record that others follow, naming the data dir', async () => {
    const dataDir = await writtenDir(fiveBatches);
    const segment = await currentSegment(dataDir);
    const { payload, payloadBytes } = recordOffsets(segment, recordAppending(segment, 3));
    await flipBit(segment.path, payload + Math.floor(payloadBytes / 2));
    const error = await loadFailure(dataDir);
    expect(error.message).toContain(dataDir);
    expect(error.message).toContain('corrupt record');
  });

  it('refuses a flipped bit in the last record when none of its sectors is zeros', async () => {
    const dataDir = await writtenDir(fiveBatches);
    const segment = await currentSegment(dataDir);
    const last = recordOffsets(segment, segment.scan.payloads.length - 1);
    await flipBit(segment.path, last.payload + last.payloadBytes - 3);
    const error = await loadFailure(dataDir);
    expect(error.message).toContain(dataDir);
    expect(error.message).toContain('corrupt record');
  });

  it('refuses a log with a segment missing from the middle', async () => {
    const dataDir = await writtenDir(async (storage) => {
      for (let index = 1; index <= 400; index++) await persist(storage, { entries: [entry(index, 1)], sync: false });
    });
    const segments = await segmentsWithRecords(dataDir);
    expect(segments.length).toBeGreaterThanOrEqual(3);
    await unlink(segments[1]!.path);
    const error = await loadFailure(dataDir);
    expect(error.message).toContain(dataDir);
    expect(error.message).toContain('missing');
  });

  // Its first frame unreadable, such a segment looks like a spare or a rotation a crash cut
  // short (no whole record): it was deleted and load() returned the log without the entries it
  // held, all acknowledged. The records after the damaged one make it damage, not a torn write.
  it.each([
    ['a flipped bit in its payload', (segment: SegmentFile) => flipBit(segment.path, recordOffsets(segment, 0).payload + 5)],
    ['its header zeroed', (segment: SegmentFile) => writeAt(segment.path, recordOffsets(segment, 0).frame, new Uint8Array(8))],
  ])('refuses damage to the base record of the newest segment (%s), deleting nothing', async (_name, damage) => {
    const dataDir = await writtenDir(async (storage) => {
      for (let index = 1; index <= 150; index++) await persist(storage, { entries: [entry(index, 1)], hardState: hardState(1, 'a', index - 1) });
    });
    const segments = await segmentsWithRecords(dataDir);
    expect(segments.length).toBeGreaterThanOrEqual(2);
    const newest = segments.at(-1)!;
    expect(newest.scan.payloads.length).toBeGreaterThanOrEqual(3); // the base record, then acknowledged ones
    expect(decodeWalRecord(newest.scan.payloads[0]!)?.op).toBe('base');
    await damage(newest);
    // The premise: read from its start, the newest segment holds no whole record.
    expect(scanSegment(await readFile(newest.path)).payloads).toEqual([]);
    const before = await walDirContents(dataDir);
    const error = await loadFailure(dataDir);
    expect(error.message).toContain(dataDir);
    expect(error.message).toContain('corrupt record');
    expect(await walDirContents(dataDir)).toEqual(before);
  });

  // A frame that runs past the end of the file is a torn write only right after a base record,
  // where a record larger than a fresh segment's room extends the file; anywhere else every
  // write lands inside the preallocated zeros. Taken for torn, the record was dropped and zeroed.
  it('refuses a flipped high bit in the length of the last record when it does not follow the base record', async () => {
    const dataDir = await writtenDir(fiveBatches);
    const segment = await currentSegment(dataDir);
    const last = segment.scan.payloads.length - 1;
    expect(last).toBeGreaterThan(1);
    const { frame } = recordOffsets(segment, last);
    await flipBit(segment.path, frame + 3, 0x80);
    const damaged = await readFile(segment.path);
    // The premise: the frame now runs past the end of the file, and no record follows it.
    expect(frame + 8 + damaged.readUInt32LE(frame)).toBeGreaterThan(damaged.length);
    expect(segment.scan.garbageEnd).toBe(segment.scan.endOffset);
    const error = await loadFailure(dataDir);
    expect(error.message).toContain(dataDir);
    expect(error.message).toContain('corrupt record');
    expect(await readFile(segment.path)).toEqual(damaged); // not "repaired" by zeroing the record
  });
});

describe('WalStorage: segments', () => {
  it('rotates into preallocated segments, each opening with a base record', async () => {
    const dataDir = await writtenDir(async (storage) => {
      for (let index = 1; index <= 300; index++) {
        await persist(storage, { entries: [entry(index, 1)], hardState: hardState(1, 'a', index - 1), sync: index % 10 === 0 });
      }
    });
    const segments = await segmentsWithRecords(dataDir);
    expect(segments.length).toBeGreaterThanOrEqual(4);
    for (const segment of segments) {
      expect(segment.bytes.length).toBe(SMALL_SEGMENT); // records never grow the file
      expect(segment.scan.end.kind).toBe('clean');
      // Each segment restates the state it starts from, so older ones can be deleted.
      expect(decodeWalRecord(segment.scan.payloads[0]!)?.op).toBe('base');
    }
    expect(await loadAfterRestart(dataDir)).toEqual({ hardState: hardState(1, 'a', 299), snapshot: null, entries: entries(1, 300, 1) });
  });

  // A file may grow only right after its base record (frame.ts judges a frame running past the
  // end of the file by that); a segment made by a run with smaller segments must keep its size.
  it('keeps a segment at the size it was made with when a later run uses larger segments', async () => {
    const dataDir = await writtenDir((storage) => persist(storage, { entries: entries(1, 2, 1) }));
    const [first] = await segmentFiles(dataDir);
    expect(first!.bytes.length).toBe(SMALL_SEGMENT);
    await withWal(
      dataDir,
      async (storage) => {
        // About 40 bytes a frame: 300 of them overflow the first segment's 4 KiB.
        for (let index = 3; index <= 300; index++) await persist(storage, { entries: [entry(index, 1)] });
      },
      16 * SMALL_SEGMENT,
    );
    const segments = await segmentFiles(dataDir);
    expect(segments[0]!.bytes.length).toBe(SMALL_SEGMENT);
    expect(segments.length).toBeGreaterThan(1);
    expect(segments.at(-1)!.bytes.length).toBe(16 * SMALL_SEGMENT);
    expect(segments.filter((segment) => segment.scan.payloads.length > 0).length).toBeGreaterThan(1);
    expect((await loadAfterRestart(dataDir, 16 * SMALL_SEGMENT)).entries).toEqual(entries(1, 300, 1));
  });

  it('deletes the segments a compaction leaves behind, keeping the entries after it', async () => {
    const dataDir = await makeTempDir();
    const before = await withWal(dataDir, async (storage) => {
      for (let index = 1; index <= 300; index++) await persist(storage, { entries: [entry(index, 1)], sync: false });
      await persist(storage, { hardState: hardState(1, 'a', 298) });
      const segments = await segmentsWithRecords(dataDir);
      expect(segments.length).toBeGreaterThanOrEqual(4);
      await persist(storage, { compaction: snapshot(295, 1) });
      return segments.map((segment) => segment.path);
    });
    const after = (await segmentFiles(dataDir)).map((segment) => segment.path);
    const withRecords = (await segmentsWithRecords(dataDir)).map((segment) => segment.path);
    expect(withRecords.length).toBeGreaterThanOrEqual(1);
    expect(withRecords.length).toBeLessThanOrEqual(2);
    expect(after.length).toBeLessThanOrEqual(3); // what holds records, and the zeroed spare
    // The oldest went: whatever is left is the newest of the segments that were written.
    expect(withRecords[0]! >= before.at(-2)!).toBe(true);
    expect(await loadAfterRestart(dataDir)).toEqual({ hardState: hardState(1, 'a', 298), snapshot: snapshot(295, 1), entries: entries(296, 300, 1) });
  });
});

describe('WalStorage: a record larger than a segment', () => {
  // 1.5 segments of data: it cannot fit anywhere, so it goes right after a new segment's base
  // record and extends that file; a crash can tear it there, with the file's end inside it.
  const A = entries(1, 3, 1);
  const big = bulkyEntry(4, 1, (3 * SMALL_SEGMENT) / 2, 0x62);

  it('is written after a base record, growing the file, loads, and is dropped as torn when the file ends inside it', async () => {
    const dataDir = await writtenDir(async (storage) => {
      await persist(storage, { entries: A, hardState: hardState(1, 'a', 2) });
      await persist(storage, { entries: [big], hardState: hardState(1, 'a', 3) });
    });
    const segment = await currentSegment(dataDir);
    expect(segment.scan.payloads).toHaveLength(2);
    expect(decodeWalRecord(segment.scan.payloads[0]!)?.op).toBe('base');
    expect(segment.bytes.length).toBeGreaterThan(SMALL_SEGMENT);
    expect(segment.scan.end.kind).toBe('clean');
    expect(await loadAfterRestart(dataDir)).toEqual({ hardState: hardState(1, 'a', 3), snapshot: null, entries: [...A, big] });

    // Torn: the write had extended the preallocated file partway when the crash came.
    const { payload, payloadBytes } = recordOffsets(segment, 1);
    const tornSize = SMALL_SEGMENT + 1000;
    expect(tornSize).toBeLessThan(payload + payloadBytes);
    await truncate(segment.path, tornSize);
    expect(scanSegment(await readFile(segment.path)).end.kind).toBe('torn');
    const withoutIt = { hardState: hardState(1, 'a', 2), snapshot: null, entries: A };
    await withWal(dataDir, async (storage, loaded) => {
      expect(loaded).toEqual(withoutIt);
      await persist(storage, { entries: entries(4, 5, 2), hardState: hardState(2, 'b', 4) });
    });
    expect(await loadAfterRestart(dataDir)).toEqual({ hardState: hardState(2, 'b', 4), snapshot: null, entries: [...A, ...entries(4, 5, 2)] });
  });
});

describe('WalStorage: a crash between the snapshot in LevelDB and its record', () => {
  /** Saves `saved` into LevelDB without the WAL record naming it, as the crash leaves it. */
  async function saveSnapshotOnly(dataDir: string, saved: ReturnType<typeof snapshot>): Promise<void> {
    await withLevelDb(dataDir, async (db) => {
      const write = db.batch();
      write.put(SNAPSHOT_META_KEY, encodeSnapshotMeta(saved.meta, saved.data));
      write.put(SNAPSHOT_DATA_KEY, saved.data);
      await write.write({ sync: true });
    });
  }

  /**
   * After the reconciled load: a reopen loads the same (the fix record is durable), and entries
   * persisted after the snapshot survive the next restart.
   */
  async function expectReconciledForGood(dataDir: string, expected: PersistedState, next: Entry[]): Promise<void> {
    expect(await loadAfterRestart(dataDir)).toEqual(expected);
    await withWal(dataDir, (storage) => persist(storage, { entries: next }));
    expect(await loadAfterRestart(dataDir)).toEqual({ ...expected, entries: [...expected.entries, ...next] });
  }

  it('keeps the entries after the snapshot when the log holds its last entry', async () => {
    const dataDir = await writtenDir((storage) => persist(storage, { entries: entries(1, 10, 1), hardState: hardState(1, 'a', 8) }));
    await saveSnapshotOnly(dataDir, snapshot(6, 1));
    const expected = { hardState: hardState(1, 'a', 8), snapshot: snapshot(6, 1), entries: entries(7, 10, 1) };
    expect(await loadAfterRestart(dataDir)).toEqual(expected);
    await expectReconciledForGood(dataDir, expected, entries(11, 12, 1));
  });

  it('drops the whole log when its entry at the snapshot index has another term', async () => {
    // Entries 1..10 of term 1, committed through 5; the leader's snapshot says index 6 is of term 2.
    const dataDir = await writtenDir((storage) => persist(storage, { entries: entries(1, 10, 1), hardState: hardState(1, 'a', 5) }));
    await saveSnapshotOnly(dataDir, snapshot(6, 2));
    const expected = { hardState: hardState(1, 'a', 5), snapshot: snapshot(6, 2), entries: [] };
    expect(await loadAfterRestart(dataDir)).toEqual(expected);
    // Without the fix record, the old log's entry 6 of term 1 would drop these again at the next load.
    await expectReconciledForGood(dataDir, expected, entries(7, 9, 2));
  });
});

describe('WalStorage: migration from format 1', () => {
  /** LevelStorage's data dir: a compaction at 40, entries through 120, a hard state. */
  async function formatOneDir(): Promise<{ dataDir: string; state: PersistedState }> {
    const dataDir = await makeTempDir();
    const level = await LevelStorage.open(dataDir);
    try {
      await level.load();
      await persist(level, { entries: entries(1, 100, 1), hardState: hardState(1, 'a', 90) });
      await persist(level, { compaction: snapshot(40, 1), entries: entries(101, 120, 2), hardState: hardState(2, 'b', 110) });
      return { dataDir, state: await level.load() };
    } finally {
      await level.close();
    }
  }

  it('moves the log and hard state to the write-ahead log and stamps format 3', async () => {
    const { dataDir, state } = await formatOneDir();
    expect(state.entries).toHaveLength(80);
    // The open that migrates says so (serve logs it); the next one finds format 3.
    await withWal(dataDir, async (storage, loaded) => {
      expect(storage.migratedFromFormat).toBe(1);
      expect(loaded).toEqual(state);
    });
    await withWal(dataDir, async (storage) => expect(storage.migratedFromFormat).toBeNull());
    expect(await loadAfterRestart(dataDir)).toEqual(state);
    await withLevelDb(dataDir, async (db) => {
      expect(await db.keys({ gte: ENTRY_KEY_PREFIX, lt: ENTRY_KEY_END }).all()).toEqual([]);
      expect(await db.get(HARD_STATE_KEY)).toBeUndefined();
      expect(new TextDecoder().decode((await db.get(VERSION_KEY))!)).toBe('3');
      expect(await db.get(SNAPSHOT_META_KEY)).toBeDefined();
    });
    // The migrated log (larger than one segment) is appended to and read back like any other.
    expect(await loadAfterRestart(dataDir)).toEqual(state);
    await withWal(dataDir, (storage) => persist(storage, { entries: entries(121, 125, 2), hardState: hardState(2, 'b', 120) }));
    expect(await loadAfterRestart(dataDir)).toEqual({ ...state, hardState: hardState(2, 'b', 120), entries: [...state.entries, ...entries(121, 125, 2)] });
  });

  it('writes a log of more than 4 MiB of entries as several records, and loads it the same', async () => {
    // Entries with their data as a digest: a deep comparison of megabytes, byte by byte, takes a minute.
    const digested = (stored: readonly Entry[]): unknown[] =>
      stored.map((one) => ({ ...one, data: `${one.data.length} bytes, sha256 ${createHash('sha256').update(one.data).digest('hex')}` }));
    const summary = (loaded: PersistedState): unknown => ({ ...loaded, entries: digested(loaded.entries) });
    const dataDir = await makeTempDir();
    const bulky = [1, 2, 3, 4, 5, 6].map((index) => bulkyEntry(index, 1, 1024 * 1024, index));
    const level = await LevelStorage.open(dataDir);
    let state: PersistedState;
    try {
      await level.load();
      await persist(level, { entries: bulky, hardState: hardState(1, 'a', 5) });
      state = await level.load();
    } finally {
      await level.close();
    }
    expect(state.entries).toHaveLength(6);
    expect(summary(await loadAfterRestart(dataDir))).toEqual(summary(state));
    // Segment 1, which the migration wrote: its base record, then the log in records of about
    // 4 MiB of data each, not one record of all of it.
    const [first] = await segmentFiles(dataDir);
    expect(first!.path.endsWith('0000000000000001.wal')).toBe(true);
    const records = first!.scan.payloads.map((payload) => decodeWalRecord(payload)!);
    expect(records.length).toBeGreaterThan(2);
    expect(records[0]!.op).toBe('base');
    expect(records.slice(1).every((record) => record.entries.length < bulky.length)).toBe(true);
    expect(digested(records.flatMap((record) => record.entries))).toEqual(digested(state.entries));
    // Appended to and read back like any other log.
    await withWal(dataDir, (storage) => persist(storage, { entries: entries(7, 8, 2), hardState: hardState(2, 'b', 7) }));
    const appended = { hardState: hardState(2, 'b', 7), snapshot: null, entries: [...state.entries, ...entries(7, 8, 2)] };
    expect(summary(await loadAfterRestart(dataDir))).toEqual(summary(appended));
  });

  it('leaves a dir that format 1 refuses rather than reading an empty log from it', async () => {
    const { dataDir } = await formatOneDir();
    await loadAfterRestart(dataDir);
    await expect(LevelStorage.open(dataDir)).rejects.toThrow(/unknown format version "3"/);
  });
});

describe('WalStorage: a process killed while it writes', () => {
  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });

  interface Run {
    readonly readyAt: number;
    readonly acked: number[];
  }

  /** Runs the writer on `dataDir`, kills it `killAfterMs` after its first acknowledgement. */
  function runAndKill(dataDir: string, term: number, killAfterMs: number): Promise<Run> {
    const child = spawn(process.execPath, ['--import', 'tsx', WRITER, dataDir, String(SMALL_SEGMENT), String(term)], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let readyAt: number | null = null;
    const acked: number[] = [];
    let pending = '';
    let stderr = '';
    return new Promise<Run>((resolve, reject) => {
      const limit = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`the writer did not acknowledge in time; stderr: ${stderr}`));
      }, 30_000);
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.stdout.on('data', (chunk: Buffer) => {
        const lines = (pending + chunk.toString()).split('\n');
        pending = lines.pop() ?? '';
        for (const line of lines) {
          const [word, index] = line.split(' ');
          if (word === 'ready') readyAt = Number(index);
          if (word !== 'acked') continue;
          if (acked.length === 0) setTimeout(() => child.kill('SIGKILL'), killAfterMs);
          acked.push(Number(index));
        }
      });
      child.on('error', reject);
      child.on('close', (code, signal) => {
        clearTimeout(limit);
        if (signal !== 'SIGKILL' || readyAt === null) reject(new Error(`the writer ended with ${code ?? signal}; stderr: ${stderr}`));
        else resolve({ readyAt, acked });
      });
    });
  }

  /** Everything the killed writer acknowledged is in `loaded`, byte for byte. */
  function expectAcknowledged(loaded: PersistedState, run: Run, term: number): void {
    const snapshotIndex = loaded.snapshot?.meta.index ?? 0;
    const lastIndex = loaded.entries.at(-1)?.index ?? snapshotIndex;
    const lastAcked = run.acked.at(-1)!;
    expect(lastIndex).toBeGreaterThanOrEqual(lastAcked);
    loaded.entries.forEach((stored, offset) => {
      expect(stored.index).toBe(snapshotIndex + 1 + offset);
      expect(stored.term).toBeLessThanOrEqual(term);
      expect(stored).toEqual(entry(stored.index, stored.term));
    });
    // This run's entries carry its term; its last acknowledged hard state (commit = the index
    // before that batch) or a later one is durable.
    for (const stored of loaded.entries) if (stored.index > run.readyAt && stored.index <= lastAcked) expect(stored.term).toBe(term);
    expect(loaded.hardState.term).toBe(term);
    expect(loaded.hardState.commit).toBeGreaterThanOrEqual(lastAcked - 3);
  }

  it('keeps every acknowledged write through three SIGKILLs, and writes on after each', async () => {
    const dataDir = await makeTempDir();
    let expectedReady = 0;
    for (let term = 1; term <= 3; term++) {
      const run = await runAndKill(dataDir, term, 50 + Math.floor(Math.random() * 350));
      expect(run.readyAt).toBe(expectedReady);
      expect(run.acked.length).toBeGreaterThan(0);
      expectedReady = await withWal(dataDir, async (storage, loaded) => {
        expectAcknowledged(loaded, run, term);
        const next = (loaded.entries.at(-1)?.index ?? loaded.snapshot!.meta.index) + 1;
        await persist(storage, { entries: entries(next, next + 1, term), hardState: hardState(term, 'a', next) });
        return next + 1;
      });
      const reloaded = await loadAfterRestart(dataDir);
      expect(reloaded.entries.at(-1)?.index).toBe(expectedReady);
    }
  });
});

/**
 * Damage that a looser torn-write rule let through (found by these tests): each planted in a
 * record that later ones follow, so it cannot be a torn last write; and load() racing the
 * deletion of obsolete segments.
 */
describe('WalStorage: damage that looks torn, and load() during deletions', () => {
  // Taken for a torn last write, such a record would make load() return the log as it stood
  // before it, regressing the hard state, and recovery would zero every acknowledged record after it.
  it('refuses a flipped bit in a record that others follow, even with a sector of zeros in it', async () => {
    // Entry 3's data is 1100 zero bytes (a value of zeros is ordinary): its frame covers a whole
    // zero sector, as a torn write's would, but batch 3 was written and acknowledged after it.
    const dataDir = await writtenDir(async (storage) => {
      await persist(storage, { entries: entries(1, 2, 1), hardState: hardState(1, 'a', 1) });
      await persist(storage, { entries: [bulkyEntry(3, 1, 1100, 0)], hardState: hardState(1, 'a', 2) });
      await persist(storage, { entries: entries(4, 5, 1), hardState: hardState(1, 'a', 4) });
    }, 64 * 1024);
    const segment = await currentSegment(dataDir);
    const { payload } = recordOffsets(segment, recordAppending(segment, 3));
    await flipBit(segment.path, payload + 1);
    const error = await loadFailure(dataDir);
    expect(error.message).toContain('corrupt record');
  });

  it('refuses a flipped bit in the length of a record that others follow', async () => {
    // The length of the record holding entries 3-4 grows by 4096: its frame now runs past the end of the file.
    const dataDir = await writtenDir(fiveBatches);
    const segment = await currentSegment(dataDir);
    const { frame } = recordOffsets(segment, recordAppending(segment, 3));
    await flipBit(segment.path, frame + 1, 0x10);
    const error = await loadFailure(dataDir);
    expect(error.message).toContain(dataDir);
  });

  it('refuses a zeroed header in a record that others follow (not the end of the records)', async () => {
    const dataDir = await writtenDir(fiveBatches);
    const segment = await currentSegment(dataDir);
    const { frame } = recordOffsets(segment, recordAppending(segment, 3));
    await writeAt(segment.path, frame, new Uint8Array(8));
    const error = await loadFailure(dataDir);
    expect(error.message).toContain('corrupt record');
  });

  it('loads the log right after a compaction whose deletions are still running', async () => {
    // load() in the same process, as the contract allows, just after a compaction's done(null):
    // the obsolete segments are being unlinked meanwhile (about half the rounds hit ENOENT before load() waited for them).
    await withWal(await makeTempDir(), async (storage) => {
      let lastIndex = 0;
      for (let round = 1; round <= 12; round++) {
        for (let count = 0; count < 200; count++) await persist(storage, { entries: [entry(++lastIndex, 1)], sync: false });
        await persist(storage, { compaction: snapshot(lastIndex - 5, 1) });
        const loaded = await storage.load();
        expect(loaded).toEqual({ hardState: EMPTY_HARD_STATE, snapshot: snapshot(lastIndex - 5, 1), entries: entries(lastIndex - 4, lastIndex, 1) });
      }
    });
  });
});

describe('WalStorage: a refused data dir is left as found', () => {
  // Before, a preallocation left behind was deleted before the log was read, and spares (or
  // what looked like them) before the verdict that the log holds no records: the refusal then
  // destroyed what an operator would need to diagnose or restore the node.
  it('keeps a preallocation left behind and every segment when a segment is missing from the middle', async () => {
    const dataDir = await writtenDir(async (storage) => {
      for (let index = 1; index <= 400; index++) await persist(storage, { entries: [entry(index, 1)], sync: false });
    });
    const segments = await segmentsWithRecords(dataDir);
    expect(segments.length).toBeGreaterThanOrEqual(3);
    await unlink(segments[1]!.path);
    const leftover = await nextTempSegmentPath(dataDir);
    await writeFile(leftover, Buffer.alloc(SMALL_SEGMENT / 2));
    const before = await walDirContents(dataDir);
    expect(Object.keys(before).filter((name) => name.endsWith('.wal.tmp'))).toHaveLength(1);
    const error = await loadFailure(dataDir);
    expect(error.message).toContain('missing');
    expect(await walDirContents(dataDir)).toEqual(before);
  });

  it('keeps the segments and a preallocation left behind when no segment holds a record', async () => {
    const dataDir = await writtenDir((storage) => persist(storage, { entries: entries(1, 4, 1), hardState: hardState(1, 'a', 3) }));
    // The only segment's records wiped out: it reads as a spare.
    const [only] = await segmentFiles(dataDir);
    await writeFile(only!.path, Buffer.alloc(only!.bytes.length));
    await writeFile(await nextTempSegmentPath(dataDir), Buffer.alloc(SMALL_SEGMENT / 2));
    const before = await walDirContents(dataDir);
    expect(Object.keys(before)).toHaveLength(2);
    const error = await loadFailure(dataDir);
    expect(error.message).toContain('no records');
    expect(await walDirContents(dataDir)).toEqual(before);
  });
});

describe('WalStorage: LevelDB lost under its write-ahead log', () => {
  /** Deletes the LevelDB files of `dataDir`: everything but wal/ (and the cluster file, were it there). */
  async function deleteLevelDb(dataDir: string): Promise<void> {
    for (const name of await readdir(dataDir)) {
      if (name !== 'wal' && name !== 'concord-cluster.json') await rm(join(dataDir, name), { recursive: true });
    }
  }

  /** The storage_failure that opening `dataDir` is refused with. */
  async function openFailure(dataDir: string): Promise<ConcordError> {
    const error: unknown = await WalStorage.open(dataDir, { segmentBytes: SMALL_SEGMENT }).then(
      async (storage) => {
        await storage.close();
        return new Error('open() succeeded');
      },
      (reason: unknown) => reason,
    );
    expect(error).toBeInstanceOf(ConcordError);
    expect((error as ConcordError).code).toBe('storage_failure');
    return error as ConcordError;
  }

  // LevelDB reopening empty looks like a new data dir; initialising it wiped wal/, and the node
  // started with no log and no vote (it could vote twice in a term).
  it('refuses to start afresh over a log and a vote, leaving wal/ as it was', async () => {
    const dataDir = await writtenDir((storage) => persist(storage, { entries: entries(1, 4, 2), hardState: hardState(2, 'b', 3) }));
    await deleteLevelDb(dataDir);
    expect(await readdir(dataDir)).toEqual(['wal']);
    const before = await walDirContents(dataDir);
    for (let attempt = 1; attempt <= 2; attempt++) {
      const error = await openFailure(dataDir);
      expect(error.message).toContain(dataDir);
      expect(error.message).toContain('wal/ holds a log');
      expect(await walDirContents(dataDir)).toEqual(before);
    }
  });

  // Two faults at once: with segment 1's base record damaged too, its records hide behind the
  // damage, and a scan that found none took the segment for an empty one and wiped it.
  it('refuses as well when the base record of the only segment is damaged', async () => {
    const dataDir = await writtenDir((storage) => persist(storage, { entries: entries(1, 4, 2), hardState: hardState(2, 'b', 3) }));
    await deleteLevelDb(dataDir);
    const [only] = await segmentFiles(dataDir);
    expect(only!.scan.payloads.length).toBeGreaterThan(1);
    await flipBit(only!.path, recordOffsets(only!, 0).payload + 1);
    const before = await walDirContents(dataDir);
    const error = await openFailure(dataDir);
    expect(error.message).toContain('wal/ holds a log');
    expect(await walDirContents(dataDir)).toEqual(before);
  });

  // What initializeWal leaves when a crash comes before the format stamp: nothing to lose, so
  // the data dir is initialised again rather than refused.
  it.each([
    ['segment 1 holding an empty base record', async (_dataDir: string) => undefined],
    ['segment 1 still all zeros', async (dataDir: string) => {
      const [only] = await segmentFiles(dataDir);
      await writeFile(only!.path, Buffer.alloc(only!.bytes.length));
    }],
  ])('opens a data dir whose initialisation a crash cut short (%s)', async (_name, shape) => {
    const dataDir = await makeTempDir();
    await (await WalStorage.open(dataDir, { segmentBytes: SMALL_SEGMENT })).close();
    await deleteLevelDb(dataDir);
    await shape(dataDir);
    const segments = await segmentFiles(dataDir);
    expect(segments).toHaveLength(1);
    expect(segments[0]!.scan.payloads.map((payload) => decodeWalRecord(payload))).toEqual(
      segments[0]!.scan.payloads.length === 0 ? [] : [{ op: 'base', marker: { index: 0, term: 0 }, hardState: EMPTY_HARD_STATE, entries: [] }],
    );
    await withWal(dataDir, async (storage, loaded) => {
      expect(loaded).toEqual({ hardState: EMPTY_HARD_STATE, snapshot: null, entries: [] });
      await persist(storage, { entries: entries(1, 2, 1), hardState: hardState(1, 'a', 1) });
    });
    expect(await loadAfterRestart(dataDir)).toEqual({ hardState: hardState(1, 'a', 1), snapshot: null, entries: entries(1, 2, 1) });
  });
});

describe('WalStorage: the files of the wal directory', () => {
  const written = (): Promise<string> =>
    writtenDir((storage) => persist(storage, { entries: entries(1, 4, 1), hardState: hardState(1, 'a', 3) }));

  it('refuses a file it does not know, naming it', async () => {
    const dataDir = await written();
    await writeFile(join(walDirOf(dataDir), 'notes.txt'), 'hello');
    const error = await loadFailure(dataDir);
    expect(error.message).toContain(dataDir);
    expect(error.message).toContain('unexpected file "notes.txt"');
  });

  it('removes and ignores a segment whose preallocation was interrupted', async () => {
    const dataDir = await written();
    // The next segment as a crash during its preallocation leaves it: half zeroed, under its temporary name.
    const current = await currentSegment(dataDir);
    const leftover = current.path.replace(/[0-9a-f]{16}\.wal$/, (name) => `${(Number.parseInt(name, 16) + 1).toString(16).padStart(16, '0')}.wal.tmp`);
    expect(leftover).not.toBe(current.path);
    await writeFile(leftover, Buffer.alloc(SMALL_SEGMENT / 2));
    const expected = { hardState: hardState(1, 'a', 3), snapshot: null, entries: entries(1, 4, 1) };
    await withWal(dataDir, async (storage, loaded) => {
      expect(loaded).toEqual(expected);
      expect((await readdir(walDirOf(dataDir))).filter((name) => name.endsWith('.tmp'))).toEqual([]);
      await persist(storage, { entries: entries(5, 5, 1) });
    });
    expect(await loadAfterRestart(dataDir)).toEqual({ ...expected, entries: entries(1, 5, 1) });
  });

  it('refuses a data dir whose write-ahead log is gone rather than start with no vote', async () => {
    const dataDir = await written();
    await rm(walDirOf(dataDir), { recursive: true });
    const error = await loadFailure(dataDir);
    expect(error.message).toContain(dataDir);
    expect(error.message).toContain('wal/ is missing');
    // Refused as found: the refusal does not create the directory it missed.
    expect(await readdir(dataDir)).not.toContain('wal');
  });
});

describe('WalStorage: the snapshot data in a file of its own', () => {
  const snapFiles = async (dataDir: string): Promise<string[]> => (await readdir(join(dataDir, 'snap'))).sort();
  /** The file name of the snapshot at `index` whose data is `data`. */
  const snapName = (index: number, data: Uint8Array): string =>
    `${index.toString(16).padStart(16, '0')}-${checksum(data).toString(16).padStart(8, '0')}.snap`;

  // A value put into a LevelDB batch is copied on the event loop (about 4-7 ms per MiB here), so
  // the data goes to snap/<index>.snap, and LevelDB keeps only the metadata that checks it.
  it('keeps the data in snap/, not in LevelDB, and only the current snapshot file', async () => {
    const dataDir = await writtenDir(async (storage) => {
      await persist(storage, { entries: entries(1, 20, 1), hardState: hardState(1, 'a', 20) });
      await persist(storage, { compaction: snapshot(10, 1) });
      await persist(storage, { compaction: snapshot(15, 1), entries: entries(21, 22, 1) });
    });
    expect(await snapFiles(dataDir)).toEqual([snapName(15, snapshot(15, 1).data)]);
    await withLevelDb(dataDir, async (db) => {
      expect(await db.get(SNAPSHOT_DATA_KEY)).toBeUndefined();
      expect(await db.get(SNAPSHOT_META_KEY)).toBeDefined();
    });
    expect(await loadAfterRestart(dataDir)).toEqual({ hardState: hardState(1, 'a', 20), snapshot: snapshot(15, 1), entries: entries(16, 22, 1) });
  });

  it('refuses a snapshot file whose bytes do not match the metadata, and one that is missing', async () => {
    const write = async (storage: WalStorage): Promise<void> => {
      await persist(storage, { entries: entries(1, 5, 1), hardState: hardState(1, 'a', 5) });
      await persist(storage, { compaction: snapshot(4, 1) });
    };
    const damaged = await writtenDir(write);
    const [name] = await snapFiles(damaged);
    await flipBit(join(damaged, 'snap', name!), 3);
    expect((await loadFailure(damaged)).message).toContain('corrupt snapshot data');
    const missing = await writtenDir(write);
    await unlink(join(missing, 'snap', name!));
    expect((await loadFailure(missing)).message).toContain('has no data');
  });

  // A crash after a new snapshot's file was saved but before its metadata names it leaves a file
  // no one names; the snapshot in force is still the older one, and the stray file goes.
  it('removes a snapshot file that the metadata does not name, loading the one it does', async () => {
    const dataDir = await writtenDir(async (storage) => {
      await persist(storage, { entries: entries(1, 8, 1), hardState: hardState(1, 'a', 8) });
      await persist(storage, { compaction: snapshot(4, 1) });
    });
    await writeFile(join(dataDir, 'snap', '0000000000000007-01020304.snap'), new Uint8Array([1, 2, 3]));
    await writeFile(join(dataDir, 'snap', '0000000000000007-01020304.snap.tmp'), new Uint8Array([4]));
    // A snapshot of the held index with other bytes, as an install at that index would save.
    await writeFile(join(dataDir, 'snap', snapName(4, new Uint8Array([9]))), new Uint8Array([9]));
    await writeFile(join(dataDir, 'snap', 'operator-notes.txt'), 'not ours');
    expect(await loadAfterRestart(dataDir)).toEqual({ hardState: hardState(1, 'a', 8), snapshot: snapshot(4, 1), entries: entries(5, 8, 1) });
    expect(await snapFiles(dataDir)).toEqual([snapName(4, snapshot(4, 1).data), 'operator-notes.txt']);
  });
  // Format 2 (and a snapshot migrated from format 1) kept the data in LevelDB: it is read from
  // there while it is there, and the first save moves it to a file and deletes it.
  it('reads a snapshot kept in LevelDB (format 2), then moves it to a file at the first save', async () => {
    const dataDir = await writtenDir(async (storage) => {
      await persist(storage, { entries: entries(1, 6, 1), hardState: hardState(1, 'a', 6) });
      await persist(storage, { compaction: snapshot(3, 1) });
    });
    // Back to format 2's layout: the data in s:data, no file, the version 2.
    await rm(join(dataDir, 'snap'), { recursive: true });
    await withLevelDb(dataDir, async (db) => {
      await db.put(SNAPSHOT_DATA_KEY, snapshot(3, 1).data);
      await db.put(VERSION_KEY, new TextEncoder().encode('2'));
    });
    // A save cut short after its file was renamed into place, before the metadata named it.
    await mkdir(join(dataDir, 'snap'));
    await writeFile(join(dataDir, 'snap', snapName(5, snapshot(5, 1).data)), snapshot(5, 1).data);
    await withWal(dataDir, async (storage, loaded) => {
      expect(loaded).toEqual({ hardState: hardState(1, 'a', 6), snapshot: snapshot(3, 1), entries: entries(4, 6, 1) });
      expect(await snapFiles(dataDir)).toEqual([]);
      await persist(storage, { compaction: snapshot(5, 1) });
    });
    expect(await snapFiles(dataDir)).toEqual([snapName(5, snapshot(5, 1).data)]);
    await withLevelDb(dataDir, async (db) => {
      expect(await db.get(SNAPSHOT_DATA_KEY)).toBeUndefined();
      expect(new TextDecoder().decode((await db.get(VERSION_KEY))!)).toBe('3');
    });
    expect(await loadAfterRestart(dataDir)).toEqual({ hardState: hardState(1, 'a', 6), snapshot: snapshot(5, 1), entries: entries(6, 6, 1) });
  });
});

describe('WalStorage: what a replayed entry keeps alive', () => {
  // The log keeps a replayed entry until a snapshot covers it: a view of the segment read at
  // load would keep the whole segment alive, and a copy per entry an ArrayBuffer per entry.
  it('entries of one record share one exact copy of its payload, apart from the segment', () => {
    const appended = entries(1, 3, 2);
    const record = frameRecord({ op: 'none', marker: { index: 0, term: 0 }, hardState: null, entries: appended });
    const segment = Buffer.concat([record, Buffer.alloc(4096)]);
    const [payload] = scanSegment(segment).payloads;
    const decoded = decodeWalRecord(payload!)!.entries;
    segment.fill(0xee);
    expect(decoded).toEqual(appended);
    expect(new Set(decoded.map((stored) => stored.data.buffer)).size).toBe(1);
    expect(decoded[0]!.data.buffer.byteLength).toBe(payload!.length);
  });
});
