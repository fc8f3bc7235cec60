/**
 * The durable home of a node's Raft state: hard state, log entries and the latest snapshot.
 * One interface, three implementations: WalStorage (a write-ahead log of our own, the snapshot
 * in a file, LevelDB for the format version and the snapshot's metadata) for production; LevelStorage (the log as LevelDB keys: format 1, what WalStorage
 * migrates from); and MemoryStorage for tests and the simulator, whose crash loses unsynced
 * writes.
 *
 * persist() takes a callback rather than returning a promise so that the simulator can
 * complete writes in virtual time, deterministically, without awaiting the microtask queue.
 */
import type { Entry, HardState, PersistedState, Snapshot } from '../raft/types.ts';

/** One Ready's worth of writes, applied in this order and atomically (but see Storage.persist: one exception). */
export interface PersistBatch {
  /** A snapshot received from the leader: replaces the whole log. */
  readonly snapshot: Snapshot | null;
  /** Our own snapshot: entries up to its index are deleted. */
  readonly compaction: Snapshot | null;
  /** Appended entries; any stored entry at or after entries[0].index is dropped first. */
  readonly entries: readonly Entry[];
  readonly hardState: HardState | null;
  /** Whether the write must be on stable media (fsync) before `done` is called (WalStorage syncs every write). */
  readonly sync: boolean;
}

export interface Storage {
  /**
   * Everything durable, validated: checksums verified, entries contiguous after the snapshot.
   * Rejects with a StorageError (naming the data dir and, for a bad entry, its index) on
   * corruption, an unknown format version, or a data dir in use by another process.
   */
  load(): Promise<PersistedState>;
  /**
   * Writes one batch atomically, with one exception: WalStorage makes a batch's snapshot (an
   * install or a compaction) durable before the rest of the batch, so a crash in between loads
   * the earlier state with that snapshot applied (the entries after it kept only if the log held
   * its last entry with its term) but without the batch's entries and hard state (docs/storage.md,
   * "After a crash"). Safe for Raft: `done` was not called, so nothing in the batch was
   * acknowledged; a snapshot covers only committed entries; and RaftLog.fromStorage raises the
   * commit index to the snapshot's. At most one persist is outstanding at a time (the node's
   * WritePipeline guarantees it, src/node/write-pipeline.ts). `done(null)` once durable (once written when !sync);
   * `done(error)` on failure, after which the node must stop: a failed write is fatal.
   */
  persist(batch: PersistBatch, done: (error: Error | null) => void): void;
  close(): Promise<void>;
}

/**
 * One batch with the effect of writing `earlier` then `later`, or null when they cannot be one
 * (a snapshot or a compaction: each plans its deletions from the log as the batch finds it).
 * `later`'s entries replace any of `earlier`'s at or after its first index, as storage would.
 */
export function mergeBatches(earlier: PersistBatch, later: PersistBatch): PersistBatch | null {
  const plain = (batch: PersistBatch): boolean => batch.snapshot === null && batch.compaction === null;
  if (!plain(earlier) || !plain(later)) return null;
  const first = later.entries[0];
  const entries =
    first === undefined
      ? earlier.entries
      : [...earlier.entries.filter((entry) => entry.index < first.index), ...later.entries];
  return {
    snapshot: null,
    compaction: null,
    entries,
    hardState: later.hardState ?? earlier.hardState,
    sync: earlier.sync || later.sync,
  };
}
