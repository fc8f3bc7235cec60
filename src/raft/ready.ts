/**
 * Ready: everything the driver must carry out for the core, in this order —
 *   0. send messagesBeforePersist at once (they promise nothing step 1 writes);
 *   1. persist hardState, entries (replacing any stored entries from entries[0].index on),
 *      snapshot and compaction in one write, synced when mustSync;
 *   2. send messages (never before step 1 is durable: they promise what it wrote);
 *   3. restore the state machine from `snapshot`, then apply committedEntries in order;
 *   4. serve readStates (safe now that step 3 is done); fail droppedReads;
 *   5. call advance(ready) once steps 1-4 are all done.
 * Steps 3 and 4 need not wait for step 1: committed entries are durable on a quorum already, and
 * the state machine is volatile (a crash rebuilds it from the durable snapshot and log). NodeHost
 * runs them before the write, so answers do not wait for the fsync of a batch they are not in.
 *
 * Nor need the next Ready wait for step 5 (etcd-io/raft's asynchronous storage writes): a node
 * may take Readies while earlier writes are in flight, so a leader keeps replicating and
 * applying during its own fsync. Each Ready then holds only what is new since the one before.
 * The rules that keep this safe: writes complete in the order their Readies were taken (a later
 * write may replace entries an earlier one wrote); a Ready's messages wait for its own write and
 * every earlier one; advance() takes the Readies in order. NodeHost keeps one write in flight and
 * merges the Readies queued behind it into the next (src/node/write-pipeline.ts).
 */
import type { RaftMessage } from './messages.ts';
import type { Entry, HardState, LogIndex, ReadState, Snapshot, SoftState } from './types.ts';

export interface Ready {
  /**
   * Present when term or vote changed, or when something else is written and the commit index
   * moved since a hard state was last written. A commit index alone is never written.
   */
  readonly hardState: HardState | null;
  /** Entries to append durably; storage first drops any stored entry at or after the first. */
  readonly entries: readonly Entry[];
  /** A snapshot received from the leader: persist it, replace the log, restore the state machine. */
  readonly snapshot: Snapshot | null;
  /** Our own snapshot from compact(): persist it and delete the log entries it covers. */
  readonly compaction: Snapshot | null;
  readonly messages: readonly RaftMessage[];
  /**
   * A leader's appends, heartbeats and snapshot chunks (Raft thesis §10.2.1: the leader writes
   * its log in parallel with replicating it). They carry entries the leader holds in memory, a
   * term that is already durable (it was persisted before the votes that made it leader were
   * asked for) and a commit index that counts the leader's own log only up to what its storage
   * acknowledged; so a leader crash before its write finishes loses nothing a quorum promised.
   * Sending them first takes the leader's fsync off the commit path: a write commits after
   * max(leader fsync, round trip + follower fsync) instead of their sum.
   */
  readonly messagesBeforePersist: readonly RaftMessage[];
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

/** The messages a node may send before its Ready's write is durable (see messagesBeforePersist). */
export function mayLeaveBeforePersist(message: RaftMessage): boolean {
  return message.type === 'append' || message.type === 'heartbeat' || message.type === 'snapshot';
}
