/**
 * ReadIndex (Raft thesis §6.4): a leader serves a linearizable read by recording its commit
 * index, confirming with a heartbeat round that a majority still follows it, and releasing
 * the read once the state machine has applied up to that index. No log entry is written.
 *
 * Rounds are acknowledged in order: a quorum acknowledging a later round's heartbeat also
 * confirms every earlier round, so all of them are released together.
 */
import type { LogIndex, NodeId } from './types.ts';

/** A read waiting for its heartbeat round. `requester` is the node whose client asked. */
export interface PendingRead {
  readonly context: string;
  readonly index: LogIndex;
  readonly requester: NodeId;
  readonly acknowledged: Set<NodeId>;
}

export class ReadIndexTracker {
  private readonly queue: PendingRead[] = [];

  constructor(private readonly maxPending: number) {}

  get size(): number {
    return this.queue.length;
  }

  /** Starts a round; returns false when the queue is full (the caller reports overload). */
  add(context: string, index: LogIndex, requester: NodeId, self: NodeId): boolean {
    if (this.queue.length >= this.maxPending) return false;
    this.queue.push({ context, index, requester, acknowledged: new Set([self]) });
    return true;
  }

  /** The newest round's context, sent with heartbeats ('' when none is pending). */
  latestContext(): string {
    return this.queue[this.queue.length - 1]?.context ?? '';
  }

  /**
   * Records `from` acknowledging the round `context`; returns the rounds now confirmed by a
   * quorum (that one and every earlier one), removed from the queue in order.
   */
  acknowledge(context: string, from: NodeId, isQuorum: (acks: ReadonlySet<NodeId>) => boolean): PendingRead[] {
    const position = this.queue.findIndex((read) => read.context === context);
    if (position < 0) return [];
    const read = this.queue[position];
    if (read === undefined) return [];
    read.acknowledged.add(from);
    if (!isQuorum(read.acknowledged)) return [];
    return this.queue.splice(0, position + 1);
  }

  /** Drops every pending round (leadership lost); returns them so callers can be told. */
  drain(): PendingRead[] {
    return this.queue.splice(0, this.queue.length);
  }
}
