/**
 * Every limit of the KV state machine, in one place. The state machine enforces them on apply
 * (so a replica never stores what another would reject) and the server may check the same rules
 * before proposing (parseCommand does exactly what apply does). Values from the HTTP contract:
 * keys are 1..1024 bytes (413 beyond), values at most a configured size (default 1 MiB), a txn
 * at most 128 ops, a lease TTL at least 500 ms.
 */
import { type KvErrorResult, kvError } from './kv-errors.ts';
import { isSystemKey } from './system-keys.ts';

export const MAX_KEY_BYTES = 1024;
export const DEFAULT_MAX_VALUE_BYTES = 1024 * 1024;
/** Ops of a txn, success and failure branches together (the contract's "at most 128 ops"). */
export const MAX_TXN_OPS = 128;
/** Compares of a txn: bounded like its ops, so one command's work stays bounded. */
export const MAX_TXN_COMPARES = 128;
export const MIN_LEASE_TTL_MS = 500;
/** Node's timers overflow past 2^31-1 ms (about 24.8 days) and would fire at once. */
export const MAX_LEASE_TTL_MS = 2_147_483_647;
/** A client-requested lease id: it appears in URLs and in every attached key's record. */
export const MAX_LEASE_ID_BYTES = 128;
export const MAX_IDEMPOTENCY_KEY_BYTES = 256;
/** Retained watch events (whole revisions are dropped, oldest first, beyond this). */
export const DEFAULT_HISTORY_MAX_EVENTS = 10_000;
/** The contract's dedup window: a retry within 10 minutes returns the first outcome. */
export const DEFAULT_DEDUP_WINDOW_MS = 10 * 60 * 1000;
/** Bounds the dedup table's memory; beyond it the oldest entries go first. */
export const DEFAULT_DEDUP_MAX_ENTRIES = 100_000;

/** The limits that are configurable; they must be equal on every replica (see state-machine.ts). */
export interface KvLimits {
  readonly maxValueBytes: number;
}

export const DEFAULT_KV_LIMITS: KvLimits = { maxValueBytes: DEFAULT_MAX_VALUE_BYTES };

/** The UTF-8 length of `text` as msgpack and JSON carry it (a lone surrogate becomes U+FFFD). */
export function utf8ByteLength(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length && isLowSurrogate(text.charCodeAt(i + 1))) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

function isLowSurrogate(unit: number): boolean {
  return unit >= 0xdc00 && unit <= 0xdfff;
}

/** Whether `text` fits `maxBytes` of UTF-8, without counting when the answer is obvious. */
function fitsBytes(text: string, maxBytes: number): boolean {
  if (text.length * 3 <= maxBytes) return true; // no UTF-16 unit takes more than 3 bytes
  if (text.length > maxBytes) return false; // every unit takes at least 1
  return utf8ByteLength(text) <= maxBytes;
}

/** Keys starting with U+FFFF hold Concord's own records (system-keys.ts). */
function systemKeyRefused(what: string): KvErrorResult {
  return kvError('invalid_argument', `${what} must not start with U+FFFF (reserved for Concord's own records)`);
}

/** Null when `key` is a valid key; else the error the contract gives. `what` names it. */
export function checkKey(key: string, what = 'key'): KvErrorResult | null {
  if (key.length === 0) return kvError('invalid_argument', `${what} must not be empty`);
  if (isSystemKey(key)) return systemKeyRefused(what);
  if (!fitsBytes(key, MAX_KEY_BYTES)) {
    return kvError('payload_too_large', `${what} exceeds ${MAX_KEY_BYTES} bytes`, { limitBytes: MAX_KEY_BYTES });
  }
  return null;
}

/** A prefix may be empty (all keys) where the caller allows it, but never longer than a key. */
export function checkPrefix(prefix: string, what = 'prefix'): KvErrorResult | null {
  if (isSystemKey(prefix)) return systemKeyRefused(what);
  if (!fitsBytes(prefix, MAX_KEY_BYTES)) {
    return kvError('payload_too_large', `${what} exceeds ${MAX_KEY_BYTES} bytes`, { limitBytes: MAX_KEY_BYTES });
  }
  return null;
}

export function checkValue(value: string, limits: KvLimits, what = 'value'): KvErrorResult | null {
  if (!fitsBytes(value, limits.maxValueBytes)) {
    return kvError('payload_too_large', `${what} exceeds ${limits.maxValueBytes} bytes`, {
      limitBytes: limits.maxValueBytes,
    });
  }
  return null;
}

export function checkLeaseTtl(ttlMs: number, what = 'ttlMs'): KvErrorResult | null {
  if (!Number.isSafeInteger(ttlMs) || ttlMs < MIN_LEASE_TTL_MS || ttlMs > MAX_LEASE_TTL_MS) {
    return kvError('invalid_argument', `${what} must be an integer from ${MIN_LEASE_TTL_MS} to ${MAX_LEASE_TTL_MS}`);
  }
  return null;
}

export function checkLeaseId(id: string, what = 'lease'): KvErrorResult | null {
  if (id.length === 0 || !fitsBytes(id, MAX_LEASE_ID_BYTES)) {
    return kvError('invalid_argument', `${what} must be 1 to ${MAX_LEASE_ID_BYTES} bytes`);
  }
  return null;
}

export function checkIdempotencyKey(key: string): KvErrorResult | null {
  if (key.length === 0 || !fitsBytes(key, MAX_IDEMPOTENCY_KEY_BYTES)) {
    return kvError('invalid_argument', `idempotencyKey must be 1 to ${MAX_IDEMPOTENCY_KEY_BYTES} bytes`);
  }
  return null;
}
