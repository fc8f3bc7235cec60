/**
 * The handlers of the lock and election commands, and the lock side of the other commands: the
 * fence of a fenced write, the token a txn's lock compare reads, and the locks a lease's end
 * takes with it. The rules are the lock
 * table's (src/lock); here they meet the lease table and the store, and outcomes become the
 * contract's results and errors (423 locked, 409 stale_token, 429 overloaded).
 *
 * A lock's own lease (acquire with ttlMs) is revoked on release like any revoked lease, through
 * applyLeaseEnd, so its keys are deleted and the other locks it held end too (lease_revoked).
 * applyLeaseEnd lives in apply-commands.ts, which imports this module back: the cycle is only
 * between functions called during an apply, never at module load.
 */
import type { LeaseEndReason, LockEnv, LockHolder, LockKind } from '../lock/index.ts';
import { applyLeaseEnd } from './apply-commands.ts';
import type { ApplyContext } from './apply-context.ts';
import { type KvErrorResult, kvError } from './kv-errors.ts';
import type {
  ElectionProclaimCommand,
  ElectionProclaimResult,
  LockAcquireCommand,
  LockAcquireResult,
  LockDelayEndCommand,
  LockDelayEndResult,
  LockFence,
  LockGrant,
  LockReleaseCommand,
  LockReleaseResult,
  LockWithdrawCommand,
  LockWithdrawResult,
} from './lock-commands.ts';

/** The lock table's view of this apply: leases, the revision, and where its events go. */
function lockEnv(context: ApplyContext): LockEnv {
  return {
    get revision() {
      return context.store.revision;
    },
    leaseExists: (id) => context.leases.has(id),
    grantLease: (ttlMs) => {
      const id = context.leases.grant(ttlMs);
      context.leasesGranted.push({ id, ttlMs });
      return id;
    },
    emit: (event) => context.lockEvents.push(event),
  };
}

function grantOf(name: string, holder: LockHolder): LockGrant {
  return {
    name,
    token: holder.token,
    lease: holder.lease,
    owner: holder.owner,
    ...(holder.value === undefined ? {} : { value: holder.value }),
  };
}

function publicHolder(holder: LockHolder | null): { owner: string; token: number; lease: string } | null {
  return holder === null ? null : { owner: holder.owner, token: holder.token, lease: holder.lease };
}

function staleToken(what: string, name: string, token: number, holder: LockHolder | null): KvErrorResult {
  return kvError('stale_token', `token ${token} does not hold ${what} ${JSON.stringify(name)}`, {
    currentToken: holder?.token ?? null,
  });
}

/** A holding ended by release: its own lease (ttlMs) goes with it. */
function revokeOwnedLease(context: ApplyContext, holder: LockHolder): void {
  if (holder.leaseOwned && context.leases.has(holder.lease)) applyLeaseEnd(context, holder.lease, 'leaseRevoke');
}

export function applyLockAcquire(context: ApplyContext, body: LockAcquireCommand): LockAcquireResult | KvErrorResult {
  const outcome = context.locks.acquire({ ...body, lockDelayMs: body.lockDelayMs ?? 0 }, lockEnv(context));
  const revision = context.store.revision;
  switch (outcome.status) {
    case 'held':
      return { status: 'held', ...grantOf(body.name, outcome.holder), revision };
    case 'queued':
      return { status: 'queued', name: body.name, position: outcome.position, revision };
    case 'locked':
      return kvError(
        'locked',
        outcome.delayed
          ? `${body.kind} ${JSON.stringify(body.name)} is in its lock-delay after an involuntary loss`
          : `${body.kind} ${JSON.stringify(body.name)} is held`,
        { holder: publicHolder(outcome.holder), lockDelayed: outcome.delayed },
      );
    case 'lease_not_found':
      return kvError('not_found', `lease ${JSON.stringify(body.lease)} not found`, { lease: body.lease });
    case 'too_many_waiters':
      return kvError('overloaded', `too many waiters on ${body.kind} ${JSON.stringify(body.name)}`);
    case 'too_many_locks':
      return kvError('overloaded', 'too many locks and elections in use');
  }
}

export function applyLockRelease(context: ApplyContext, body: LockReleaseCommand): LockReleaseResult | KvErrorResult {
  const outcome = context.locks.release(body.kind, body.name, body.token, lockEnv(context));
  if (outcome.status === 'stale') return staleToken(body.kind, body.name, body.token, outcome.holder);
  revokeOwnedLease(context, outcome.ended);
  return { revision: context.store.revision };
}

export function applyLockWithdraw(context: ApplyContext, body: LockWithdrawCommand): LockWithdrawResult {
  const outcome = context.locks.withdraw(body.kind, body.name, body.waiterId, body.releaseIfHolding === true, lockEnv(context));
  if (outcome.status === 'holding') {
    return { status: 'holding', ...grantOf(body.name, outcome.holder), revision: context.store.revision };
  }
  if (outcome.status === 'released') revokeOwnedLease(context, outcome.ended);
  return { status: outcome.status, revision: context.store.revision };
}

export function applyElectionProclaim(context: ApplyContext, body: ElectionProclaimCommand): ElectionProclaimResult | KvErrorResult {
  const outcome = context.locks.proclaim('election', body.name, body.token, body.value, lockEnv(context));
  if (outcome.status === 'stale') return staleToken('election', body.name, body.token, outcome.holder);
  const { value = '', token, lease } = outcome.holder;
  return { revision: context.store.revision, leader: { value, token, lease } };
}

export function applyLockDelayEnd(context: ApplyContext, body: LockDelayEndCommand): LockDelayEndResult {
  const ended = context.locks.endDelay(body.kind, body.name, body.token, lockEnv(context));
  return { revision: context.store.revision, ended };
}

/** After a lease's keys are deleted and the lease is gone: its waiters leave, its locks go on. */
export function locksAfterLeaseEnded(context: ApplyContext, leaseId: string, reason: LeaseEndReason): void {
  context.locks.leaseEnded(leaseId, reason, lockEnv(context));
}

/** The token of the lock's (or election's) holder now, 0 when free: what a txn's lock compare reads. */
export function lockTokenNow(context: ApplyContext, kind: LockKind, name: string): number {
  return context.locks.holder(kind, name)?.token ?? 0;
}

/** Null when `fence` holds its lock; else the contract's stale_token. */
export function fenceFailure(context: ApplyContext, fence: LockFence | undefined): KvErrorResult | null {
  if (fence === undefined) return null;
  const holder = context.locks.holder(fence.kind, fence.name);
  return holder?.token === fence.token ? null : staleToken(fence.kind, fence.name, fence.token, holder);
}
