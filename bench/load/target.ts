/**
 * The cluster a benchmark run drives: one given by `--endpoints` (any running cluster, driven
 * over HTTP only), or the local three-node cluster of test/cluster/harness.ts that the suite
 * starts itself (real `concord serve` processes on 127.0.0.11-13, data dirs under os.tmpdir()) and always
 * tears down. Only the local one has process ids (for CPU figures) and can be killed (failover).
 */
import { LocalCluster, waitFor } from '../../test/cluster/harness.ts';
import { originOf, type EndpointPools } from './pools.ts';

export interface ClusterTarget {
  readonly endpoints: readonly string[];
  /** True when the suite started the cluster (pids, kill and the data dirs are known). */
  readonly local: boolean;
  /** The process id of the node serving `endpoint`, null when the cluster is not local. */
  pidOf(endpoint: string): number | null;
  /** SIGKILLs the node serving `endpoint` (local clusters only). */
  kill(endpoint: string): Promise<void>;
  /** Starts a killed node again on its data dir and waits until the cluster agrees on a leader. */
  restart(endpoint: string): Promise<void>;
  close(): Promise<void>;
}

interface ClusterView {
  readonly nodeId?: unknown;
  readonly leaderId?: unknown;
}

/**
 * The endpoint of the leader: every endpoint that answers is asked for /v1/cluster, and the
 * endpoint whose nodeId is the leaderId they agree on wins. Waits (bounded) through elections.
 */
export async function findLeader(pools: EndpointPools, endpoints: readonly string[], timeoutMs = 30_000): Promise<string> {
  return waitFor('an agreed leader among the endpoints', timeoutMs, async () => {
    const views = await Promise.all(endpoints.map(async (endpoint) => {
      try {
        const answer = await pools.send(endpoint, { method: 'GET', path: '/v1/cluster' });
        return answer.status === 200 ? { endpoint, view: JSON.parse(answer.text) as ClusterView } : null;
      } catch {
        return null;
      }
    }));
    const answered = views.filter((entry) => entry !== null);
    const leaders = new Set(answered.map((entry) => entry.view.leaderId));
    if (leaders.size !== 1) return undefined;
    const [leaderId] = [...leaders];
    if (typeof leaderId !== 'string' || leaderId === '') return undefined;
    const leader = answered.find((entry) => entry.view.nodeId === leaderId)?.endpoint;
    // Leader-only workloads need the leader's own endpoint; a follower would forward and add a hop.
    if (leader === undefined && answered.length === endpoints.length) throw new Error(`the leader ${leaderId} is not among the endpoints ${endpoints.join(',')}`);
    return leader;
  }, 100);
}

/** A cluster somebody else runs, reached through `endpoints`. */
export function remoteTarget(endpoints: readonly string[]): ClusterTarget {
  const origins = endpoints.map(originOf);
  if (new Set(origins).size !== origins.length) throw new Error(`--endpoints lists an endpoint twice: ${endpoints.join(',')}`);
  return {
    endpoints: origins,
    local: false,
    pidOf: () => null,
    kill: async () => {
      throw new Error('cannot kill a node of a cluster the suite did not start');
    },
    restart: async () => {
      throw new Error('cannot restart a node of a cluster the suite did not start');
    },
    close: async () => undefined,
  };
}

/** Starts three `concord serve` processes on loopback and waits for a leader. */
export async function startLocalTarget(progress: (line: string) => void): Promise<ClusterTarget> {
  const cluster = await LocalCluster.create({ extraArgs: ['--log-level', 'warn'] });
  try {
    progress(`cluster: starting three concord serve processes in ${cluster.root}`);
    cluster.startAll();
    const leader = await cluster.waitLeader(60_000);
    progress(`cluster: ready, leader ${leader} (${cluster.ids.map((id) => `${id} ${cluster.url(id)}`).join(', ')})`);
  } catch (error) {
    await cluster.destroy();
    throw error;
  }
  const idOf = new Map(cluster.ids.map((id) => [cluster.url(id), id]));
  const nodeId = (endpoint: string): string => {
    const id = idOf.get(originOf(endpoint));
    if (id === undefined) throw new Error(`${endpoint} is not a node of the local cluster`);
    return id;
  };
  return {
    endpoints: cluster.ids.map((id) => cluster.url(id)),
    local: true,
    pidOf: (endpoint) => cluster.node(nodeId(endpoint)).child?.pid ?? null,
    kill: async (endpoint) => {
      await cluster.stop(nodeId(endpoint), 'SIGKILL');
    },
    restart: async (endpoint) => {
      cluster.start(nodeId(endpoint));
      await cluster.waitLeader(60_000);
    },
    close: () => cluster.destroy(),
  };
}
