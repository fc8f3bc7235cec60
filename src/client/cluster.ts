/**
 * The cluster itself: `concord.cluster.status()` (members, leader, term and indexes as the
 * answering node sees them) and `concord.cluster.transferLeader(to?)`. Membership changes
 * (add, promote, remove) are not here: the server answers them 501 not_implemented for now.
 */
import type { ClientCore } from './core.ts';
import { defined, type CallOptions, type WriteOptions } from './types.ts';

export interface ClusterMember {
  readonly id: string;
  readonly peerAddress: string;
  readonly clientUrl: string;
  /** False for a learner (it replicates but does not vote). */
  readonly voter: boolean;
}

export interface ClusterView {
  readonly clusterId: string;
  /** The node that answered. */
  readonly nodeId: string;
  /** '' while that node knows no leader. */
  readonly leaderId: string;
  readonly term: number;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly revision: number;
  readonly members: readonly ClusterMember[];
}

export interface LeaderTransfer {
  /** The member that leads now. */
  readonly leaderId: string;
  readonly term: number;
}

export class ClusterClient {
  constructor(private readonly core: ClientCore) {}

  /** This cluster as the answering node sees it (`GET /v1/cluster`, served by any node without a round to the leader). */
  async status(options: CallOptions = {}): Promise<ClusterView> {
    const answer = await this.core.call<ClusterView>({ method: 'GET', path: '/v1/cluster', serverDeadline: false, ...defined({ signal: options.signal, timeoutMs: options.timeoutMs }) });
    return answer.body;
  }

  /**
   * Hands leadership to voter `to` (default: a voter the leader picks) and answers once it has
   * moved. `not_found` if `to` is not a voter, `timeout` if it did not move within the deadline.
   * A retried call without `to` may move leadership once more, to another voter.
   */
  async transferLeader(to?: string, options: WriteOptions = {}): Promise<LeaderTransfer> {
    const answer = await this.core.call<LeaderTransfer>({
      method: 'POST',
      path: '/v1/cluster/transfer-leader',
      body: defined({ to }),
      ...defined({ signal: options.signal, timeoutMs: options.timeoutMs, idempotencyKey: options.idempotencyKey }),
    });
    return answer.body;
  }
}
