/**
 * What runs inside a simulated server process. The workload speaks one small language —
 * register operations (get, put, delete as a put of null, compare-and-set) — and each app
 * carries it out on its own stack:
 * - RegisterApp: NodeHost with the one-register-per-key test machine (the core's proof);
 * - KvApp: the production KvNode (KV state machine, leases, dedup), translating puts, deletes
 *   and CAS into KV commands (CAS alternately as a txn and as a put/delete with ifRevision).
 */
import { isKvError, type KvApplyOutcome, type KvCommandBody, type WatchBatch } from '../../src/kv/index.ts';
import { KvNode, type KvNodeOptions } from '../../src/node/kv-node.ts';
import type { ElectionLeader, LockEvent, LockHolder, LockKind, LockQueries } from '../../src/lock/index.ts';
import { changedSince, serviceRevision, watchUpdate, type ServiceView } from '../../src/registry/index.ts';

/**
 * When a blocking query answers and when a watch sends: production's rules (src/registry/
 * blocking.ts, which the server's ServiceChangeHub and ServiceWatchSession call), or a planted
 * substitute.
 */
export interface RegistryWaitRules {
  readonly changedSince: typeof changedSince;
  readonly watchUpdate: typeof watchUpdate;
}

/** Test-only substitutes for the KV node's parts, each with one planted bug. */
export type KvPlants = Pick<KvNodeOptions, 'makeStateMachine' | 'makeLeaseKeeper' | 'makeHost'> & { readonly registryRules?: RegistryWaitRules };
import { NodeHost } from '../../src/node/node-host.ts';
import type { ConfChangeOutcome, NodeHostHooks, NodeHostOptions, ProposalOutcome } from '../../src/node/host-types.ts';
import type { ConfChange } from '../../src/raft/membership.ts';
import { isKvNodeMessage, type Message } from '../../src/raft/messages.ts';
import type { RaftFactory, RaftNode } from '../../src/raft/raft-node.ts';
import type { Entry, NodeId } from '../../src/raft/types.ts';
import type { RegisterOp } from './checkers/linearizability.ts';
import { encodeCommand, RegisterMachine, type RegisterResult } from './register-machine.ts';
import { ElectionObserversSim, ServiceWaitersSim } from './sim-observers.ts';

const PRODUCTION_REGISTRY_RULES: RegistryWaitRules = { changedSince, watchUpdate };

export type AppOutcome =
  | { readonly status: 'ok'; readonly value?: string | null; readonly casSucceeded?: boolean }
  | { readonly status: 'rejected'; readonly leaderHint: NodeId };

/** What the lease workload asks of a KV node. */
export type LeaseOp =
  | { readonly kind: 'grant'; readonly id: string; readonly ttlMs: number }
  | { readonly kind: 'attach'; readonly id: string; readonly key: string; readonly value: string }
  | { readonly kind: 'keepalive'; readonly id: string }
  | { readonly kind: 'revoke'; readonly id: string };

export type LeaseOutcome =
  | { readonly status: 'ok' }
  | { readonly status: 'not_found' }
  | { readonly status: 'rejected'; readonly leaderHint: NodeId };

/**
 * What the lock and election workloads ask of a KV node (the server's lock and election routes,
 * as plain requests). `lockKind` absent means a lock.
 */
export type LockOp =
  /** `waiterId` present: wait in line (the answer comes at the grant); absent: try once. */
  | {
      readonly kind: 'acquire';
      readonly name: string;
      readonly owner: string;
      readonly ttlMs?: number;
      readonly lease?: string;
      readonly lockDelayMs: number;
      readonly waiterId?: string;
    }
  /** POST /v1/elections/{name}/campaign: an acquire of the election, with the value to proclaim. */
  | {
      readonly kind: 'campaign';
      readonly name: string;
      readonly owner: string;
      readonly ttlMs?: number;
      readonly lease?: string;
      readonly lockDelayMs: number;
      readonly waiterId?: string;
      readonly value: string;
    }
  /** POST /v1/elections/{name}/proclaim. */
  | { readonly kind: 'proclaim'; readonly name: string; readonly token: number; readonly value: string }
  /** Release a lock, or (lockKind election) resign from an election. */
  | { readonly kind: 'release'; readonly name: string; readonly token: number; readonly lockKind?: LockKind }
  | { readonly kind: 'withdraw'; readonly name: string; readonly waiterId: string; readonly releaseIfHolding: boolean; readonly lockKind?: LockKind }
  /** GET /v1/elections/{name}: the current leader, after a ReadIndex barrier. */
  | { readonly kind: 'leader'; readonly name: string }
  /** A write of the resource a lock guards; with `fence`, only while that token holds. */
  | { readonly kind: 'write'; readonly key: string; readonly value: string; readonly fence?: { readonly name: string; readonly token: number } };

