/**
 * The leader's view of one follower's replication, as in etcd-io/raft's tracker:
 * - probe: we do not know where the follower's log matches ours; one append at a time.
 * - replicate: appends stream optimistically, bounded by an in-flight window.
 * - snapshot: the follower is behind our compacted log; a snapshot transfer is under way.
 */
import { assert } from '../common/assert.ts';
import type { LogIndex } from './types.ts';

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

export class Progress {
  /** Highest index known to match the leader's log. Invariant: match < next. */
  match: LogIndex = 0;
  /** Next index to send. */
  next: LogIndex;
  state: ProgressState = 'probe';
  /** In probe state: an append is outstanding, wait for its answer or the next heartbeat. */
  probeSent = false;
  /** Last indexes of appends sent and not yet acknowledged (replicate state), oldest first. */
  private readonly inflight: LogIndex[] = [];
  /** Heard from within the current check-quorum period (one election timeout). */
  recentActive = false;
  /** Heard from within the period before it. */
  private activeInPreviousPeriod = false;
  /** Snapshot transfer: the snapshot's index and the next byte offset to send. */
  snapshotIndex: LogIndex = 0;
  snapshotOffset = 0;
  /** Ticks since the current snapshot chunk was sent (to resend a lost one). */
  snapshotChunkAgeTicks = 0;

  constructor(
    next: LogIndex,
    private readonly maxInflight: number,
  ) {
    this.next = next;
  }

  /** A new check-quorum period begins: what we heard so far becomes the previous period's. */
  startActivityPeriod(): void {
    this.activeInPreviousPeriod = this.recentActive;
    this.recentActive = false;
  }

  /** Heard from within the last one to two election timeouts: counted live for membership checks. */
  recentlyHeard(): boolean {
    return this.recentActive || this.activeInPreviousPeriod;
  }

  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent;
      case 'replicate':
        return this.inflight.length >= this.maxInflight;
      case 'snapshot':
        return true;
    }
  }

  becomeProbe(): void {
    this.state = 'probe';
    this.probeSent = false;
    this.inflight.length = 0;
    this.next = this.match + 1;
  }

  becomeReplicate(): void {
    this.state = 'replicate';
    this.probeSent = false;
    this.inflight.length = 0;
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: LogIndex): void {
    this.state = 'snapshot';
    this.probeSent = false;
    this.inflight.length = 0;
    this.snapshotIndex = snapshotIndex;
    this.snapshotOffset = 0;
    this.snapshotChunkAgeTicks = 0;
  }

  /** Records an append sent covering up to `lastIndex` (may be the empty probe). */
  sentAppend(lastIndex: LogIndex, entryCount: number): void {
    if (this.state === 'replicate') {
      if (entryCount > 0) {
        this.next = lastIndex + 1;
        this.inflight.push(lastIndex);
      }
    } else {
      this.probeSent = true;
    }
  }

  /** An acknowledgement up to `index`; returns false when it tells us nothing new. */
  maybeUpdate(index: LogIndex): boolean {
    let updated = false;
    if (index > this.match) {
      this.match = index;
      this.probeSent = false;
      updated = true;
    }
    this.next = Math.max(this.next, index + 1);
    while (this.inflight.length > 0 && (this.inflight[0] ?? 0) <= index) this.inflight.shift();
    return updated;
  }

  /**
   * A rejection of the append probing at `rejectedIndex`, with the index the follower hinted.
   * Returns false when the rejection is stale (answers an append we already moved past).
   */
  maybeDecrease(rejectedIndex: LogIndex, hintNext: LogIndex): boolean {
    if (this.state === 'replicate') {
      if (rejectedIndex <= this.match) return false;
      this.becomeProbe();
      this.next = Math.max(this.match + 1, Math.min(hintNext, rejectedIndex));
      return true;
    }
    if (this.next - 1 !== rejectedIndex) return false;
    this.next = Math.max(this.match + 1, Math.min(hintNext, rejectedIndex));
    this.probeSent = false;
    return true;
  }

  /** A heartbeat answer: a probe may go again; a full window frees its oldest slot. */
  onHeartbeatResponse(): void {
    this.probeSent = false;
    if (this.state === 'replicate' && this.inflight.length >= this.maxInflight) this.inflight.shift();
  }

  checkInvariants(): void {
    assert(this.match < this.next, () => `progress: match ${this.match} not below next ${this.next}`);
    assert(this.inflight.length <= this.maxInflight, 'progress: in-flight window overflow');
  }
}
