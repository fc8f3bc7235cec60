/**
 * Raft's safety properties (Figure 3 of the paper), checked from outside the nodes while the
 * simulation runs:
 * - election safety: at most one leader per term;
 * - leader append-only: a leader never truncates or rewrites its own log;
 * - log matching: two logs holding an entry with the same index and term agree before it;
 * - leader completeness: a new leader holds every entry committed in an earlier term (a late
 *   leader of an old term — a candidate whose votes arrived late — need not hold entries
 *   committed in later terms);
 * - state machine safety: no two nodes apply different entries at one index — which, since
 *   a committed entry is applied by someone, also catches a committed entry lost to a crash;
 * - decisions by quorum, across membership changes: a leader won the votes of a majority of
 *   the voters in its configuration, and an entry it counted as committed was then durable on
 *   a majority of the voters of the configuration it counted with.
 */
import { majority } from '../../../src/raft/quorum.ts';
import type { Entry, LogIndex, NodeId, Term } from '../../../src/raft/types.ts';
import type { RaftNode } from '../../../src/raft/raft-node.ts';

/** A committed entry as first applied anywhere. */
interface AppliedEntry {
  readonly term: Term;
  readonly type: Entry['type'];
  readonly data: string;
  readonly firstAppliedBy: NodeId;
  /**
   * An upper bound on the term in which the entry was committed: the lowest current term of
   * any node when it applied the entry (it learned the commit from a leader of that term or
   * an earlier one). Sound for leader completeness: commitTermBound < T implies the entry
   * was committed before term T.
   */
  commitTermBound: Term;
}

const decoder = new TextDecoder();

function entryKey(entry: Entry): string {
  return decoder.decode(entry.data);
}

export class RaftInvariantChecker {
  readonly violations: string[] = [];
  private readonly leaderOfTerm = new Map<Term, NodeId>();
  private readonly applied = new Map<LogIndex, AppliedEntry>();
  /** Per current leader: the last entry we saw in its log, to verify it never changes. */
  private readonly leaderTail = new Map<NodeId, { term: Term; index: LogIndex; entry: Entry | undefined }>();
  /** Votes granted, by term and candidate (a granted vote is durable before it is sent). */
  private readonly grants = new Map<Term, Map<NodeId, Set<NodeId>>>();

  private fail(message: string): void {
    if (this.violations.length < 20) this.violations.push(message);
  }

  /** A node has just become leader of `term`. */
  onLeaderElected(id: NodeId, raft: RaftNode): void {
    const term = raft.currentTerm;
    const previous = this.leaderOfTerm.get(term);
    if (previous !== undefined && previous !== id) {
      this.fail(`election safety: ${previous} and ${id} both led term ${term}`);
    }
    this.leaderOfTerm.set(term, id);
    this.checkLeaderCompleteness(id, raft);
    this.checkElectionQuorum(id, raft);
  }

  /** `voter` sent a granted vote to `candidate` for `term`. */
  onVoteGranted(voter: NodeId, candidate: NodeId, term: Term): void {
    let byCandidate = this.grants.get(term);
    if (byCandidate === undefined) this.grants.set(term, (byCandidate = new Map()));
    let voters = byCandidate.get(candidate);
    if (voters === undefined) byCandidate.set(candidate, (voters = new Set()));
    voters.add(voter);
  }

  private checkElectionQuorum(id: NodeId, raft: RaftNode): void {
    const granted = this.grants.get(raft.currentTerm)?.get(id) ?? new Set<NodeId>();
    const { voters } = raft.members;
    const votes = voters.filter((voter) => voter === id || granted.has(voter));
    if (votes.length < majority(voters.length)) {
      this.fail(
        `election quorum: ${id} leads term ${raft.currentTerm} with votes of [${votes.join(', ')}], ` +
          `not a majority of its voters [${voters.join(', ')}]`,
      );
    }
  }