export type LockOutcome =
  | { readonly status: 'held'; readonly token: number; readonly lease: string }
  | { readonly status: 'locked' }
  | { readonly status: 'ok' }
  | { readonly status: 'withdrawn' | 'absent' | 'released' }
  /** stale_token: the token does not hold the lock. */
  | { readonly status: 'stale' }
  /** The lease is gone (before the acquire, or it ended while waiting), or the waiter vanished in a restore. */
  | { readonly status: 'not_found' }
  /** A leader read: the election's leader as this replica applied it (null: none). */
  | { readonly status: 'leader'; readonly leader: ElectionLeader | null }
  | { readonly status: 'error'; readonly code: string }
  | { readonly status: 'rejected'; readonly leaderHint: NodeId };

/** What the registry clients ask of a KV node. A heartbeat is a keepalive of the instance's lease. */
export type RegistryOp =
  | { readonly kind: 'register'; readonly service: string; readonly id: string; readonly ttlMs: number }
  | { readonly kind: 'heartbeat'; readonly lease: string }
  | { readonly kind: 'deregister'; readonly service: string; readonly id: string };

export type RegistryOutcome =
  | { readonly status: 'ok'; readonly lease?: string }
  | { readonly status: 'not_found' }
  | { readonly status: 'rejected'; readonly leaderHint: NodeId };

/**
 * GET /v1/services/{service}?index=&waitMs=: after a ReadIndex barrier, answers at once if the
 * service changed after `index`, else waits (on this process's clock) for the first change, or
 * answers as it is when waitMs runs out. `waiting` is told when the barrier passed (and what the
 * service's marker revision was then); `done` gets the answer, unless the process dies first.
 */
export interface BlockingQuery {
  readonly service: string;
  readonly index: number;
  readonly waitMs: number;
  waiting(markerRevision: number): void;
  done(answer: ServiceView): void;
  /** The barrier failed (no leader): the client asks again elsewhere. */
  rejected(leaderHint: NodeId): void;
}

/**
 * GET /v1/services/{service}/watch: after a ReadIndex barrier, the instance list now and after
 * every change, until close() (the client's disconnect) or the process's death.
 */
export interface ServiceWatch {
  readonly service: string;
  frame(view: ServiceView): void;
  rejected(leaderHint: NodeId): void;
}

/** What a NodeHost is built from that the SimNode supplies as is. */
type HostParts = Pick<
  NodeHostOptions<unknown>,
  'raftConfig' | 'bootstrap' | 'persisted' | 'random' | 'clock' | 'transport' | 'storage' | 'tickMs' | 'snapshotEveryEntries'
>;

/** Everything a process needs to build its app; the SimNode supplies it at each boot. */
export interface AppContext extends HostParts {
  readonly snapshotSliceElements: number;
  readonly snapshotSliceDelayMs: number;
  readonly makeRaft: RaftFactory;
  readonly applied: (entry: Entry, outcome: unknown) => void;
  readonly raftEvent: NodeHostHooks<unknown>['raftEvent'];
  /** The configuration changed or committed (the transport's peer set follows it). */
  readonly membershipChanged: NonNullable<NodeHostHooks<unknown>['membershipChanged']>;
  /** KV only: every watch batch the state machine publishes. */
  readonly watchBatch: (batch: WatchBatch) => void;
  /** KV only: the state machine was replaced by a snapshot (its feed jumps forward). */
  readonly watchRestored: () => void;
  /**
   * KV only: an observer of each of these elections (GET /v1/elections/{name}/observe) runs on
   * the process from boot, and `electionObserved` gets every leader it would stream.
   */
  readonly observedElections: readonly string[];
  readonly electionObserved: (name: string, leader: ElectionLeader | null) => void;
}

