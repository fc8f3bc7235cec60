/**
 * Ready: everything the driver must carry out for the core, in this order —
 *   1. persist hardState, entries (replacing any stored entries from entries[0].index on),
 *      snapshot and compaction in one write, synced when mustSync;
 *   2. send messages (never before step 1 is durable: they promise what it wrote);
 *   3. restore the state machine from `snapshot`, then apply committedEntries in order;
 *   4. serve readStates (safe now that step 3 is done); fail droppedReads;
 *   5. call advance(ready).
 */
import type { Message } from './messages.ts';
import type { Entry, HardState, LogIndex, ReadState, Snapshot, SoftState } from './types.ts';

export interface Ready {
  /** Present when term, vote or commit changed. */
  readonly hardState: HardState | null;
  /** Entries to append durably; storage first drops any stored entry at or after the first. */
  readonly entries: readonly Entry[];
  /** A snapshot received from the leader: persist it, replace the log, restore the state machine. */
  readonly snapshot: Snapshot | null;
  /** Our own snapshot from compact(): persist it and delete the log entries it covers. */
  readonly compaction: Snapshot | null;
  readonly messages: readonly Message[];
  readonly committedEntries: readonly Entry[];
  readonly readStates: readonly ReadState[];
  /** Contexts of local reads that cannot be served (leadership changed): fail them. */
  readonly droppedReads: readonly string[];
  readonly softState: SoftState;
  /** Whether the write in step 1 must be fsynced (term, vote, entries or snapshot changed). */
  readonly mustSync: boolean;
  /** The index the state machine reaches once this ready is applied. */
  readonly appliedThrough: LogIndex;
}
