/**
 * The cluster itself: `concord.cluster.status()` (members, leader, term and indexes as the
 * answering node sees them), `concord.cluster.transferLeader(to?)`, and membership changes,
 * one server at a time (docs/membership.md): `addMember` (a learner, promoted once caught up
 * unless `learner: true`), `promoteMember`, `removeMember` (the leader too).
 *
 * An add or promote names the configuration it wants, so retrying one that already took effect
 * succeeds (a retried remove does not: see removeMember). Refusals are ConcordErrors whose `details.reason` (also `membershipRefusal(error)`)
 * says why: `invalid_argument` (already_member, not_learner, would_lose_quorum, last_voter),
 * `not_found` (not_member), or — when the deadline passed while the cluster was busy —
 * `unavailable` (change_pending, learner_behind, transferring).
 */
import type { ClientCore } from './core.ts';
import type { ConcordError } from './errors.ts';
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

/** What a new member is: its id (as its --id) and where it is reached. */
export interface NewMember {
  readonly id: string;
  /** host:port other members dial (its --advertise-peer, else --listen-peer). */
  readonly peerAddress: string;
  /** Its client URL (its --advertise-client); '' when unknown. */
  readonly clientUrl: string;
  /** Stay a learner (replicates, does not vote) instead of being promoted once caught up. */
  readonly learner?: boolean;
}

/** The answer of addMember and promoteMember: the member as it is now, and every member. */
export interface MemberChange {
  readonly member: ClusterMember;
  readonly members: readonly ClusterMember[];
}

/** The answer of removeMember: the members left. */
export interface MemberRemoval {
  readonly members: readonly ClusterMember[];
}

/** Why a membership change was refused: the server's `reason` detail. */
export type MembershipRefusal =
  | 'already_member'
  | 'not_learner'
  | 'would_lose_quorum'
  | 'last_voter'
  | 'not_member'
  | 'change_pending'
  | 'learner_behind'
  | 'transferring';

/** The refusal a ConcordError from a membership call carries (`details.reason`), if any. */
export function membershipRefusal(error: ConcordError): MembershipRefusal | undefined {
  const reason = error.details['reason'];
  return typeof reason === 'string' ? (reason as MembershipRefusal) : undefined;
}

/** A 503 that says which transient condition outlasted the deadline: report it, not a bare timeout. */
const isBusyRefusal = (error: ConcordError): boolean => error.code === 'unavailable' && typeof error.details['reason'] === 'string';

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

  /**
   * Adds a member: first as a learner, which receives the log (or a snapshot) but does not
   * vote, then — unless `learner: true` — promoted to voter once it has caught up. Answers once
   * the configuration is as asked; a call for a member that is already there in that role
   * succeeds without another change. Start the new node first (`concord serve` with no
   * configuration, or `--join`, which makes this call itself).
   *
   * A learner with much to catch up needs a longer `timeoutMs` than the default. Refusals:
   * `invalid_argument` (`already_member`: a member with the other role), `unavailable`
   * (`learner_behind`, `change_pending`, `transferring`: the deadline passed while waiting; the
   * learner may have been added already, and calling again goes on from there).
   */
  async addMember(member: NewMember, options: WriteOptions = {}): Promise<MemberChange> {
    const answer = await this.core.call<MemberChange>({
      method: 'POST',
      path: '/v1/cluster/members',
      body: defined({ id: member.id, peerAddress: member.peerAddress, clientUrl: member.clientUrl, learner: member.learner }),
      ...this.membershipOptions(options),
    });
    return answer.body;
  }

  /**
   * Makes learner `id` a voter once it has caught up with the log. A voter already is one:
   * answered at once. `not_found` (reason `not_member`) if `id` is not a member,
   * `unavailable` (`learner_behind`, ...) if the deadline passed first.
   */
  async promoteMember(id: string, options: WriteOptions = {}): Promise<MemberChange> {
    const answer = await this.core.call<MemberChange>({
      method: 'POST',
      path: `/v1/cluster/members/${encodeURIComponent(id)}/promote`,
      ...this.membershipOptions(options),
    });
    return answer.body;
  }

  /**
   * Removes voter or learner `id` — the leader too: it keeps leading until the change commits,
   * then steps down and the others elect a new one. Answers with the members left. Refusals:
   * `not_found` (`not_member` — also when an earlier attempt of this very call removed it and
   * its answer was lost: the server does not tell the two apart), `invalid_argument` with `would_lose_quorum` (too few voters left that the leader has heard
   * from recently: remove the dead ones first) or `last_voter`.
   */
  async removeMember(id: string, options: WriteOptions = {}): Promise<MemberRemoval> {
    const answer = await this.core.call<MemberRemoval>({
      method: 'DELETE',
      path: `/v1/cluster/members/${encodeURIComponent(id)}`,
      ...this.membershipOptions(options),
    });
    return answer.body;
  }

  private membershipOptions(options: WriteOptions): { signal?: AbortSignal; timeoutMs?: number; idempotencyKey?: string; refusalAtDeadline: (error: ConcordError) => boolean } {
    return { refusalAtDeadline: isBusyRefusal, ...defined({ signal: options.signal, timeoutMs: options.timeoutMs, idempotencyKey: options.idempotencyKey }) };
  }
}
