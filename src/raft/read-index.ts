/**
 * ReadIndex (Raft thesis §6.4): a leader serves a linearizable read by recording its commit
 * index, confirming with a heartbeat round that a majority still follows it, and releasing
 * the read once the state machine has applied up to that index. No log entry is written.
 *
 * Reads are batched into rounds: every read the leader takes between two Readies (its own
 * clients', and the requests of followers that arrived meanwhile) shares the one heartbeat
 * round ready() sends, instead of a round each. A read never joins a round already sent: its
 * heartbeats left before the read arrived, so an answer to them says nothing about leadership
 * at the time of that read. Rounds are not held back while others are in flight: a round trip
 * between processes takes milliseconds here, and reads waiting for one would cost more than
 * the messages they save (the node host keeps one round of its own outstanding instead:
 * src/node/read-rounds.ts).
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
}

/** The reads one heartbeat round confirms; `id` is the heartbeats' readContext. */
interface ReadRound {
  readonly id: string;
  readonly reads: PendingRead[];
  readonly acknowledged: Set<NodeId>;
  /** Its heartbeats have left: no read may join it any more. */
  sent: boolean;
}

export class ReadIndexTracker {
  /** The rounds sent and not yet confirmed, oldest first, then at most one gathering reads. */
  private readonly rounds: ReadRound[] = [];
  private readCount = 0;
  private roundsStarted = 0;

  constructor(private readonly maxPending: number) {}

  /** Reads waiting, in every round. */
  get size(): number {
    return this.readCount;
  }

  /** Whether a round gathers reads that the next ready() must send. */
  get gathering(): boolean {
    return this.rounds[this.rounds.length - 1]?.sent === false;
  }

  /**
   * Queues a read in the round gathering reads (opening one if needed); returns false when the
   * queue is full (the caller reports overload). The round is sent by the next ready().
   */
  add(read: PendingRead, self: NodeId): boolean {
    if (this.readCount >= this.maxPending) return false;
    let gathering = this.rounds[this.rounds.length - 1];
    if (gathering === undefined || gathering.sent) {
      // Round ids are unique for this process's life; a leader that restarts leads again only
      // in a later term, and answers from an earlier term never reach acknowledge().
      gathering = { id: `read/${this.roundsStarted++}`, reads: [], acknowledged: new Set([self]), sent: false };
      this.rounds.push(gathering);
    }
    gathering.reads.push(read);
    this.readCount++;
    return true;
  }

  /** The round gathering reads, marked sent: ready() broadcasts it. Null when none gathers. */
  takeRoundToSend(): string | null {
    const gathering = this.rounds[this.rounds.length - 1];
    if (gathering === undefined || gathering.sent) return null;
    gathering.sent = true;
    return gathering.id;
  }

  /**
   * The context a periodic heartbeat carries: the newest round sent (its heartbeats or their
   * answers may have been lost; confirming it confirms every earlier one too), else ''. A round
   * still gathering waits for ready().
   */
  contextForHeartbeat(): string {
    return this.rounds.findLast((round) => round.sent)?.id ?? '';
  }

  /**
   * Records `from` acknowledging the round `id`; returns the reads now confirmed by a quorum
   * (that round's and every earlier round's), removed in order.
   */
  acknowledge(id: string, from: NodeId, isQuorum: (acks: ReadonlySet<NodeId>) => boolean): PendingRead[] {
    const position = this.rounds.findIndex((round) => round.id === id);
    const round = this.rounds[position];
    if (round === undefined || !round.sent) return [];
    round.acknowledged.add(from);
    if (!isQuorum(round.acknowledged)) return [];
    const confirmed = this.rounds.splice(0, position + 1).flatMap((done) => done.reads);
    this.readCount -= confirmed.length;
    return confirmed;
  }

  /** Drops every pending read (leadership lost); returns them so callers can be told. */
  drain(): PendingRead[] {
    const all = this.rounds.splice(0, this.rounds.length).flatMap((round) => round.reads);
    this.readCount = 0;
    return all;
  }
}