export interface SimApp {
  readonly raft: RaftNode;
  start(): void;
  stop(): void;
  receive(message: Message): void;
  /** The connection from `peer` closed (it crashed): NodeHost.peerGone. */
  peerGone(peer: NodeId): void;
  /** Carries out `op`; calls `done` unless the outcome is unknown (the client then times out). */
  execute(op: RegisterOp, idempotencyKey: string, done: (outcome: AppOutcome) => void): void;
  transferLeadership(target: NodeId): void;
  /** An operator's membership change, as the cluster routes propose it. */
  changeMembership(change: ConfChange, done: (outcome: ConfChangeOutcome) => void): void;
  /** The replicated state, for comparing replicas after convergence. */
  digest(): string;
  /** KV only: lease operations; calls `done` unless the outcome is unknown. */
  executeLease?(op: LeaseOp, idempotencyKey: string, done: (outcome: LeaseOutcome) => void): void;
  /** KV only: the keys of this replica's store attached to lease `id`. */
  keysWithLease?(id: string): readonly string[];
  /**
   * KV only: lock requests, as the server's lock routes carry them out (a waiting acquire
   * answers at its grant); calls `done` unless the outcome is unknown.
   */
  executeLock?(op: LockOp, idempotencyKey: string, done: (outcome: LockOutcome) => void): void;
  /** KV only: registry requests; calls `done` unless the outcome is unknown. */
  executeRegistry?(op: RegistryOp, idempotencyKey: string, done: (outcome: RegistryOutcome) => void): void;
  /** KV only: a blocking query of the registry (see BlockingQuery). */
  blockingQuery?(query: BlockingQuery): void;
  /** KV only: opens a service watch; returns its close. */
  watchService?(watch: ServiceWatch): () => void;
  /** KV only: the service's revision (its marker's modRevision) as this replica has it now. */
  serviceRevision?(service: string): number;
  /** KV only: this replica's lock table and lease table, for the final audit. */
  locks?(): LockQueries;
  leaseExists?(id: string): boolean;
}

export type AppFactory = (context: AppContext) => SimApp;

const LIMITS = { maxPendingProposals: 10_000, maxPendingReads: 10_000 };

function hostOptions(context: AppContext) {
  return {
    raftConfig: context.raftConfig,
    bootstrap: context.bootstrap,
    persisted: context.persisted,
    random: context.random,
    clock: context.clock,
    transport: context.transport,
    storage: context.storage,
    tickMs: context.tickMs,
    snapshotEveryEntries: context.snapshotEveryEntries,
    snapshotSliceElements: context.snapshotSliceElements,
    snapshotSliceDelayMs: context.snapshotSliceDelayMs,
    makeRaft: context.makeRaft,
    ...LIMITS,
  };
}

/** Reports a proposal's outcome unless it is unknown (the write may or may not apply). */
function answerProposal<Result>(
  outcome: ProposalOutcome<Result>,
  done: (outcome: AppOutcome) => void,
  onOk: (result: Result) => AppOutcome,
): void {
  if (outcome.ok) done(onOk(outcome.result));
  else if (!outcome.mayHaveApplied) done({ status: 'rejected', leaderHint: outcome.leaderHint });
}

