/**
 * KvNode: one Concord replica's logic — NodeHost running the Raft log into the KV state
 * machine, plus the leader's lease countdowns. Still free of real I/O: the clock, storage and
 * transport come in as arguments, so the simulator runs this same class, and the server
 * (src/server) wraps it in promises and HTTP.
 *
 * Lease bookkeeping follows the log: a countdown starts when a grant applies on the leader,
 * stops when a revoke or expiry applies, and every countdown restarts at full TTL when this node
 * becomes leader. An expiry is proposed like any other command, so all replicas delete the same
 * keys at the same revision.
 */
import type { Clock } from '../common/clock.ts';
import { encodeCommand, KvStateMachine, type KvApplyOutcome, type KvCommandBody, type KvStateMachineOptions } from '../kv/index.ts';
import { isKvNodeMessage, type ForwardKeepalivesRequest, type Message } from '../raft/messages.ts';
import type { NodeId } from '../raft/types.ts';
import { KeepaliveForwarding, type ForwardedKeepaliveOutcome } from './keepalive-forwarding.ts';
import { LeaseKeeper, type LeaseKeeperOptions } from './lease-keeper.ts';
import { followLockDelays, lockDelayCountdown, lockDelayEndBody } from './lock-delays.ts';
import { NodeHost } from './node-host.ts';
import type { NodeHostHooks, NodeHostOptions, ProposalOutcome, ReadOutcome } from './host-types.ts';

export type KvNodeOptions = Omit<NodeHostOptions<KvApplyOutcome>, 'stateMachine' | 'hooks'> & {
  readonly kv?: KvStateMachineOptions;
  /** How soon to retry an expiry proposal that failed. */
  readonly leaseRetryMs?: number;
  readonly hooks?: NodeHostHooks<KvApplyOutcome>;
  /** Builds the state machine and the lease countdowns; tests substitute a subclass with one planted bug. */
  readonly makeStateMachine?: (options: KvStateMachineOptions | undefined) => KvStateMachine;
  readonly makeLeaseKeeper?: (options: LeaseKeeperOptions) => LeaseKeeper;
  /** Builds the node host; tests substitute a subclass with one planted bug. */
  readonly makeHost?: (options: NodeHostOptions<KvApplyOutcome>) => NodeHost<KvApplyOutcome>;
};

export interface SubmitOptions {
  readonly idempotencyKey?: string;
  /**
   * On a follower, send the proposal to the leader over the peer connection and wait for it to
   * apply here (NodeHost.proposeAnywhere), instead of refusing it with not_leader.
   */
  readonly forward?: boolean;
}

export type KeepAliveOutcome =
  | { readonly ok: true; readonly ttlMs: number; readonly remainingMs: number }
  | { readonly ok: false; readonly code: 'not_leader'; readonly leaderHint: NodeId }
  | { readonly ok: false; readonly code: 'not_found' };

const DEFAULT_LEASE_RETRY_MS = 100;

export class KvNode {
  readonly kv: KvStateMachine;
  readonly host: NodeHost<KvApplyOutcome>;
  readonly leases: LeaseKeeper;
  /** The leader's lock-delay countdowns (lock-delays.ts). */
  readonly lockDelays: LeaseKeeper;
  private readonly options: KvNodeOptions;
  /** Our clients' keepalives on their way to the leader, while we follow. */
  private readonly keepalives: KeepaliveForwarding;
  private followedLeader: NodeId = '';

  constructor(options: KvNodeOptions) {
    this.options = options;
    this.keepalives = new KeepaliveForwarding({
      self: options.raftConfig.id,
      clock: options.clock,
      send: (messages) => options.transport.send(messages),
      leader: () => this.host.raft.leader,
      term: () => this.host.raft.currentTerm,
      tickMs: options.tickMs,
      giveUpTicks: options.raftConfig.electionTicks,
    });
    this.kv = options.makeStateMachine?.(options.kv) ?? new KvStateMachine(options.kv);
    const leaseOptions: LeaseKeeperOptions = {
      clock: options.clock,
      retryMs: options.leaseRetryMs ?? DEFAULT_LEASE_RETRY_MS,
      proposeExpiry: (id, done) => this.submit({ type: 'leaseExpire', id }, {}, (outcome) => done(outcome.ok)),
    };
    this.leases = options.makeLeaseKeeper?.(leaseOptions) ?? new LeaseKeeper(leaseOptions);
    this.lockDelays = new LeaseKeeper({
      clock: options.clock,
      retryMs: leaseOptions.retryMs,
      proposeExpiry: (id, done) => this.submit(lockDelayEndBody(id), {}, (outcome) => done(outcome.ok)),
    });
    const hooks = options.hooks ?? {};
    const makeHost = options.makeHost ?? ((hostOptions) => new NodeHost<KvApplyOutcome>(hostOptions));
    this.host = makeHost({
      ...options,
      stateMachine: this.kv,
      hooks: {
        ...hooks,
        applied: (entry, outcome) => {
          this.followLeases(outcome);
          if (outcome !== null) followLockDelays(this.lockDelays, outcome.lockEvents);
          hooks.applied?.(entry, outcome);
        },
        // A node may become leader while it restores a snapshot in slices: it then counted the
        // leases and lock delays of the state it had, and starts over with the restored state's.
        // A restore is otherwise a follower's.
        restored: (index) => {
          if (this.leases.isLeading) this.restartCountdowns();
          hooks.restored?.(index);
        },
        softStateChanged: (softState, term) => {
          if (softState.role === 'leader') this.restartCountdowns();
          if (softState.role !== 'leader' && this.leases.isLeading) this.leases.lostLeadership();
          if (softState.role !== 'leader' && this.lockDelays.isLeading) this.lockDelays.lostLeadership();
          // The leader we sent keepalives to is gone: its answers will not come (or not count).
          if (softState.leader !== this.followedLeader) this.keepalives.failAll();
          this.followedLeader = softState.leader;
          hooks.softStateChanged?.(softState, term);
        },
      },
    });
  }

