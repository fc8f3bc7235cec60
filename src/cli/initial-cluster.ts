/**
 * The Raft configuration a cluster starts with, from `--initial-cluster`: every member listed
 * is a voter. One function, used both to bootstrap a new data dir (`concord serve`) and to seed
 * a restored one (`concord snapshot restore`), so the two cannot drift when the configuration
 * grows fields.
 */
import type { ClusterConfig, NodeId } from '../raft/types.ts';
import type { HostPort } from './serve-options.ts';

export function initialClusterConfig(initialCluster: ReadonlyMap<NodeId, HostPort>): ClusterConfig {
  return { voters: [...initialCluster.keys()], learners: [] };
}
