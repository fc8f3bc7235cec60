/**
 * Token secrets, on the server side of the line the deterministic core draws: the server makes
 * a token's random secret and id, and hashes the secret; only the hash is proposed. SHA-256
 * without salt or stretching is enough here because the secrets are 256 random bits — nobody can
 * guess one, so there is nothing for a slow hash (bcrypt, scrypt) to slow down, and a fast hash
 * keeps authenticating every request cheap. A bootstrap secret is the operator's choice, so it
 * must be long (MIN_BOOTSTRAP_TOKEN_CHARS) and should come from a random generator.
 */
import { createHash, randomBytes } from 'node:crypto';

/** Plain tokens start with this, so they are recognisable in a leaked log or a secret scanner. */
export const TOKEN_PREFIX = 'concord_';
export const MIN_BOOTSTRAP_TOKEN_CHARS = 24;
/** Longer than any token we make or a sane operator picks: refuse before hashing megabytes. */
export const MAX_PRESENTED_TOKEN_CHARS = 512;

export function hashToken(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** A fresh token: 32 random bytes, base64url. */
export function newTokenSecret(): string {
  return `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
}

/** A fresh public token id (what revocation and listings name). */
export function newTokenId(): string {
  return `t${randomBytes(8).toString('hex')}`;
}

/** The bearer token of an `authorization` header, or null when there is none in that form. */
export function bearerToken(header: string | string[] | undefined): string | null {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined) return null;
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(value);
  return match?.[1] ?? null;
}
