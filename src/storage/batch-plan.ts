/**
 * Turns one PersistBatch into the key-value operations of one atomic write, shared by both
 * Storage implementations so that they cannot disagree on what a batch means.
 *
 * Deletes are per key, inside the same write, never a range clear beside it: LevelDB cannot
 * batch a range delete, and a crash between a clear and the batch could leave a log with
 * acknowledged entries missing that still looks valid. Per-key deletes need to know which
 * keys exist without scanning; LogBounds is that in-memory note. Invariant: the stored log
 * is exactly the entries snapshotIndex+1 .. lastIndex (none when lastIndex == snapshotIndex).
 */
import { assert } from '../common/assert.ts';
import type { LogIndex, Snapshot } from '../raft/types.ts';
import {
  encodeEntry,
  encodeHardState,
  encodeSnapshotMeta,
  entryKey,
  HARD_STATE_KEY,
  SNAPSHOT_DATA_KEY,
  SNAPSHOT_META_KEY,
} from './codec.ts';
import type { PersistBatch } from './storage.ts';

export interface LogBounds {
  readonly snapshotIndex: LogIndex;
  readonly lastIndex: LogIndex;
}

export const EMPTY_BOUNDS: LogBounds = { snapshotIndex: 0, lastIndex: 0 };

/** The shape of `level`'s batch operations, so LevelStorage passes them through unchanged. */
export type StorageOp =
  | { readonly type: 'put'; readonly key: string; readonly value: Uint8Array }
  | { readonly type: 'del'; readonly key: string };

export interface PlannedWrite {
  readonly ops: StorageOp[];
  /** The bounds once the write has been applied. */
  readonly bounds: LogBounds;
}

function deleteEntries(ops: StorageOp[], from: LogIndex, through: LogIndex): void {
  for (let index = from; index <= through; index++) ops.push({ type: 'del', key: entryKey(index) });
}

function putSnapshot(ops: StorageOp[], snapshot: Snapshot): void {
  ops.push({ type: 'put', key: SNAPSHOT_META_KEY, value: encodeSnapshotMeta(snapshot.meta, snapshot.data) });
  // A copy: the caller keeps its array, and the memory store must own what it "wrote".
  ops.push({ type: 'put', key: SNAPSHOT_DATA_KEY, value: new Uint8Array(snapshot.data) });
}

/**
 * The operations for `batch` applied after a write that left `bounds`, in the contract's
 * order: snapshot, compaction, entries, hard state. A batch that breaks the log's shape
 * (a gap, entries inside the snapshot) is a bug in the caller: it fails an assertion.
 */
export function planBatch(bounds: LogBounds, batch: PersistBatch): PlannedWrite {
  assert(bounds.snapshotIndex <= bounds.lastIndex, 'log bounds: snapshot index beyond last index');
  const ops: StorageOp[] = [];
  let { snapshotIndex, lastIndex } = bounds;

  if (batch.snapshot !== null) {
    deleteEntries(ops, snapshotIndex + 1, lastIndex);
    putSnapshot(ops, batch.snapshot);
    snapshotIndex = batch.snapshot.meta.index;
    lastIndex = snapshotIndex;
  }

  // An older compaction than the snapshot we hold (one just installed, say) covers nothing new.
  const compaction = batch.compaction;
  if (compaction !== null && compaction.meta.index > snapshotIndex) {
    deleteEntries(ops, snapshotIndex + 1, Math.min(compaction.meta.index, lastIndex));
    putSnapshot(ops, compaction);
    snapshotIndex = compaction.meta.index;
    lastIndex = Math.max(lastIndex, snapshotIndex);
  }

  const first = batch.entries[0];
  if (first !== undefined) {
    assert(first.index > snapshotIndex, () => `persist: entry ${first.index} is inside snapshot ${snapshotIndex}`);
    assert(first.index <= lastIndex + 1, () => `persist: entry ${first.index} leaves a gap after ${lastIndex}`);
    batch.entries.forEach((entry, offset) => {
      assert(entry.index === first.index + offset, () => `persist: batch entries not contiguous at ${entry.index}`);
    });
    const batchLastIndex = first.index + batch.entries.length - 1;
    // Stored entries the batch overwrites need no delete; the conflicting suffix beyond it does.
    deleteEntries(ops, batchLastIndex + 1, lastIndex);
    for (const entry of batch.entries) ops.push({ type: 'put', key: entryKey(entry.index), value: encodeEntry(entry) });
    lastIndex = batchLastIndex;
  }

  if (batch.hardState !== null) {
    ops.push({ type: 'put', key: HARD_STATE_KEY, value: encodeHardState(batch.hardState) });
  }
  return { ops, bounds: { snapshotIndex, lastIndex } };
}