export const registerApp: AppFactory = (context) => {
  const machine = new RegisterMachine();
  const host = new NodeHost<RegisterResult>({
    ...hostOptions(context),
    stateMachine: machine,
    hooks: {
      applied: context.applied,
      membershipChanged: context.membershipChanged,
      ...(context.raftEvent ? { raftEvent: context.raftEvent } : {}),
    },
  });
  return {
    raft: host.raft,
    start: () => host.start(),
    stop: () => host.stop(),
    receive: (message) => {
      if (!isKvNodeMessage(message)) host.receive(message);
    },
    peerGone: (peer) => host.peerGone(peer),
    transferLeadership: (target) => void host.transferLeadership(target),
    changeMembership: (change, done) => host.proposeConfChange(change, done),
    digest: () => machine.digest(),
    execute(op, _idempotencyKey, done) {
      if (op.kind === 'get') {
        host.read((outcome) =>
          done(outcome.ok ? { status: 'ok', value: machine.get(op.key) } : { status: 'rejected', leaderHint: outcome.leaderHint }),
        );
        return;
      }
      const command =
        op.kind === 'put'
          ? { op: 'put' as const, key: op.key, value: op.value }
          : { op: 'cas' as const, key: op.key, expected: op.expected, value: op.value };
      host.propose(encodeCommand(command), (outcome) =>
        answerProposal(outcome, done, (result) =>
          result.casSucceeded === undefined ? { status: 'ok' } : { status: 'ok', casSucceeded: result.casSucceeded },
        ),
      );
    },
  };
};

/**
 * Whether a CAS wrote. Judged by the result's shape, not by the command just sent: a retry
 * returns the first attempt's result, and the first attempt may have taken the other form.
 */
function casSwapped(outcome: KvApplyOutcome): boolean {
  const result = outcome.result;
  if (isKvError(result)) return false; // compare_failed: ifRevision did not hold
  if ('succeeded' in result) return result.succeeded; // the txn form
  return true; // the guarded put applied
}

/**
 * The KV stack. `revisionOf` maps a value to the modRevision that wrote it (values are unique,
 * so a revision names one write): CAS with ifRevision compares exactly that.
 */
