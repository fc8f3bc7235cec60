/**
 * Which members a node keeps connections to:
 * - the members of its configuration;
 * - until a change that removed some commits, the ones it removed: a leader that removed itself
 *   still counts our acknowledgements to commit that change (without them it can only wait for
 *   CheckQuorum to depose it, and the client's request times out);
 * - the leader it follows, even if its own configuration does not list it: a node that lagged
 *   behind a removal and a re-add has an old configuration until the leader's appends reach it,
 *   and it must answer them (simulator seed 16 found a learner that could never catch up);
 * - outside any configuration (started with --join, not added yet), the members it was told of.
 *
 * One pure function, used by `concord serve` for its TCP transport and by the simulator's
 * network, so the simulator checks the policy production runs.
 */
import type { ClusterConfig, NodeId } from '../raft/types.ts';

export function nextPeerIds(
  self: NodeId,
  config: ClusterConfig,
  committed: boolean,
  current: ReadonlySet<NodeId>,
  whenUnconfigured: readonly NodeId[],
  leader: NodeId,
): Set<NodeId> {
  const members = [...config.voters, ...config.learners];
  const next = new Set(members.length === 0 ? whenUnconfigured : members);
  if (!committed) for (const id of current) next.add(id);
  if (leader !== '') next.add(leader);
  next.delete(self);
  return next;
}
