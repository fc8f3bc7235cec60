/**
 * Reading the write-ahead log back at start: every segment scanned and checked, the records
 * replayed, and the log reconciled with the snapshot LevelDB holds.
 *
 * Which damage is tolerated: only a torn last write (a crash mid-write), and only in the last
 * segment that holds records; segments after it are spares or a rotation the crash cut short,
 * never acknowledged. Anything else — a failed checksum in a durable record, a segment
 * missing from the sequence, a segment not opening with a base record — is refused: a node
 * that silently drops what it acknowledged can break Raft's safety, while refusing to start
 * costs only availability.
 */
import type { LogIndex, PersistedState, Snapshot } from '../../raft/types.ts';
import { storageError } from '../storage-error.ts';
import { scanSegment } from './frame.ts';
import { LogReplay, type ReplayedLog } from './replay.ts';
import { readSegment } from './segment-files.ts';
import { decodeWalRecord, type WalRecord } from './wal-record.ts';

export interface SegmentState {
  readonly sequence: number;
  /** The highest entry index the segment appended, or 0 once none of them can matter again. */
  liveThrough: LogIndex;
}

export interface ReadWal {
  readonly log: ReplayedLog;
  /** The segments holding records, ascending; the last is the one appends continue in. */
  readonly segments: SegmentState[];
  /** Where the last segment's records end, and the end of what a torn write left after them. */
  readonly tail: { readonly endOffset: number; readonly garbageEnd: number } | null;
  /** Segments after the last with records: spares, or a rotation cut short. */
  readonly strays: number[];
}

export async function readWal(dataDir: string, dir: string, sequences: readonly number[]): Promise<ReadWal> {
  for (let i = 1; i < sequences.length; i++) {
    if (sequences[i] !== sequences[i - 1]! + 1) {
      throw storageError({ dataDir }, `write-ahead log segment ${sequences[i - 1]! + 1} is missing`);
    }
  }
  const replay = new LogReplay(dataDir);
  const segments: SegmentState[] = [];
  let tail: ReadWal['tail'] = null;
  let torn = false;
  const strays: number[] = [];
  for (const sequence of sequences) {
    const scanned = scanSegment(await readSegment(dir, sequence));
    if (scanned.end.kind === 'corrupt') {
      throw storageError({ dataDir }, `corrupt record in write-ahead log segment ${sequence} at byte ${scanned.endOffset} (a whole record follows the damage, or its checksum fails on sectors all written)`);
    }
    if (scanned.payloads.length === 0) {
      // A spare, or a rotation whose base record a crash tore: fine only once the records have ended.
      strays.push(sequence);
      continue;
    }
    if (strays.length > 0 || torn) {
      const before = strays.length > 0 ? `segment ${strays[0]!} holds no whole record` : `segment ${sequence - 1} ends in a torn write`;
      throw storageError({ dataDir }, `write-ahead log segment ${sequence} holds records, but ${before}`);
    }
    torn = scanned.end.kind === 'torn';
    let liveThrough = 0;
    scanned.payloads.forEach((payload, position) => {
      const record = decodeWalRecord(payload);
      if (record === null) throw storageError({ dataDir }, `malformed record ${position} in write-ahead log segment ${sequence}`);
      if (position === 0 && record.op !== 'base') {
        throw storageError({ dataDir }, `write-ahead log segment ${sequence} does not open with a base record`);
      }
      const appendedThrough = replay.apply(record);
      if (record.op === 'install') {
        // Everything appended before an install is gone from the log: no segment keeps it.
        for (const earlier of segments) earlier.liveThrough = 0;
        liveThrough = 0;
      }
      liveThrough = Math.max(liveThrough, appendedThrough);
    });
    segments.push({ sequence, liveThrough });
    tail = { endOffset: scanned.endOffset, garbageEnd: scanned.garbageEnd };
  }
  return { log: replay.finish(), segments, tail, strays };
}

export interface Reconciled {
  readonly state: PersistedState;
  /** A record that makes the log agree with the snapshot, to append before anything else. */
  readonly fix: WalRecord | null;
}

/**
 * The log of `wal` after LevelDB's `snapshot`. A snapshot is saved to LevelDB before the
 * record that names it, so after a crash between the two the log may still continue from an
 * older marker. Then, as Raft does when it installs a snapshot, the entries after it are kept
 * only if the log holds the snapshot's last entry (same index and term): what follows it
 * continues the same history. Otherwise they are dropped; they cannot have been committed,
 * since the committed prefix through the snapshot's index disagrees with them.
 */
export function reconcile(dataDir: string, wal: ReplayedLog, snapshot: Snapshot | null): Reconciled {
  const snapshotIndex = snapshot?.meta.index ?? 0;
  const snapshotTerm = snapshot?.meta.term ?? 0;
  const { marker, hardState } = wal;
  if (marker.index > snapshotIndex) {
    throw storageError({ dataDir }, `the write-ahead log continues from snapshot ${marker.index}, but the database holds ${snapshotIndex}`);
  }
  let entries = wal.entries;
  let fix: WalRecord | null = null;
  if (marker.index === snapshotIndex) {
    if (marker.term !== snapshotTerm) {
      throw storageError({ dataDir }, `snapshot ${snapshotIndex} has term ${snapshotTerm} in the database and ${marker.term} in the write-ahead log`);
    }
  } else {
    const atSnapshot = entries.find((entry) => entry.index === snapshotIndex);
    const continues = atSnapshot !== undefined && atSnapshot.term === snapshotTerm;
    entries = continues ? entries.filter((entry) => entry.index > snapshotIndex) : [];
    fix = { op: continues ? 'compact' : 'install', marker: { index: snapshotIndex, term: snapshotTerm }, hardState: null, entries: [] };
  }
  const lastIndex = entries.at(-1)?.index ?? snapshotIndex;
  if (hardState.commit > lastIndex) {
    throw storageError({ dataDir }, `hard state commit ${hardState.commit} beyond the last index ${lastIndex}`);
  }
  return { state: { hardState, snapshot, entries }, fix };
}