  /**
   * Leader `id` has just counted its commit index up: that entry must be durable on a majority
   * of the voters it counted (its configuration now). `holds(member, index, term)` asks a disk.
   */
  onCommitDecided(id: NodeId, raft: RaftNode, holds: (member: NodeId, index: LogIndex, term: Term) => boolean): void {
    const index = raft.commitIndex;
    const term = raft.entryAt(index)?.term;
    if (term === undefined) return;
    const { voters } = raft.members;
    const holders = voters.filter((voter) => holds(voter, index, term));
    if (holders.length < majority(voters.length)) {
      this.fail(
        `commit quorum: ${id} (term ${raft.currentTerm}) counted ${index} committed, durable only on ` +
          `[${holders.join(', ')}] of voters [${voters.join(', ')}]`,
      );
    }
  }

  private checkLeaderCompleteness(id: NodeId, raft: RaftNode): void {
    for (const [index, committed] of this.applied) {
      if (index <= raft.snapshotIndex || committed.commitTermBound >= raft.currentTerm) continue;
      const entry = raft.entryAt(index);
      if (entry === undefined || entry.term !== committed.term || entryKey(entry) !== committed.data) {
        this.fail(
          `leader completeness: ${id} leads term ${raft.currentTerm} without committed entry ` +
            `${index} (term ${committed.term}); it holds ${entry === undefined ? 'nothing' : `term ${entry.term}`} there`,
        );
        return;
      }
    }
  }

  /** `id`, now in `currentTerm`, applied `entry`: it must equal what anyone else applied there. */
  onApplied(id: NodeId, currentTerm: Term, entry: Entry): void {
    const data = entryKey(entry);
    const first = this.applied.get(entry.index);
    if (first === undefined) {
      const record = { term: entry.term, type: entry.type, data, firstAppliedBy: id, commitTermBound: currentTerm };
      this.applied.set(entry.index, record);
      return;
    }
    first.commitTermBound = Math.min(first.commitTermBound, currentTerm);
    if (first.term !== entry.term || first.data !== data || first.type !== entry.type) {
      this.fail(
        `state machine safety: at index ${entry.index} ${first.firstAppliedBy} applied term ${first.term} ` +
          `${JSON.stringify(first.data)} but ${id} applied term ${entry.term} ${JSON.stringify(data)}`,
      );
    }
  }

  /** After every event: leaders' logs only grow. */
  checkLeadersAppendOnly(nodes: readonly { id: NodeId; raft: RaftNode; up: boolean }[]): void {
    for (const node of nodes) {
      const tail = this.leaderTail.get(node.id);
      if (!node.up || node.raft.currentRole !== 'leader') {
        this.leaderTail.delete(node.id);
        continue;
      }
      const term = node.raft.currentTerm;
      if (tail !== undefined && tail.term === term && tail.index > node.raft.snapshotIndex) {
        const now = node.raft.entryAt(tail.index);
        if (now !== tail.entry) {
          this.fail(`leader append-only: leader ${node.id} of term ${term} changed its entry ${tail.index}`);
        }
      }
      const index = node.raft.lastIndex;
      this.leaderTail.set(node.id, { term, index, entry: node.raft.entryAt(index) });
    }
  }

  /** Log matching across every pair of nodes (costly: run it now and then, and at the end). */
  checkLogMatching(nodes: readonly { id: NodeId; raft: RaftNode }[]): void {
    for (let a = 0; a < nodes.length; a++) {
      for (let b = a + 1; b < nodes.length; b++) {
        const left = nodes[a];
        const right = nodes[b];
        if (left === undefined || right === undefined) continue;
        this.checkPair(left.id, left.raft, right.id, right.raft);
      }
    }
  }

  private checkPair(leftId: NodeId, left: RaftNode, rightId: NodeId, right: RaftNode): void {
    const from = Math.max(left.snapshotIndex, right.snapshotIndex) + 1;
    let to = Math.min(left.lastIndex, right.lastIndex);
    // Find the highest index where both hold the same term; everything before must agree.
    while (to >= from && left.entryAt(to)?.term !== right.entryAt(to)?.term) to--;
    for (let index = to; index >= from; index--) {
      const l = left.entryAt(index);
      const r = right.entryAt(index);
      if (l === undefined || r === undefined) return;
      if (l.term !== r.term || entryKey(l) !== entryKey(r)) {
        this.fail(`log matching: ${leftId} and ${rightId} agree at ${to} but differ at ${index}`);
        return;
      }
    }
  }

  get committedCount(): number {
    return this.applied.size;
  }
}
