/**
 * The write-ahead log's first segment, written before the data dir is stamped with format 3:
 * once the stamp is there, a log with no records means the log was lost (a node that restarted
 * from nothing would forget its vote), and load() refuses it rather than start empty.
 *
 * Two ways in: a new data dir (an empty log), and a data dir of format 1 (the log and hard state
 * as LevelDB keys, LevelStorage's layout), migrated: its log goes to the first segment, made
 * durable, then one LevelDB batch deletes the old keys and stamps the new version. A crash
 * before the stamp leaves the data dir as it was, and the next open starts over from scratch.
 */
import { mkdir, readdir, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { EMPTY_HARD_STATE, hardStateEqual, type PersistedState } from '../../raft/types.ts';
import { encodeVersion, entryKey, HARD_STATE_KEY, VERSION_KEY, WAL_FORMAT_VERSION } from '../codec.ts';
import { type Database, loadKeySpace } from '../level-storage.ts';
import { storageError } from '../storage-error.ts';
import { scanSegment } from './frame.ts';
import { createSegment, listSegments, readSegment, syncDirectory, walDir, writeFully } from './segment-files.ts';
import { decodeWalRecord, frameRecord, type WalRecord } from './wal-record.ts';

const EMPTY_STATE: PersistedState = { hardState: EMPTY_HARD_STATE, snapshot: null, entries: [] };

/** A migrated log is written in records of about this much entry data each, not as one. */
const MIGRATION_RECORD_BYTES = 4 * 1024 * 1024;

/** `state`'s entries in records of about MIGRATION_RECORD_BYTES of data each. */
function logRecords(state: PersistedState): WalRecord[] {
  const records: WalRecord[] = [];
  let pending: PersistedState['entries'][number][] = [];
  let pendingBytes = 0;
  for (const entry of state.entries) {
    pending.push(entry);
    pendingBytes += entry.data.length;
    if (pendingBytes >= MIGRATION_RECORD_BYTES) {
      records.push({ op: 'none', marker: { index: 0, term: 0 }, hardState: null, entries: pending });
      pending = [];
      pendingBytes = 0;
    }
  }
  if (pending.length > 0) records.push({ op: 'none', marker: { index: 0, term: 0 }, hardState: null, entries: pending });
  return records;
}

/** Writes `state` as the whole write-ahead log of `dataDir` (replacing any), durably. */
async function writeFirstSegment(dataDir: string, state: PersistedState, segmentBytes: number): Promise<void> {
  const dir = walDir(dataDir);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await syncDirectory(dirname(dir));
  const marker = { index: state.snapshot?.meta.index ?? 0, term: state.snapshot?.meta.term ?? 0 };
  const segment = await createSegment(dir, 1, segmentBytes);
  try {
    // One frame per write, as everywhere (frame.ts's torn-write rule relies on it); a segment
    // that grows past its preallocated size here is fine: it is read whole, never appended to
    // beyond its end by a record that would fit elsewhere.
    let offset = 0;
    for (const record of [{ op: 'base', marker, hardState: state.hardState, entries: [] } as const, ...logRecords(state)]) {
      const frame = frameRecord(record);
      await writeFully(segment, frame, offset);
      offset += frame.length;
    }
    await segment.datasync();
  } finally {
    await segment.close();
  }
}

/**
 * Whether `wal/` holds a log a new data dir must not overwrite: anything but nothing, or what an
 * initialisation that a crash cut short leaves (segment 1 with an empty base record and no
 * entries). LevelDB opening empty under a log means its files were lost or replaced; starting
 * afresh would make this node forget its vote and its log.
 */
async function holdsALog(dataDir: string): Promise<boolean> {
  const dir = walDir(dataDir);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return false;
  }
  if (names.length === 0) return false;
  const { sequences, unexpected } = await listSegments(dir);
  if (unexpected.length > 0 || sequences.length > 1 || (sequences.length === 1 && sequences[0] !== 1)) return true;
  if (sequences.length === 0) return false;
  const scanned = scanSegment(await readSegment(dir, 1));
  // Damage can hide a log's records: only a segment judged whole or torn can be an empty one.
  if (scanned.end.kind === 'corrupt') return true;
  const records = scanned.payloads.map(decodeWalRecord);
  return records.some(
    (record) =>
      record === null ||
      record.marker.index !== 0 ||
      record.entries.length > 0 ||
      (record.hardState !== null && !hardStateEqual(record.hardState, EMPTY_HARD_STATE)),
  );
}

/** A new data dir: an empty log, then the format stamp. */
export async function initializeWal(dataDir: string, db: Database, segmentBytes: number): Promise<void> {
  if (await holdsALog(dataDir)) {
    throw storageError({ dataDir }, 'LevelDB holds nothing but wal/ holds a log: the database was lost or replaced; refusing to start afresh over this node\'s log and vote');
  }
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
