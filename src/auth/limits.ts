/**
 * Bounds of the auth tables and the rules for their names. Enforced on apply (replicated
 * semantics) and so before proposing too: a refused command never reaches the log.
 */
import { type KvErrorResult, kvError } from '../kv/kv-errors.ts';
import { MAX_KEY_BYTES, utf8ByteLength } from '../kv/limits.ts';

export const MAX_USERS = 10_000;
export const MAX_ROLES = 1_000;
export const MAX_TOKENS = 100_000;
export const MAX_PERMISSIONS_PER_ROLE = 256;
export const MAX_ROLES_PER_USER = 64;
export const MAX_NAME_BYTES = 128;
export const MAX_DESCRIPTION_BYTES = 256;
/** Tokens live at least a second and at most ten years when given a TTL (none: no expiry). */
export const MIN_TOKEN_TTL_MS = 1000;
export const MAX_TOKEN_TTL_MS = 10 * 365 * 24 * 3600 * 1000;
/** A permission's prefix or name is a key, a prefix or a lock/election/service name: a key's bound. */
export const MAX_PERMISSION_TARGET_BYTES = MAX_KEY_BYTES;

// Names appear in URLs and CLI tables: a plain alphabet, starting with a letter or digit.
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@-]*$/;
const HASH_PATTERN = /^[0-9a-f]{64}$/;

/** Null when `name` is a valid user, role or token id; `what` names it in the message. */
export function checkAuthName(name: string, what: string): KvErrorResult | null {
  if (name.length === 0 || name.length > MAX_NAME_BYTES || !NAME_PATTERN.test(name)) {
    return kvError(
      'invalid_argument',
      `${what} must be 1..${MAX_NAME_BYTES} characters of A-Z a-z 0-9 . _ @ - starting with a letter or digit`,
    );
  }
  return null;
}

export function checkTokenHash(hash: string, what: string): KvErrorResult | null {
  return HASH_PATTERN.test(hash) ? null : kvError('invalid_argument', `${what} must be 64 lowercase hex digits (SHA-256)`);
}

export function checkPermissionTarget(target: string, what: string): KvErrorResult | null {
  if (utf8ByteLength(target) > MAX_PERMISSION_TARGET_BYTES) {
    return kvError('payload_too_large', `${what} exceeds ${MAX_PERMISSION_TARGET_BYTES} bytes`);
  }
  return null;
}

export function checkDescription(description: string, what: string): KvErrorResult | null {
  return utf8ByteLength(description) > MAX_DESCRIPTION_BYTES
    ? kvError('invalid_argument', `${what} exceeds ${MAX_DESCRIPTION_BYTES} bytes`)
    : null;
}

export function checkTokenTtl(ttlMs: number, what: string): KvErrorResult | null {
  return ttlMs < MIN_TOKEN_TTL_MS || ttlMs > MAX_TOKEN_TTL_MS
    ? kvError('invalid_argument', `${what} must be ${MIN_TOKEN_TTL_MS}..${MAX_TOKEN_TTL_MS} ms`)
    : null;
}