export function kvApp(revisionOf: (value: string) => number | undefined, plants: KvPlants = {}): AppFactory {
  const { registryRules = PRODUCTION_REGISTRY_RULES, ...nodePlants } = plants;
  return (context) => {
    let casCount = 0;
    const node = new KvNode({
      ...hostOptions(context),
      ...nodePlants,
      hooks: {
      applied: context.applied,
      membershipChanged: context.membershipChanged,
      ...(context.raftEvent ? { raftEvent: context.raftEvent } : {}),
    },
    });
    node.kv.onEvents(context.watchBatch);
    node.kv.onRestore(context.watchRestored);
    const waiters = new LockWaitersSim(node);
    const serviceWaiters = new ServiceWaitersSim(node, context.clock, registryRules);
    new ElectionObserversSim(node, context.observedElections, context.electionObserved);
    // Register writes go through whichever node the client called, forwarded to the leader over
    // the simulated network as the server does; lock and lease commands are refused by
    // followers (the client retries at the leader), so both paths run in every seed.
    const propose = (body: KvCommandBody, key: string, done: (outcome: AppOutcome) => void, onOk: (result: KvApplyOutcome) => AppOutcome): void =>
      node.submit(body, { idempotencyKey: key, forward: true }, (outcome) => answerProposal(outcome, done, onOk));
    return {
      raft: node.host.raft,
      start: () => node.start(),
      stop: () => node.stop(),
      receive: (message) => node.receive(message),
      peerGone: (peer) => node.peerGone(peer),
      transferLeadership: (target) => void node.host.transferLeadership(target),
      changeMembership: (change, done) => node.host.proposeConfChange(change, done),
      digest: () => JSON.stringify(node.kv.range('', 0).items),
      locks: () => node.kv.locks,
      leaseExists: (id) => node.kv.lease(id) !== null,
      executeLock: (op, idempotencyKey, done) => executeLock(node, waiters, op, idempotencyKey, done),
      executeRegistry: (op, idempotencyKey, done) => executeRegistry(node, op, idempotencyKey, done),
      blockingQuery: (query) => serviceWaiters.blockingQuery(query),
      watchService: (watch) => serviceWaiters.watch(watch),
      serviceRevision: (service) => serviceRevision(node.kv, service),
      keysWithLease: (id) => node.kv.range('', 0).items.filter((kv) => kv.lease === id).map((kv) => kv.key),
      executeLease(op, idempotencyKey, done) {
        if (op.kind === 'keepalive') {
          node.renewLease(op.id, (outcome) => {
            if (outcome.ok) done({ status: 'ok' });
            else if (outcome.code === 'not_found') done({ status: 'not_found' });
            else done({ status: 'rejected', leaderHint: outcome.leaderHint });
          });
          return;
        }
        const body: KvCommandBody =
          op.kind === 'grant'
            ? { type: 'leaseGrant', id: op.id, ttlMs: op.ttlMs }
            : op.kind === 'attach'
              ? { type: 'put', key: op.key, value: op.value, lease: op.id }
              : { type: 'leaseRevoke', id: op.id };
        node.submit(body, { idempotencyKey }, (outcome) => {
          if (outcome.ok) done(isKvError(outcome.result.result) ? { status: 'not_found' } : { status: 'ok' });
          else if (!outcome.mayHaveApplied) done({ status: 'rejected', leaderHint: outcome.leaderHint });
        });
      },
      execute(op, idempotencyKey, done) {
        if (op.kind === 'get') {
          node.read((outcome) =>
            done(outcome.ok ? { status: 'ok', value: node.kv.get(op.key).kv?.value ?? null } : { status: 'rejected', leaderHint: outcome.leaderHint }),
          );
          return;
        }
        if (op.kind === 'put') {
          const body: KvCommandBody = op.value === null ? { type: 'delete', key: op.key } : { type: 'put', key: op.key, value: op.value };
          propose(body, idempotencyKey, done, () => ({ status: 'ok' }));
          return;
        }
        const expectedRevision = op.expected === null ? 0 : revisionOf(op.expected);
        if (casCount++ % 2 === 0 && expectedRevision !== undefined && op.value !== null) {
          // CAS as a guarded put: ifRevision names the one write that stored `expected`.
          const body: KvCommandBody = { type: 'put', key: op.key, value: op.value, ifRevision: expectedRevision };
          propose(body, idempotencyKey, done, (outcome) => ({ status: 'ok', casSucceeded: casSwapped(outcome) }));
          return;
        }
        const write = op.value === null ? { delete: { key: op.key } } : { put: { key: op.key, value: op.value } };
        const compare =
          op.expected === null
            ? { key: op.key, target: 'version' as const, op: '==' as const, value: 0 }
            : { key: op.key, target: 'value' as const, op: '==' as const, value: op.expected };
        propose({ type: 'txn', compare: [compare], success: [write], failure: [] }, idempotencyKey, done, (outcome) => ({
          status: 'ok',
          casSucceeded: casSwapped(outcome),
        }));
      },
    };
  };
}

/**
 * The server's LockWaiters (src/server/locks/lock-waiters.ts) without promises: the requests
 * waiting on this process for a lock grant, by waiter id. Registered before the acquire is
 * proposed; the state machine's lock events wake exactly the waiter a grant names, or tell it
 * its lease ended; after a restore every waiter is checked against the new state.
 */
class LockWaitersSim {
  private readonly waiting = new Map<string, { kind: LockKind; name: string; answer: (outcome: LockOutcome | 'gone') => void }>();

  constructor(private readonly node: KvNode) {
    node.kv.onLockEvents((events) => this.onEvents(events));
    node.kv.onRestore(() => this.onRestore());
  }

  /** `answer` gets the grant, or 'gone' when a restored snapshot has it neither waiting nor holding. */
  register(kind: LockKind, name: string, waiterId: string, answer: (outcome: LockOutcome | 'gone') => void): void {
    this.waiting.set(waiterId, { kind, name, answer });
  }

  cancel(waiterId: string): void {
    this.waiting.delete(waiterId);
  }

  has(waiterId: string): boolean {
    return this.waiting.has(waiterId);
  }

  private finish(waiterId: string, outcome: LockOutcome | 'gone'): void {
    const waiter = this.waiting.get(waiterId);
    if (waiter === undefined) return;
    this.waiting.delete(waiterId);
    waiter.answer(outcome);
  }