  get id(): NodeId {
    return this.host.id;
  }

  /** The node's clock (the simulator's virtual one under simulation). */
  get clock(): Clock {
    return this.options.clock;
  }

  start(): void {
    this.host.start();
  }

  stop(): void {
    this.keepalives.stop();
    this.leases.stop();
    this.lockDelays.stop();
    this.host.stop();
  }

  receive(message: Message): void {
    if (!isKvNodeMessage(message)) this.host.receive(message);
    else if (message.type === 'forward-keepalives') this.answerKeepalives(message);
    else this.keepalives.answered(message);
  }

  /** See NodeHost.peerGone. */
  peerGone(peer: NodeId): void {
    this.host.peerGone(peer);
  }

  /**
   * Proposes a command, stamped with this node's wall clock (the dedup window's time base).
   * Throws a ConcordError (invalid_argument, payload_too_large) for a command every replica
   * would refuse, before it reaches the log.
   */
  submit(body: KvCommandBody, options: SubmitOptions, done: (outcome: ProposalOutcome<KvApplyOutcome>) => void): void {
    const command = {
      proposedAtMs: Math.floor(this.options.clock.wallMs()),
      body,
      ...(options.idempotencyKey === undefined ? {} : { idempotencyKey: options.idempotencyKey }),
    };
    const data = encodeCommand(command, this.kv.config);
    if (options.forward === true) this.host.proposeAnywhere(data, done);
    else this.host.propose(data, done);
  }

  /** A linearizable read barrier; after `done({ ok: true })`, query `kv` directly. */
  read(done: (outcome: ReadOutcome) => void): void {
    this.host.read(done);
  }

  /**
   * A client's keepalive: confirm leadership with a read barrier, then restart the countdown.
   * The barrier matters twice. A deposed leader that has not noticed yet cannot confirm, so it
   * never acknowledges a keepalive the new leader does not count (the new leader restarted
   * every countdown when it was elected, after this request arrived). And the barrier waits for
   * this term's no-op to apply, so an expiry proposed by an earlier leader that is still going to
   * commit has applied by then: the keepalive answers not_found instead of renewing a lease
   * that is about to vanish.
   */
  renewLease(id: string, done: (outcome: KeepAliveOutcome) => void): void {
    if (!this.leases.isLeading) {
      done({ ok: false, code: 'not_leader', leaderHint: this.host.raft.leader });
      return;
    }
    this.read((barrier) => {
      if (!barrier.ok) done({ ok: false, code: 'not_leader', leaderHint: barrier.leaderHint });
      else done(this.keepAlive(id));
    });
  }

  /**
   * A client's keepalive made here, whichever node leads: renewed here if we lead (renewLease),
   * else sent to the leader over the peer connection (keepalive-forwarding.ts). Null when no
   * definite answer came (no leader known, leadership moved, no answer in time): the caller
   * then forwards the request another way or retries.
   */
  renewLeaseAnywhere(id: string, done: (outcome: ForwardedKeepaliveOutcome | null) => void): void {
    const leader = this.host.raft.leader;
    if (!this.leases.isLeading && leader !== '' && leader !== this.id && this.host.isRunning) {
      this.keepalives.forward(id, done);
      return;
    }
    this.renewLease(id, (outcome) => {
      if (outcome.ok) done({ ok: true, ttlMs: outcome.ttlMs });
      else done(outcome.code === 'not_found' ? outcome : null);
    });
  }

  /** Leader side of forward-keepalives: one read barrier for the message, then each renewal. */
  private answerKeepalives(request: ForwardKeepalivesRequest): void {
    const ids = request.keepalives.map((keepalive) => keepalive.id);
    const answer = (leading: boolean, ttls: readonly number[]): void =>
      this.options.transport.send([
        { type: 'forward-keepalives-response', from: this.id, to: request.from, term: this.host.raft.currentTerm, leading, ids, ttls },
      ]);
    const notLeading = (): void => answer(false, ids.map(() => 0));
    if (!this.leases.isLeading || !this.host.isRunning) return notLeading();
    this.read((barrier) => {
      if (!barrier.ok || !this.leases.isLeading) return notLeading();
      answer(
        true,
        request.keepalives.map((keepalive) => {
          const renewed = this.keepAlive(keepalive.lease);
          return renewed.ok ? renewed.ttlMs : 0;
        }),
      );
    });
  }

  /** Restarts a lease's countdown: leader-local, never logged. Call after a read barrier. */
  keepAlive(id: string): KeepAliveOutcome {
    if (!this.leases.isLeading) return { ok: false, code: 'not_leader', leaderHint: this.host.raft.leader };
    if (this.kv.lease(id) === null) return { ok: false, code: 'not_found' };
    const ttlMs = this.leases.keepAlive(id);
    if (ttlMs === null) return { ok: false, code: 'not_found' };
    return { ok: true, ttlMs, remainingMs: ttlMs };
  }

  /** Every lease and lock-delay countdown starts over at full TTL from the state machine's: never early. */
  private restartCountdowns(): void {
    this.leases.becameLeader(this.kv.leases());
    this.lockDelays.becameLeader(this.kv.locks.delays().map(lockDelayCountdown));
  }

  private followLeases(outcome: KvApplyOutcome | null): void {
    if (outcome === null) return;
    for (const lease of outcome.leasesGranted) this.leases.granted(lease.id, lease.ttlMs);
    for (const id of outcome.leasesRemoved) this.leases.removed(id);
  }
}

