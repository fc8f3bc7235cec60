/**
 * The Raft configuration a cluster starts with, from `--initial-cluster`: every member listed
 * is a voter. One function, used both to bootstrap a new data dir (`concord serve`) and to seed
 * a restored one (`concord snapshot restore`), so the two cannot drift when the configuration
 * grows fields.
 */
import type { ClusterConfig, MemberEndpoints, NodeId } from '../raft/types.ts';
import { formatHostPort } from './member-directory.ts';
import type { HostPort } from './serve-options.ts';

/**
 * Every member listed is a voter, and its peer address travels with the configuration, so a
 * node that joins later learns where every member is from the replicated configuration itself.
 * Client URLs are not in --initial-cluster: peers learn them from each other's handshakes.
 */
export function initialClusterConfig(initialCluster: ReadonlyMap<NodeId, HostPort>): ClusterConfig {
  const endpoints: Record<NodeId, MemberEndpoints> = {};
  for (const [id, address] of initialCluster) endpoints[id] = { peerAddress: formatHostPort(address), clientUrl: '' };
  return { voters: [...initialCluster.keys()], learners: [], endpoints };
}
