/**
 * The write-ahead log's first segment, written before the data dir is stamped with format 2:
 * once the stamp is there, a log with no records means the log was lost (a node that restarted
 * from nothing would forget its vote), and load() refuses it rather than start empty.
 *
 * Two ways in: a new data dir (an empty log), and a data dir of format 1 (the log and hard state
 * as LevelDB keys, LevelStorage's layout), migrated: its log goes to the first segment, made
 * durable, then one LevelDB batch deletes the old keys and stamps the new version. A crash
 * before the stamp leaves the data dir as it was, and the next open starts over from scratch.
 */
import { mkdir, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { EMPTY_HARD_STATE, type PersistedState } from '../../raft/types.ts';
import { encodeVersion, entryKey, HARD_STATE_KEY, VERSION_KEY, WAL_FORMAT_VERSION } from '../codec.ts';
import { type Database, loadKeySpace } from '../level-storage.ts';
import { createSegment, syncDirectory, walDir } from './segment-files.ts';
import { frameRecords } from './wal-record.ts';

const EMPTY_STATE: PersistedState = { hardState: EMPTY_HARD_STATE, snapshot: null, entries: [] };

/** Writes `state` as the whole write-ahead log of `dataDir` (replacing any), durably. */
async function writeFirstSegment(dataDir: string, state: PersistedState, segmentBytes: number): Promise<void> {
  const dir = walDir(dataDir);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await syncDirectory(dirname(dir));
  const marker = { index: state.snapshot?.meta.index ?? 0, term: state.snapshot?.meta.term ?? 0 };
  const base = frameRecords([{ op: 'base', marker, hardState: state.hardState, entries: [] }]);
  const log = frameRecords([{ op: 'none', marker: { index: 0, term: 0 }, hardState: null, entries: state.entries }]);
  const segment = await createSegment(dir, 1, segmentBytes);
  try {
    // One frame per write, as everywhere (frame.ts's torn-write rule relies on it).
    await segment.write(base, 0, base.length, 0);
    await segment.write(log, 0, log.length, base.length);
    await segment.datasync();
  } finally {
    await segment.close();
  }
}

/** A new data dir: an empty log, then the format stamp. */
export async function initializeWal(dataDir: string, db: Database, segmentBytes: number): Promise<void> {
  await writeFirstSegment(dataDir, EMPTY_STATE, segmentBytes);
  await db.put(VERSION_KEY, encodeVersion(WAL_FORMAT_VERSION), { sync: true });
}

/** A format-1 data dir: its log moved to the write-ahead log, then its old keys deleted with the stamp. */
export async function migrateKeySpaceToWal(dataDir: string, db: Database, segmentBytes: number): Promise<void> {
  const { state } = await loadKeySpace(dataDir, db);
  await writeFirstSegment(dataDir, state, segmentBytes);
  const batch = db.batch();
  batch.del(HARD_STATE_KEY);
  for (const entry of state.entries) batch.del(entryKey(entry.index));
  batch.put(VERSION_KEY, encodeVersion(WAL_FORMAT_VERSION));
  await batch.write({ sync: true });
}