  private onEvents(events: readonly LockEvent[]): void {
    if (this.waiting.size === 0) return;
    for (const event of events) {
      if (event.type === 'granted' && event.holder.waiterId !== undefined) this.finish(event.holder.waiterId, heldOf(event.holder));
      else if (event.type === 'waiterRemoved') this.finish(event.waiterId, { status: 'not_found' });
    }
  }

  private onRestore(): void {
    for (const [waiterId, waiter] of [...this.waiting]) {
      const holder = this.node.kv.locks.holder(waiter.kind, waiter.name);
      if (holder?.waiterId === waiterId) this.finish(waiterId, heldOf(holder));
      else if (!this.node.kv.locks.isWaiting(waiter.kind, waiter.name, waiterId)) this.finish(waiterId, 'gone');
    }
  }
}

function heldOf(holder: LockHolder): LockOutcome {
  return { status: 'held', token: holder.token, lease: holder.lease };
}

function lockErrorOutcome(result: object): LockOutcome | null {
  if (!isKvError(result)) return null;
  const code = result.error.code;
  if (code === 'stale_token') return { status: 'stale' };
  if (code === 'locked') return { status: 'locked' };
  if (code === 'not_found') return { status: 'not_found' };
  return { status: 'error', code };
}

/** The lock or election an op names (a write names none). */
function targetOf(op: LockOp): { kind: LockKind; name: string } | null {
  switch (op.kind) {
    case 'acquire':
      return { kind: 'lock', name: op.name };
    case 'campaign':
    case 'proclaim':
    case 'leader':
      return { kind: 'election', name: op.name };
    case 'release':
    case 'withdraw':
      return { kind: op.lockKind ?? 'lock', name: op.name };
    case 'write':
      return null;
  }
}

/** The command a lock or election request proposes, as the server's routes build it. */
function commandOf(op: Exclude<LockOp, { kind: 'leader' }>): KvCommandBody {
  switch (op.kind) {
    case 'acquire':
    case 'campaign':
      return {
        type: 'lockAcquire',
        kind: op.kind === 'acquire' ? 'lock' : 'election',
        name: op.name,
        owner: op.owner,
        lockDelayMs: op.lockDelayMs,
        ...(op.kind === 'campaign' ? { value: op.value } : {}),
        ...(op.ttlMs === undefined ? {} : { ttlMs: op.ttlMs }),
        ...(op.lease === undefined ? {} : { lease: op.lease }),
        ...(op.waiterId === undefined ? {} : { waiterId: op.waiterId }),
      };
    case 'proclaim':
      return { type: 'electionProclaim', name: op.name, token: op.token, value: op.value };
    case 'release':
      return { type: 'lockRelease', kind: op.lockKind ?? 'lock', name: op.name, token: op.token };
    case 'withdraw':
      return { type: 'lockWithdraw', kind: op.lockKind ?? 'lock', name: op.name, waiterId: op.waiterId, releaseIfHolding: op.releaseIfHolding };
    case 'write':
      return {
        type: 'put',
        key: op.key,
        value: op.value,
        ...(op.fence === undefined ? {} : { fence: { kind: 'lock' as const, name: op.fence.name, token: op.fence.token } }),
      };
  }
}

