/**
 * What one persist() writes to the write-ahead log: the record for a batch, the snapshot to save
 * before it, and the log's last index after it, with the Storage contract's checks on the log's
 * shape (the same rules as batch-plan.ts's planBatch, over a snapshot marker instead of keys).
 */
import { assert } from '../../common/assert.ts';
import type { LogIndex, Snapshot } from '../../raft/types.ts';
import type { PersistBatch } from '../storage.ts';
import type { MarkerOp, SnapshotMarker, WalRecord } from './wal-record.ts';

export interface PlannedRecord {
  readonly record: WalRecord;
  /** Saved (file, then metadata) before the record that names it. */
  readonly snapshotToSave: Snapshot | null;
  readonly lastIndex: LogIndex;
}

const markerOf = (snapshot: Snapshot): SnapshotMarker => ({ index: snapshot.meta.index, term: snapshot.meta.term });

/** The record for `batch` written after a log whose marker is `marker` and last index `lastIndex`. */
export function planRecord(currentMarker: SnapshotMarker, currentLastIndex: LogIndex, batch: PersistBatch): PlannedRecord {
  let op: MarkerOp = 'none';
  let marker = currentMarker;
  let snapshotToSave: Snapshot | null = null;
  let lastIndex = currentLastIndex;
  if (batch.snapshot !== null) {
    op = 'install';
    marker = markerOf(batch.snapshot);
    snapshotToSave = batch.snapshot;
    lastIndex = marker.index;
  }
  // An older compaction than the snapshot we hold (one just installed, say) covers nothing new.
  if (batch.compaction !== null && batch.compaction.meta.index > marker.index) {
    if (op === 'none') op = 'compact';
    marker = markerOf(batch.compaction);
    snapshotToSave = batch.compaction;
    lastIndex = Math.max(lastIndex, marker.index);
  }
  const first = batch.entries[0];
  if (first !== undefined) {
    assert(first.index > marker.index, () => `persist: entry ${first.index} is inside snapshot ${marker.index}`);
    assert(first.index <= lastIndex + 1, () => `persist: entry ${first.index} leaves a gap after ${lastIndex}`);
    batch.entries.forEach((entry, offset) => {
      assert(entry.index === first.index + offset, () => `persist: batch entries not contiguous at ${entry.index}`);
    });
    lastIndex = first.index + batch.entries.length - 1;
  }
  return { record: { op, marker, hardState: batch.hardState, entries: batch.entries }, snapshotToSave, lastIndex };
}
