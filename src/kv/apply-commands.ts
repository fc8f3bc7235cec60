/**
 * One handler per command body, and the exhaustive switch that picks it. Handlers see only
 * well-formed bodies (the parser ran first) and decide everything from state, so every replica
 * returns the same result. A new body (locks, elections, the registry) adds a case here: the
 * switch will not compile until it does.
 */
import { assertNever } from '../common/assert.ts';
import type {
  CompactCommand,
  CompactResult,
  DeleteCommand,
  DeletePrefixCommand,
  DeletePrefixResult,
  DeleteResult,
  KvCommandBody,
  KvResult,
  LeaseGrantCommand,
  LeaseGrantResult,
  LeaseRevokeResult,
  PutCommand,
  PutResult,
} from './commands.ts';
import { type KvErrorResult, kvError } from './kv-errors.ts';
import type { KeyValue } from './types.ts';
import { type ApplyContext, finishWrite } from './apply-context.ts';
import { applyTxn } from './txn.ts';
import { applyAuthBody } from '../auth/apply.ts';
import { afterLeaseKeysDeleted, applyServiceDeregister, applyServiceRegister, applyServiceStatus } from '../registry/apply.ts';
import {
  applyElectionProclaim,
  applyLockAcquire,
  applyLockDelayEnd,
  applyLockRelease,
  applyLockWithdraw,
  fenceFailure,
  locksAfterLeaseEnded,
} from './apply-locks.ts';

export function applyBody(context: ApplyContext, body: KvCommandBody): KvResult {
  switch (body.type) {
    case 'put':
      return applyPut(context, body);
    case 'delete':
      return applyDelete(context, body);
    case 'deletePrefix':
      return applyDeletePrefix(context, body);
    case 'txn':
      return applyTxn(context, body);
    case 'leaseGrant':
      return applyLeaseGrant(context, body);
    case 'leaseRevoke':
    case 'leaseExpire':
      return applyLeaseEnd(context, body.id, body.type);
    case 'compact':
      return applyCompact(context, body);
    case 'serviceRegister':
      return applyServiceRegister(context, body);
    case 'serviceDeregister':
      return applyServiceDeregister(context, body);
    case 'serviceStatus':
      return applyServiceStatus(context, body);
    case 'lockAcquire':
      return applyLockAcquire(context, body);
    case 'lockRelease':
      return applyLockRelease(context, body);
    case 'lockWithdraw':
      return applyLockWithdraw(context, body);
    case 'electionProclaim':
      return applyElectionProclaim(context, body);
    case 'lockDelayEnd':
      return applyLockDelayEnd(context, body);
    case 'authRolePut':
    case 'authRoleDelete':
    case 'authUserPut':
    case 'authUserDelete':
    case 'authTokenCreate':
    case 'authTokenRevoke':
    case 'authBootstrap':
      return applyAuthBody(context, body);
    default:
      return assertNever(body, 'command body');
  }
}

/** The contract's compare_failed for `ifRevision`; `current` is the key now, or null if absent. */
function ifRevisionFailure(
  key: string,
  current: KeyValue | undefined,
  ifRevision: number | undefined,
): KvErrorResult | null {
  if (ifRevision === undefined) return null;
  const actual = current?.modRevision ?? 0;
  if (actual === ifRevision) return null;
  const expected = ifRevision === 0 ? 'absent' : `at modRevision ${ifRevision}`;
  const found = current === undefined ? 'absent' : `at modRevision ${actual}`;
  return kvError('compare_failed', `key ${JSON.stringify(key)} is ${found}, not ${expected}`, {
    current: current ?? null,
  });
}

function leaseNotFound(id: string): KvErrorResult {
  return kvError('not_found', `lease ${JSON.stringify(id)} not found`, { lease: id });
}

function applyPut(context: ApplyContext, body: PutCommand): PutResult | KvErrorResult {
  const stale = fenceFailure(context, body.fence);
  if (stale !== null) return stale;
  const failure = ifRevisionFailure(body.key, context.store.get(body.key), body.ifRevision);
  if (failure !== null) return failure;
  if (body.lease !== undefined && !context.leases.has(body.lease)) return leaseNotFound(body.lease);
  const write = context.store.beginWrite();
  const prev = write.put(body.key, body.value, body.lease);
  const revision = finishWrite(context, write);
  return body.prevKv === true && prev !== undefined ? { revision, prev } : { revision };
}

function applyDelete(context: ApplyContext, body: DeleteCommand): DeleteResult | KvErrorResult {
  const failure = ifRevisionFailure(body.key, context.store.get(body.key), body.ifRevision);
  if (failure !== null) return failure;
  const write = context.store.beginWrite();
  const deleted = write.delete(body.key) === undefined ? 0 : 1;
  return { revision: finishWrite(context, write), deleted };
}

function applyDeletePrefix(context: ApplyContext, body: DeletePrefixCommand): DeletePrefixResult {
  // Collected first: the tree is not edited while it is being iterated.
  const { items } = context.store.range(body.prefix);
  const write = context.store.beginWrite();
  for (const kv of items) write.delete(kv.key);
  return { revision: finishWrite(context, write), deleted: items.length };
}

function applyLeaseGrant(context: ApplyContext, body: LeaseGrantCommand): LeaseGrantResult | KvErrorResult {
  if (body.id !== undefined) {
    const existingTtlMs = context.leases.ttlMsOf(body.id);
    if (existingTtlMs !== undefined) {
      // A conflict with what exists, as a create-if-absent guard that did not hold.
      return kvError('compare_failed', `lease ${JSON.stringify(body.id)} already exists`, {
        current: { id: body.id, ttlMs: existingTtlMs },
      });
    }
  }
  const id = context.leases.grant(body.ttlMs, body.id);
  context.leasesGranted.push({ id, ttlMs: body.ttlMs });
  return { id, ttlMs: body.ttlMs, revision: context.store.revision };
}

/**
 * Revoke and expiry alike: the lease's keys are deleted at one revision, then the lease goes,
 * and with it the locks it held and its places in lock queues (handed on in this same entry).
 */
export function applyLeaseEnd(
  context: ApplyContext,
  id: string,
  how: 'leaseRevoke' | 'leaseExpire',
): LeaseRevokeResult | KvErrorResult {
  if (!context.leases.has(id)) return leaseNotFound(id);
  const keys = context.leases.keysOf(id);
  const write = context.store.beginWrite();
  for (const key of keys) write.delete(key);
  // Registry instances on this lease go with it; their services change at this revision.
  afterLeaseKeysDeleted(write, keys);
  const revision = finishWrite(context, write);
  context.leases.remove(id);
  context.leasesRemoved.push(id);
  locksAfterLeaseEnded(context, id, how === 'leaseExpire' ? 'lease_expired' : 'lease_revoked');
  return { revision, deleted: keys.length };
}

function applyCompact(context: ApplyContext, body: CompactCommand): CompactResult | KvErrorResult {
  if (body.revision > context.store.revision) {
    return kvError('invalid_argument', `revision ${body.revision} is in the future (now ${context.store.revision})`, {
      revision: context.store.revision,
    });
  }
  context.feed.compact(body.revision);
  return { revision: context.store.revision, compactRevision: context.feed.compactRevision };
}
