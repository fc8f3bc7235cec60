/**
 * The promise layer over the callback KvNode: one proposal attempt with a deadline, and a
 * linearizable read barrier. It never forwards; it says where the leader is and the leader
 * router (leader-router.ts) decides what to do with that.
 *
 * Retrying is only safe when a write certainly did not apply, or when it carries an idempotency
 * key (the replicated dedup table then returns the first outcome): `retry` is answered only then.
 */
import { ConcordError } from '../common/errors.ts';
import type { KvApplyOutcome, KvCommandBody } from '../kv/index.ts';
import type { ForwardedKeepaliveOutcome } from '../node/keepalive-forwarding.ts';
import type { KvNode } from '../node/kv-node.ts';
import type { ProposalOutcome, ReadOutcome } from '../node/host-types.ts';
import type { LogIndex } from '../raft/types.ts';
import { sleepWithin, untilDeadline, type Deadline } from './deadline.ts';
import type { ConcordMetrics } from './metrics.ts';

/** The result of one attempt at something only the leader can do. */
export type LeaderAttempt<T> =
  | { readonly kind: 'done'; readonly value: T }
  /** Another node leads: forward there. */
  | { readonly kind: 'leader-elsewhere'; readonly leaderId: string }
  /** Nobody is known to lead, or leadership is moving: look again shortly. */
  | { readonly kind: 'no-leader' }
  /** Safe to try again at once (the last attempt certainly did not apply, or dedups). */
  | { readonly kind: 'retry' };

export function writeTimeout(): ConcordError {
  return new ConcordError(
    'timeout',
    'the deadline passed before the write was known to apply; its outcome is unknown (retry with the same idempotency-key)',
  );
}

export function noLeader(detail = ''): ConcordError {
  return new ConcordError('no_leader', `no leader within the deadline${detail === '' ? '' : `: ${detail}`}`);
}

export class ReplicaService {
  constructor(
    private readonly node: KvNode,
    private readonly metrics: ConcordMetrics,
    private readonly leaderPollIntervalMs: number,
    /**
     * A follower sends writes to the leader over the peer connection (NodeHost.proposeAnywhere)
     * rather than leaving the router to forward the HTTP request. Off with --auth: the leader
     * must check the token against its own, newest auth table, which only a forwarded HTTP
     * request lets it do.
     */
    private readonly forwardOverPeers: boolean,
  ) {}

  /** Whether a follower sends writes and keepalives to the leader over the peer connection. */
  get forwardsOverPeers(): boolean {
    return this.forwardOverPeers;
  }

  /** Whether this node leads now (as far as it knows). */
  get isLeader(): boolean {
    return this.node.host.role === 'leader';
  }

  /** Where the leader is, from this node's point of view. */
  leaderAttempt<T>(): LeaderAttempt<T> {
    const leaderId = this.node.host.raft.leader;
    return leaderId === '' || leaderId === this.node.id ? { kind: 'no-leader' } : { kind: 'leader-elsewhere', leaderId };
  }

  /**
   * Proposes once: here if this node leads, else (forwardOverPeers) through the leader. Throws
   * the contract's error when the answer is final. A forwarded write must carry an idempotency
   * key (the router gives it one): if the leader's answer is lost its outcome is unknown, and
   * the attempt is then retried.
   */
  async proposeOnce(body: KvCommandBody, idempotencyKey: string | undefined, deadline: Deadline): Promise<LeaderAttempt<KvApplyOutcome>> {
    const startedMs = performance.now();
    const outcome = await untilDeadline<ProposalOutcome<KvApplyOutcome>>(
      deadline,
      () => {
        this.metrics.observeProposal('timeout', 0);
        return writeTimeout();
      },
      (resolve) => {
        // submit throws a ConcordError (400/413) for a command every replica would refuse.
        const forward = this.forwardOverPeers && idempotencyKey !== undefined;
        this.node.submit(body, idempotencyKey === undefined ? { forward } : { idempotencyKey, forward }, resolve);
      },
    );
    this.metrics.observeProposal(outcome.ok ? 'applied' : outcome.code, (performance.now() - startedMs) / 1000);
    if (outcome.ok) return { kind: 'done', value: outcome.result };
    switch (outcome.code) {
      case 'not_leader':
        return outcome.leaderHint === '' || outcome.leaderHint === this.node.id
          ? { kind: 'no-leader' }
          : { kind: 'leader-elsewhere', leaderId: outcome.leaderHint };
      case 'overloaded':
        throw new ConcordError('overloaded', 'too many proposals waiting; retry later');
      case 'superseded':
        return { kind: 'retry' };
      case 'unavailable':
        if (!this.node.host.isRunning) throw new ConcordError('unavailable', 'node is shutting down');
        if (outcome.mayHaveApplied && idempotencyKey === undefined) {
          throw new ConcordError('unavailable', 'the write may or may not have applied (retry with an idempotency-key)');
        }
        return { kind: 'retry' };
    }
  }

  /**
   * A lease keepalive made on a follower, sent to the leader over the peer connection
   * (KvNode.renewLeaseAnywhere). Null when that path is off (--auth: the leader checks the token,
   * which only a forwarded HTTP request lets it do) or gave no definite answer: the caller then
   * lets the router forward the HTTP request.
   */
  async renewOverPeers(lease: string, deadline: Deadline): Promise<ForwardedKeepaliveOutcome | null> {
    if (!this.forwardOverPeers) return null;
    return untilDeadline<ForwardedKeepaliveOutcome | null>(
      deadline,
      () => new ConcordError('timeout', 'the deadline passed before the leader renewed the lease'),
      (resolve) => this.node.renewLeaseAnywhere(lease, resolve),
    );
  }

  /**
   * Waits until this replica reflects every write acknowledged before the call (ReadIndex; works
   * on followers too). Retries while no leader is known, until the deadline.
   */
  async readBarrier(deadline: Deadline): Promise<void> {
    await this.readAt(deadline, () => undefined);
  }

  /**
   * A read barrier that runs `capture` at the read point itself: synchronously, with the Raft
   * index the state machine then reflects exactly (nothing applied after it yet). What a backup
   * needs, which must name the index its state was taken at.
   */
  async readAt<T>(deadline: Deadline, capture: (appliedIndex: LogIndex) => T): Promise<T> {
    for (;;) {
      const outcome = await untilDeadline<ReadOutcome & { captured?: T }>(
        deadline,
        () => new ConcordError('timeout', 'the deadline passed before a read barrier completed'),
        (resolve, reject) =>
          this.node.read((read) => {
            if (!read.ok) return resolve(read);
            // Past the deadline the answer is ignored: skip the capture (a backup's is costly).
            if (deadline.expired) return;
            try {
              resolve({ ...read, captured: capture(read.appliedIndex) });
            } catch (error) {
              reject(error);
            }
          }),
      );
      if (outcome.ok) return outcome.captured as T;
      if (outcome.code === 'overloaded') throw new ConcordError('overloaded', 'too many reads waiting; retry later');
      if (!this.node.host.isRunning) throw new ConcordError('unavailable', 'node is shutting down');
      if (deadline.expired) throw noLeader();
      await sleepWithin(this.leaderPollIntervalMs, deadline);
      if (deadline.expired) throw noLeader();
    }
  }
}