function executeLock(node: KvNode, waiters: LockWaitersSim, op: LockOp, idempotencyKey: string, done: (outcome: LockOutcome) => void): void {
  if (op.kind === 'leader') {
    // GET /v1/elections/{name}: the lock table after a ReadIndex barrier.
    node.read((barrier) =>
      done(barrier.ok ? { status: 'leader', leader: node.kv.locks.electionLeader(op.name) } : { status: 'rejected', leaderHint: barrier.leaderHint }),
    );
    return;
  }
  const target = targetOf(op);
  const waiterId = op.kind === 'acquire' || op.kind === 'campaign' ? op.waiterId : undefined;
  let answered = false;
  // As the server does when a restore loses a waiter: once the acquire has been answered
  // 'queued', leave the line (the grant may have won) and answer with what the withdrawal says.
  let queued = false;
  let gone = false;
  const withdraw = (id: string): void =>
    node.submit({ type: 'lockWithdraw', kind: target?.kind ?? 'lock', name: target?.name ?? '', waiterId: id, releaseIfHolding: false }, { idempotencyKey: `withdraw-${id}` }, (outcome) => {
      if (!outcome.ok) return answer({ status: 'error', code: outcome.code });
      const result = outcome.result.result as { status: string; token?: number; lease?: string };
      answer(result.status === 'holding' ? { status: 'held', token: result.token ?? 0, lease: result.lease ?? '' } : { status: 'locked' });
    });
  const onGone = (): void => {
    gone = true;
    if (queued && waiterId !== undefined) withdraw(waiterId);
  };
  const answer = (outcome: LockOutcome): void => {
    if (answered) return;
    answered = true;
    if (waiterId !== undefined) waiters.cancel(waiterId);
    done(outcome);
  };
  // Registered before proposing: the grant may apply before the proposal's answer arrives.
  if (waiterId !== undefined && target !== null) waiters.register(target.kind, target.name, waiterId, (end) => (end === 'gone' ? onGone() : answer(end)));
  node.submit(commandOf(op), { idempotencyKey }, (outcome) => {
    if (!outcome.ok) {
      if (!outcome.mayHaveApplied) answer({ status: 'rejected', leaderHint: outcome.leaderHint });
      // Else unknown: a waiting acquire stays registered (its grant may still come).
      return;
    }
    const result = outcome.result.result;
    const error = lockErrorOutcome(result);
    if (error !== null) return answer(error);
    if (op.kind === 'acquire' || op.kind === 'campaign') {
      const acquired = result as { status: 'held' | 'queued'; token?: number; lease?: string };
      if (acquired.status === 'held') return answer({ status: 'held', token: acquired.token ?? 0, lease: acquired.lease ?? '' });
      // Queued: wait for the grant that names this waiter — unless it already applied (a retry
      // whose first attempt was granted meanwhile answers 'queued' from the dedup table).
      const holder = target === null ? null : node.kv.locks.holder(target.kind, target.name);
      queued = true;
      if (waiterId !== undefined && holder?.waiterId === waiterId) answer(heldOf(holder));
      else if (waiterId !== undefined && gone) withdraw(waiterId);
      return;
    }
    if (op.kind === 'withdraw') {
      const withdrawn = result as { status: 'withdrawn' | 'absent' | 'released' | 'holding'; token?: number; lease?: string };
      if (withdrawn.status === 'holding') return answer({ status: 'held', token: withdrawn.token ?? 0, lease: withdrawn.lease ?? '' });
      return answer({ status: withdrawn.status });
    }
    answer({ status: 'ok' });
  });
}

function executeRegistry(node: KvNode, op: RegistryOp, idempotencyKey: string, done: (outcome: RegistryOutcome) => void): void {
  if (op.kind === 'heartbeat') {
    // Renewed here if this node leads, else forwarded to the leader (KvNode.renewLeaseAnywhere),
    // as the server does; without a definite answer the client retries at the leader we know.
    node.renewLeaseAnywhere(op.lease, (outcome) => {
      if (outcome === null) done({ status: 'rejected', leaderHint: node.host.raft.leader });
      else done(outcome.ok ? { status: 'ok' } : { status: 'not_found' });
    });
    return;
  }
  const body: KvCommandBody =
    op.kind === 'register'
      ? { type: 'serviceRegister', service: op.service, id: op.id, address: '10.0.0.1', port: 8080, tags: [], meta: {}, ttlMs: op.ttlMs }
      : { type: 'serviceDeregister', service: op.service, id: op.id };
  node.submit(body, { idempotencyKey, forward: true }, (outcome) => {
    if (!outcome.ok) {
      if (!outcome.mayHaveApplied) done({ status: 'rejected', leaderHint: outcome.leaderHint });
      return;
    }
    const result = outcome.result.result;
    if (isKvError(result)) done({ status: 'not_found' });
    else if ('lease' in result && typeof result.lease === 'string') done({ status: 'ok', lease: result.lease });
    else done({ status: 'ok' });
  });
}
