/**
 * Majority arithmetic over a set of voters. Kept apart from the node so that joint consensus
 * (two voter sets, each needing its own majority) can reuse it unchanged.
 */
import type { LogIndex, NodeId } from './types.ts';

/** Votes needed for a majority of `voterCount`. */
export function majority(voterCount: number): number {
  return Math.floor(voterCount / 2) + 1;
}

/** The highest index that a majority of `voters` has matched. */
export function committedIndex(voters: readonly NodeId[], matchOf: (id: NodeId) => LogIndex): LogIndex {
  if (voters.length === 0) return 0;
  const matches = voters.map(matchOf).sort((a, b) => b - a);
  return matches[majority(voters.length) - 1] ?? 0;
}

export type VoteOutcome = 'won' | 'lost' | 'pending';

/** Tallies votes: won with a majority of grants, lost once a majority can no longer be reached. */
export function voteOutcome(voters: readonly NodeId[], votes: ReadonlyMap<NodeId, boolean>): VoteOutcome {
  let granted = 0;
  let rejected = 0;
  for (const voter of voters) {
    const vote = votes.get(voter);
    if (vote === true) granted++;
    else if (vote === false) rejected++;
  }
  const needed = majority(voters.length);
  if (granted >= needed) return 'won';
  if (rejected > voters.length - needed) return 'lost';
  return 'pending';
}

/** Whether the members in `acknowledged` form a majority of `voters`. */
export function hasQuorum(voters: readonly NodeId[], acknowledged: (id: NodeId) => boolean): boolean {
  let count = 0;
  for (const voter of voters) if (acknowledged(voter)) count++;
  return count >= majority(voters.length);
}
