/**
 * Linearizable reads waiting on ReadIndex (Raft thesis §6.4), batched: every read that arrives
 * before the host's next pump shares one round — one heartbeat round on the leader, or one
 * request to it from a follower — and all of them are released together once the state machine
 * has applied the round's index.
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

export class ReadRounds {
  /** Reads not yet given a round; the next start() gives them one together. */
  private waitingForRound: ReadCallback[] = [];
  /** Rounds asked for and not yet answered, by their context. */
  private readonly rounds = new Map<string, ReadCallback[]>();
  private nextRound = 0;
  private count = 0;

  constructor(private readonly raft: ReadIndexSource) {}

  /** Reads waiting, with or without a round. */
  get pending(): number {
    return this.count;
  }

  add(done: ReadCallback): void {
    this.count++;
    this.waitingForRound.push(done);
  }

  /** Starts one round for every read that has none; refused at once if Raft refuses it. */
  start(): void {
    if (this.waitingForRound.length === 0) return;
    const waiting = this.waitingForRound;
    this.waitingForRound = [];
    const context = `${this.raft.id}/${this.nextRound++}`;
    const result = this.raft.readIndex(context);
    if (!result.ok) {
      this.fail(waiting, result.reason === 'overloaded' ? 'overloaded' : 'not_leader');
      return;
    }
    this.rounds.set(context, waiting);
  }

  /** The round's index has applied (`appliedIndex` is at least it): release its reads. */
  finish(context: string, appliedIndex: number): void {
    const waiting = this.take(context);
    this.count -= waiting.length;
    for (const done of waiting) done({ ok: true, appliedIndex });
  }

  /** Raft dropped the round (leadership changed before it was confirmed). */
  drop(context: string): void {
    this.fail(this.take(context), 'not_leader');
  }

  /** Fails every read, with or without a round (the host is stopping). */
  failAll(code: FailureCode): void {
    const all = [...this.waitingForRound, ...[...this.rounds.values()].flat()];
    this.waitingForRound = [];
    this.rounds.clear();
    this.fail(all, code);
  }

  private take(context: string): ReadCallback[] {
    const waiting = this.rounds.get(context) ?? [];
    this.rounds.delete(context);
    return waiting;
  }

  private fail(waiting: readonly ReadCallback[], code: FailureCode): void {
    this.count -= waiting.length;
    for (const done of waiting) done({ ok: false, code, leaderHint: this.raft.leader });
  }
}
