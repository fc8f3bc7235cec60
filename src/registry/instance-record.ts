/**
 * An instance's record: the value of its key in the store, as JSON. Fields are written in a
 * fixed order and meta sorted by key, so equal registrations are equal bytes on every replica.
 * Only registry code writes these keys (clients cannot write system keys), so a record that
 * does not decode is a broken invariant, not bad input.
 */
import { assert } from '../common/assert.ts';
import type { KeyValue } from '../kv/types.ts';
import { INSTANCE_STATUSES, type InstanceStatus, type ServiceInstance } from './types.ts';

export interface InstanceRecord {
  readonly address: string;
  readonly port: number;
  readonly tags: readonly string[];
  readonly meta: Readonly<Record<string, string>>;
  readonly status: InstanceStatus;
  readonly note: string;
  /** The instance's lease was granted for it (ttlMs) and is revoked when it deregisters. */
  readonly ownsLease: boolean;
}

/** Meta with its keys in sorted order (Object.fromEntries defines own properties, even `__proto__`). */
export function sortedMeta(meta: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(meta).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

export function encodeRecord(record: InstanceRecord): string {
  return JSON.stringify({
    address: record.address,
    port: record.port,
    tags: record.tags,
    meta: sortedMeta(record.meta),
    status: record.status,
    note: record.note,
    ownsLease: record.ownsLease,
  });
}

function isStringRecord(value: unknown): value is Record<string, string> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.values(value).every((v) => typeof v === 'string');
}

export function decodeRecord(value: string, key: string): InstanceRecord {
  const parsed: unknown = JSON.parse(value);
  assert(typeof parsed === 'object' && parsed !== null, () => `registry record ${key} is not an object`);
  const fields = parsed as Record<string, unknown>;
  const { address, port, tags, meta, status, note, ownsLease } = fields;
  assert(
    typeof address === 'string' &&
      typeof port === 'number' &&
      Array.isArray(tags) &&
      tags.every((tag) => typeof tag === 'string') &&
      isStringRecord(meta) &&
      INSTANCE_STATUSES.includes(status as InstanceStatus) &&
      typeof note === 'string' &&
      typeof ownsLease === 'boolean',
    () => `registry record ${key} is malformed`,
  );
  return { address, port, tags: tags as string[], meta, status: status as InstanceStatus, note, ownsLease };
}

/** The instance a stored key holds, as queries return it. */
export function toInstance(id: string, kv: KeyValue): ServiceInstance {
  const record = decodeRecord(kv.value, kv.key);
  assert(kv.lease !== undefined, () => `registry instance ${kv.key} has no lease`);
  return {
    id,
    address: record.address,
    port: record.port,
    tags: record.tags,
    meta: record.meta,
    status: record.status,
    ...(record.note === '' ? {} : { note: record.note }),
    lease: kv.lease,
    modRevision: kv.modRevision,
  };
}
