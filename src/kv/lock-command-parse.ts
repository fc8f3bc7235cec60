/**
 * Validation of the lock and election commands (and of the `fence` of fenced writes), by the
 * rules every replica applies: names, owners, waiter ids and values within the bounds of
 * src/lock/limits.ts, exactly one of `lease` and `ttlMs`, a lock-delay within its maximum.
 */
import {
  MAX_ELECTION_VALUE_BYTES,
  MAX_LOCK_DELAY_MS,
  MAX_LOCK_NAME_BYTES,
  MAX_LOCK_OWNER_BYTES,
  MAX_WAITER_ID_BYTES,
  type LockKind,
} from '../lock/index.ts';
import { checkLeaseTtl, utf8ByteLength } from './limits.ts';
import type { LockCommandBody, LockFence } from './lock-commands.ts';
import { type Fields, check, count, fail, flag, leaseId, optional, record, string } from './parse-fields.ts';

export const LOCK_BODY_FIELDS: Readonly<Record<LockCommandBody['type'], readonly string[]>> = {
  lockAcquire: ['type', 'kind', 'name', 'owner', 'lease', 'ttlMs', 'lockDelayMs', 'waiterId', 'value'],
  lockRelease: ['type', 'kind', 'name', 'token'],
  lockWithdraw: ['type', 'kind', 'name', 'waiterId', 'releaseIfHolding'],
  electionProclaim: ['type', 'name', 'token', 'value'],
  lockDelayEnd: ['type', 'kind', 'name', 'token'],
};

/** A string of `minBytes`..`maxBytes` UTF-8 bytes. */
function boundedText(value: unknown, path: string, minBytes: number, maxBytes: number): string {
  const parsed = string(value, path);
  const bytes = utf8ByteLength(parsed);
  if (bytes < minBytes || bytes > maxBytes) {
    if (bytes > maxBytes && maxBytes >= MAX_ELECTION_VALUE_BYTES) {
      fail('payload_too_large', `${path} exceeds ${maxBytes} bytes`);
    }
    fail('invalid_argument', `${path} must be ${minBytes} to ${maxBytes} bytes`);
  }
  return parsed;
}

export function lockName(value: unknown, path: string): string {
  return boundedText(value, path, 1, MAX_LOCK_NAME_BYTES);
}

function owner(value: unknown, path: string): string {
  return boundedText(value, path, 0, MAX_LOCK_OWNER_BYTES);
}

function waiterId(value: unknown, path: string): string {
  return boundedText(value, path, 1, MAX_WAITER_ID_BYTES);
}

function electionValue(value: unknown, path: string): string {
  return boundedText(value, path, 0, MAX_ELECTION_VALUE_BYTES);
}

function kind(value: unknown, path: string): LockKind {
  if (value !== 'lock' && value !== 'election') fail('invalid_argument', `${path}: expected lock or election`);
  return value;
}

function ttlMs(value: unknown, path: string): number {
  if (typeof value !== 'number') fail('invalid_argument', `${path}: expected a number`);
  check(checkLeaseTtl(value, path));
  return value;
}

function lockDelayMs(value: unknown, path: string): number {
  const parsed = count(value, path);
  if (parsed > MAX_LOCK_DELAY_MS) fail('invalid_argument', `${path} must be at most ${MAX_LOCK_DELAY_MS}`);
  return parsed;
}

/** The `{kind, name}` that names a lock or an election in a fence or a txn's lock compare. */
export function lockRef(fields: Fields, path: string): { kind: LockKind; name: string } {
  return { kind: kind(fields['kind'], `${path}.kind`), name: lockName(fields['name'], `${path}.name`) };
}

/** A fenced write's `fence`: `{kind, name, token}`. */
export function parseFence(value: unknown, path: string): LockFence {
  const fields = record(value, path, ['kind', 'name', 'token']);
  return { ...lockRef(fields, path), token: count(fields['token'], `${path}.token`) };
}

export function parseLockBody(type: LockCommandBody['type'], fields: Fields): LockCommandBody {
  switch (type) {
    case 'lockAcquire': {
      const acquireKind = kind(fields['kind'], 'body.kind');
      const lease = optional(fields, 'lease', leaseId, 'body');
      const ttl = optional(fields, 'ttlMs', ttlMs, 'body');
      if ((lease.lease === undefined) === (ttl.ttlMs === undefined)) {
        fail('invalid_argument', 'body: give exactly one of lease and ttlMs');
      }
      const value = optional(fields, 'value', electionValue, 'body');
      if (acquireKind === 'election' && value.value === undefined) fail('invalid_argument', 'body.value: a campaign needs a value');
      if (acquireKind === 'lock' && value.value !== undefined) fail('invalid_argument', 'body.value: only a campaign has a value');
      return {
        type,
        kind: acquireKind,
        name: lockName(fields['name'], 'body.name'),
        owner: owner(fields['owner'], 'body.owner'),
        ...lease,
        ...ttl,
        ...optional(fields, 'lockDelayMs', lockDelayMs, 'body'),
        ...optional(fields, 'waiterId', waiterId, 'body'),
        ...value,
      };
    }
    case 'lockRelease':
    case 'lockDelayEnd':
      return { type, kind: kind(fields['kind'], 'body.kind'), name: lockName(fields['name'], 'body.name'), token: count(fields['token'], 'body.token') };
    case 'lockWithdraw':
      return {
        type,
        kind: kind(fields['kind'], 'body.kind'),
        name: lockName(fields['name'], 'body.name'),
        waiterId: waiterId(fields['waiterId'], 'body.waiterId'),
        ...optional(fields, 'releaseIfHolding', flag, 'body'),
      };
    case 'electionProclaim':
      return {
        type,
        name: lockName(fields['name'], 'body.name'),
        token: count(fields['token'], 'body.token'),
        value: electionValue(fields['value'], 'body.value'),
      };
  }
}
