/**
 * The registry's command handlers, run by the KV state machine's apply switch. Each change is
 * one MVCC write: the instance keys it puts or deletes plus the marker of every service whose
 * instance list changed, all at one revision. Instances ride on leases like any key does, so a
 * lease's expiry or revocation deletes its instances in that same entry; afterLeaseKeysDeleted
 * lets the lease handler mark their services changed in the same write.
 *
 * A lease the instance owns (registered with ttlMs) is revoked with it: deregistering deletes
 * whatever else is attached to that lease and ends the lease at the same revision.
 */
import { type ApplyContext, finishWrite } from '../kv/apply-context.ts';
import { type KvErrorResult, kvError } from '../kv/kv-errors.ts';
import type { MvccWrite } from '../kv/mvcc-store.ts';
import { type InstanceRecord, decodeRecord, encodeRecord } from './instance-record.ts';
import { instanceKey, parseInstanceKey, serviceMarkerKey } from './keys.ts';
import type {
  ServiceDeregisterCommand,
  ServiceDeregisterResult,
  ServiceRegisterCommand,
  ServiceRegisterResult,
  ServiceStatusCommand,
  ServiceStatusResult,
} from './types.ts';

function instanceNotFound(service: string, id: string): KvErrorResult {
  return kvError('not_found', `instance ${JSON.stringify(id)} of service ${JSON.stringify(service)} not found`, { service, id });
}

/** Rewrites the marker of each service named, in name order, so its revision becomes this write's. */
function markServicesChanged(write: MvccWrite, services: Iterable<string>): void {
  for (const service of [...new Set(services)].sort()) write.put(serviceMarkerKey(service), '');
}

/** The services of the instance keys among `keys`. */
function servicesOf(keys: readonly string[]): string[] {
  return keys.flatMap((key) => {
    const address = parseInstanceKey(key);
    return address === null ? [] : [address.service];
  });
}

/**
 * Deletes every key still attached to `lease` inside `write`; returns them. The caller ends the
 * lease (leases.remove) once the write is committed.
 */
function deleteLeaseKeys(context: ApplyContext, write: MvccWrite, lease: string): string[] {
  const keys = context.leases.keysOf(lease);
  for (const key of keys) write.delete(key);
  return keys;
}

function endLease(context: ApplyContext, lease: string): void {
  context.leases.remove(lease);
  context.leasesRemoved.push(lease);
}

/**
 * For the lease handler (revoke, expiry): `deletedKeys` were deleted in `write`; the services of
 * any instances among them change at this revision too.
 */
export function afterLeaseKeysDeleted(write: MvccWrite, deletedKeys: readonly string[]): void {
  markServicesChanged(write, servicesOf(deletedKeys));
}

interface LeaseChoice {
  readonly lease: string;
  /** Start (or restart) the leader's countdown for this lease at full TTL. */
  readonly countdownTtlMs: number | null;
  /** The instance's previous own lease, replaced: revoked in this entry. */
  readonly retired: string | null;
}

/**
 * Which lease a registration rides on. With ttlMs, an instance that already owns a lease of
 * that TTL keeps it (the re-registration restarts its countdown); otherwise it gets a new one.
 * A previously owned lease that is no longer used is revoked.
 */
function chooseLease(
  context: ApplyContext,
  body: ServiceRegisterCommand,
  previous: { record: InstanceRecord; lease: string } | null,
): LeaseChoice | KvErrorResult {
  const ownedBefore = previous !== null && previous.record.ownsLease ? previous.lease : null;
  if (body.lease !== undefined) {
    if (!context.leases.has(body.lease)) {
      return kvError('not_found', `lease ${JSON.stringify(body.lease)} not found`, { lease: body.lease });
    }
    return { lease: body.lease, countdownTtlMs: null, retired: ownedBefore === body.lease ? null : ownedBefore };
  }
  const ttlMs = body.ttlMs ?? 0;
  if (ownedBefore !== null && context.leases.ttlMsOf(ownedBefore) === ttlMs) {
    return { lease: ownedBefore, countdownTtlMs: ttlMs, retired: null };
  }
  return { lease: context.leases.grant(ttlMs), countdownTtlMs: ttlMs, retired: ownedBefore };
}

export function applyServiceRegister(context: ApplyContext, body: ServiceRegisterCommand): ServiceRegisterResult | KvErrorResult {
  const key = instanceKey(body.service, body.id);
  const existing = context.store.get(key);
  const previous = existing?.lease === undefined ? null : { record: decodeRecord(existing.value, key), lease: existing.lease };
  const choice = chooseLease(context, body, previous);
  if ('error' in choice) return choice;
  const record: InstanceRecord = {
    address: body.address,
    port: body.port,
    tags: body.tags,
    meta: body.meta,
    // A re-registration keeps the health its heartbeats reported; a new instance starts passing.
    status: previous?.record.status ?? 'passing',
    note: previous?.record.note ?? '',
    ownsLease: body.ttlMs !== undefined,
  };
  const write = context.store.beginWrite();
  write.put(key, encodeRecord(record), choice.lease);
  const removed = choice.retired === null ? [] : deleteLeaseKeys(context, write, choice.retired);
  markServicesChanged(write, [body.service, ...servicesOf(removed)]);
  const revision = finishWrite(context, write);
  if (choice.retired !== null) endLease(context, choice.retired);
  if (choice.countdownTtlMs !== null) context.leasesGranted.push({ id: choice.lease, ttlMs: choice.countdownTtlMs });
  return { service: body.service, id: body.id, lease: choice.lease, revision };
}

export function applyServiceDeregister(context: ApplyContext, body: ServiceDeregisterCommand): ServiceDeregisterResult | KvErrorResult {
  const key = instanceKey(body.service, body.id);
  const existing = context.store.get(key);
  if (existing?.lease === undefined) return instanceNotFound(body.service, body.id);
  const ownedLease = decodeRecord(existing.value, key).ownsLease ? existing.lease : null;
  const write = context.store.beginWrite();
  write.delete(key);
  const removed = ownedLease === null ? [] : deleteLeaseKeys(context, write, ownedLease);
  markServicesChanged(write, [body.service, ...servicesOf(removed)]);
  const revision = finishWrite(context, write);
  if (ownedLease !== null) endLease(context, ownedLease);
  return { revision };
}

export function applyServiceStatus(context: ApplyContext, body: ServiceStatusCommand): ServiceStatusResult | KvErrorResult {
  const key = instanceKey(body.service, body.id);
  const existing = context.store.get(key);
  if (existing?.lease === undefined) return instanceNotFound(body.service, body.id);
  const record = decodeRecord(existing.value, key);
  // Two heartbeats reporting the same change race harmlessly: the second writes nothing.
  if (record.status === body.status && record.note === body.note) return { revision: context.store.revision, changed: false };
  const write = context.store.beginWrite();
  write.put(key, encodeRecord({ ...record, status: body.status, note: body.note }), existing.lease);
  markServicesChanged(write, [body.service]);
  return { revision: finishWrite(context, write), changed: true };
}
