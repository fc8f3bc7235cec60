/**
 * Proposals waiting for the entry at their index to apply. Usually one per index; more when a
 * forwarded proposal was placed at an index where one of ours from an older term still waits
 * (either entry may yet commit there).
 */
import type { LogIndex, Term } from '../raft/types.ts';
import type { ProposalOutcome } from './host-types.ts';

/** A proposal waiting for its entry to apply: a command (with its result) or a config change. */
export interface PendingProposal<Result> {
  readonly term: Term;
  /** Called once: with what applied at the proposal's index in its term, or the failure. */
  readonly settle: (outcome: ProposalOutcome<Result | null>) => void;
}

export type SettleProposal<Result> = PendingProposal<Result>['settle'];

/** What takeAt() returns where nothing waits: one shared empty list, no allocation per entry. */
const NONE: readonly never[] = [];

export class PendingProposals<Result> {
  private readonly byIndex = new Map<LogIndex, PendingProposal<Result>[]>();
  private count = 0;

  /** How many proposals wait (the node refuses more beyond its bound). */
  get size(): number {
    return this.count;
  }

  add(index: LogIndex, pending: PendingProposal<Result>): void {
    const waiting = this.byIndex.get(index);
    if (waiting === undefined) this.byIndex.set(index, [pending]);
    else waiting.push(pending);
    this.count++;
  }

  /** The proposals waiting at `index`, which wait no longer. */
  takeAt(index: LogIndex): readonly PendingProposal<Result>[] {
    const waiting = this.byIndex.get(index);
    if (waiting === undefined) return NONE;
    this.byIndex.delete(index);
    this.count -= waiting.length;
    return waiting;
  }

  /** The proposals waiting at `index` or below (a snapshot covers them), which wait no longer. */
  takeThrough(index: LogIndex): PendingProposal<Result>[] {
    const taken: PendingProposal<Result>[] = [];
    for (const proposalIndex of this.byIndex.keys()) {
      if (proposalIndex <= index) taken.push(...this.takeAt(proposalIndex));
    }
    return taken;
  }

  /** Every waiting proposal, which waits no longer. */
  takeAll(): PendingProposal<Result>[] {
    const taken = [...this.byIndex.values()].flat();
    this.byIndex.clear();
    this.count = 0;
    return taken;
  }
}
