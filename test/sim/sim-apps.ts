/**
 * What runs inside a simulated server process. The workload speaks one small language —
 * register operations (get, put, delete as a put of null, compare-and-set) — and each app
 * carries it out on its own stack:
 * - RegisterApp: NodeHost with the one-register-per-key test machine (the core's proof);
 * - KvApp: the production KvNode (KV state machine, leases, dedup), translating puts, deletes
 *   and CAS into KV commands (CAS alternately as a txn and as a put/delete with ifRevision).
 */
import type { Clock } from '../../src/common/clock.ts';
import type { Random } from '../../src/common/random.ts';
import { isKvError, type KvApplyOutcome, type KvCommandBody, type WatchBatch } from '../../src/kv/index.ts';
import { KvNode, type KvNodeOptions } from '../../src/node/kv-node.ts';

/** Test-only substitutes for the KV node's parts, each with one planted bug. */
export type KvPlants = Pick<KvNodeOptions, 'makeStateMachine' | 'makeLeaseKeeper'>;
import { NodeHost, type NodeHostHooks, type ProposalOutcome } from '../../src/node/node-host.ts';
import type { Transport } from '../../src/node/transport.ts';
import type { RaftConfig } from '../../src/raft/config.ts';
import type { Message } from '../../src/raft/messages.ts';
import type { RaftFactory, RaftNode } from '../../src/raft/raft-node.ts';
import type { ClusterConfig, Entry, NodeId, PersistedState } from '../../src/raft/types.ts';
import type { Storage } from '../../src/storage/storage.ts';
import type { RegisterOp } from './checkers/linearizability.ts';
import { encodeCommand, RegisterMachine, type RegisterResult } from './register-machine.ts';

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

/** Everything a process needs to build its app; the SimNode supplies it at each boot. */
export interface AppContext {
  readonly raftConfig: RaftConfig;
  readonly bootstrap: ClusterConfig;
  readonly persisted: PersistedState;
  readonly random: Random;
  readonly clock: Clock;
  readonly transport: Transport;
  readonly storage: Storage;
  readonly tickMs: number;
  readonly snapshotEveryEntries: number;
  readonly makeRaft: RaftFactory;
  readonly applied: (entry: Entry, outcome: unknown) => void;
  readonly raftEvent: NodeHostHooks<unknown>['raftEvent'];
  /** KV only: every watch batch the state machine publishes. */
  readonly watchBatch: (batch: WatchBatch) => void;
  /** KV only: the state machine was replaced by a snapshot (its feed jumps forward). */
  readonly watchRestored: () => void;
}

export interface SimApp {
  readonly raft: RaftNode;
  start(): void;
  stop(): void;
  receive(message: Message): void;
  /** Carries out `op`; calls `done` unless the outcome is unknown (the client then times out). */
  execute(op: RegisterOp, idempotencyKey: string, done: (outcome: AppOutcome) => void): void;
  transferLeadership(target: NodeId): void;
  /** The replicated state, for comparing replicas after convergence. */
  digest(): string;
  /** KV only: lease operations; calls `done` unless the outcome is unknown. */
  executeLease?(op: LeaseOp, idempotencyKey: string, done: (outcome: LeaseOutcome) => void): void;
  /** KV only: the keys of this replica's store attached to lease `id`. */
  keysWithLease?(id: string): readonly string[];
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
    hooks: { applied: context.applied, ...(context.raftEvent ? { raftEvent: context.raftEvent } : {}) },
  });
  return {
    raft: host.raft,
    start: () => host.start(),
    stop: () => host.stop(),
    receive: (message) => host.receive(message),
    transferLeadership: (target) => void host.transferLeadership(target),
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
  return (context) => {
    let casCount = 0;
    const node = new KvNode({
      ...hostOptions(context),
      ...plants,
      hooks: { applied: context.applied, ...(context.raftEvent ? { raftEvent: context.raftEvent } : {}) },
    });
    node.kv.onEvents(context.watchBatch);
    node.kv.onRestore(context.watchRestored);
    const propose = (body: KvCommandBody, key: string, done: (outcome: AppOutcome) => void, onOk: (result: KvApplyOutcome) => AppOutcome): void =>
      node.submit(body, { idempotencyKey: key }, (outcome) => answerProposal(outcome, done, onOk));
    return {
      raft: node.host.raft,
      start: () => node.start(),
      stop: () => node.stop(),
      receive: (message) => node.receive(message),
      transferLeadership: (target) => void node.host.transferLeadership(target),
      digest: () => JSON.stringify(node.kv.range('', 0).items),
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
