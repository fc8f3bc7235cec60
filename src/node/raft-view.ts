/**
 * Read-only questions about a running node's Raft state that the server and the process ask:
 * the term of an applied index (a backup names the point it was taken at) and the voter a
 * leader should hand leadership to. They read the Raft core's state without changing it; the
 * core itself stays free of these policies.
 */
import type { RaftNode } from '../raft/raft-node.ts';
import type { LogIndex, NodeId, Term } from '../raft/types.ts';

/**
 * The term of the entry at `index`, which must be applied and not before the last compaction
 * (true of the index a read barrier reports: compaction never passes what has been applied).
 */
export function termAt(raft: RaftNode, index: LogIndex): Term {
  if (index === 0) return 0;
  const term = raft.log.term(index);
  if (term === undefined) throw new Error(`no term known at index ${index} (snapshot at ${raft.snapshotIndex})`);
  return term;
}

/**
 * The voter other than this leader best placed to lead next: one that answered within the
 * current check-quorum period first, then the longest matching log (a transfer to it needs the
 * least catching up, so it completes soonest), then the lowest id, so the choice is stable.
 * Null when this node does not lead or no other voter exists.
 */
export function mostCaughtUpVoter(raft: RaftNode): NodeId | null {
  if (raft.currentRole !== 'leader') return null;
  const candidates = raft.members.voters
    .filter((id) => id !== raft.id)
    .map((id) => {
      const progress = raft.progress.get(id);
      return { id, active: progress?.recentActive === true, match: progress?.match ?? 0 };
    });
  candidates.sort((a, b) => Number(b.active) - Number(a.active) || b.match - a.match || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return candidates[0]?.id ?? null;
}
