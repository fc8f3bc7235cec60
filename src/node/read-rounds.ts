/**
 * Linearizable reads waiting on ReadIndex (Raft thesis §6.4), batched, with one round
 * outstanding at a time (etcd's linearizableReadLoop does the same): reads that arrive while a
 * round is out gather, and the next round — one heartbeat round on the leader, or one request
 * to it from a follower — serves all of them. Every round costs messages to and from the
 * leader's followers, so under load this is what keeps their number down; at rest a read still
 * gets its round at the next pump.
 *
 * A round whose request or answer was lost would hold every later read back, so a round older
 * than `patienceMs` no longer counts: the next start() sends a new round carrying its reads too
 * (a later round confirms them as well as the first would have), and a late answer to the old
 * one finds nothing to release.
 */
import type { ReadIndexResult } from '../raft/raft-node.ts';
import type { NodeId } from '../raft/types.ts';
import type { FailureCode, ReadOutcome } from './host-types.ts';

export type ReadCallback = (outcome: ReadOutcome) => void;

/** What a round needs of the Raft node (RaftNode.readIndex, and whom to point a failure at). */
export interface ReadIndexSource {
  readonly id: NodeId;
  readonly leader: NodeId;
  readIndex(context: string): ReadIndexResult;
}

interface OutstandingRound {
  readonly context: string;
  readonly reads: ReadCallback[];
  readonly startedMs: number;
}

export class ReadRounds {
  /** Reads not yet given a round; the next start() gives them one together. */
  private waitingForRound: ReadCallback[] = [];
  private outstanding: OutstandingRound | null = null;
  private nextRound = 0;
  private count = 0;

  constructor(
    private readonly raft: ReadIndexSource,
    private readonly nowMs: () => number,
    private readonly patienceMs: number,
  ) {}

  /** Reads waiting, with or without a round. */
  get pending(): number {
    return this.count;
  }

  /** Whether reads wait for a round that start() could give them. */
  get waiting(): boolean {
    return this.waitingForRound.length > 0;
  }

  add(done: ReadCallback): void {
    this.count++;
    this.waitingForRound.push(done);
  }

  /**
   * Starts one round for every read that has none, unless a round is outstanding and not yet
   * overdue; refused at once if Raft refuses it.
   */
  start(): void {
    if (this.waitingForRound.length === 0) return;
    const now = this.nowMs();
    let reads = this.waitingForRound;
    if (this.outstanding !== null) {
      if (now - this.outstanding.startedMs < this.patienceMs) return;
      reads = [...this.outstanding.reads, ...reads];
      this.outstanding = null;
    }
    this.waitingForRound = [];
    const context = `${this.raft.id}/${this.nextRound++}`;
    const result = this.raft.readIndex(context);
    if (!result.ok) {
      this.fail(reads, result.reason === 'overloaded' ? 'overloaded' : 'not_leader');
      return;
    }
    this.outstanding = { context, reads, startedMs: now };
  }

  /** The round's index has applied (`appliedIndex` is at least it): release its reads. */
  finish(context: string, appliedIndex: number): void {
    const reads = this.take(context);
    this.count -= reads.length;
    for (const done of reads) done({ ok: true, appliedIndex });
  }

  /** Raft dropped the round (leadership changed before it was confirmed). */
  drop(context: string): void {
    this.fail(this.take(context), 'not_leader');
  }

  /** Fails every read, with or without a round (the host is stopping). */
  failAll(code: FailureCode): void {
    const all = [...(this.outstanding?.reads ?? []), ...this.waitingForRound];
    this.waitingForRound = [];
    this.outstanding = null;
    this.fail(all, code);
  }

  /** The outstanding round's reads if `context` is that round (an overdue one finds none). */
  private take(context: string): ReadCallback[] {
    if (this.outstanding?.context !== context) return [];
    const { reads } = this.outstanding;
    this.outstanding = null;
    return reads;
  }

  private fail(reads: readonly ReadCallback[], code: FailureCode): void {
    this.count -= reads.length;
    for (const done of reads) done({ ok: false, code, leaderHint: this.raft.leader });
  }
}
