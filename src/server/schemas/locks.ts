/**
 * Schemas of the lock and election routes. Names are path segments (URL-encode a `/`); the state
 * machine enforces the byte bounds of src/lock/limits.ts with the same rules on every replica.
 */
import { Type } from '@sinclair/typebox';
import {
  MAX_ELECTION_VALUE_BYTES,
  MAX_LOCK_DELAY_MS,
  MAX_LOCK_NAME_BYTES,
  MAX_LOCK_OWNER_BYTES,
  MAX_WAITER_ID_BYTES,
} from '../../lock/index.ts';
import { MAX_LEASE_ID_BYTES, MAX_LEASE_TTL_MS, MIN_LEASE_TTL_MS } from '../../kv/index.ts';
import { Consistency, Revision, TIMEOUT_MS_CEILING, TimeoutMs, TimeoutQuery } from './common.ts';

const closed = { additionalProperties: false } as const;
const timeoutMs = Type.Optional(TimeoutMs);

export const NameParams = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: MAX_LOCK_NAME_BYTES, description: 'The lock or election name (URL-encoded).' }) },
  closed,
);

const Token = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'A fencing token.' });

/** What acquire and campaign share: the lease (exactly one of ttlMs and lease) and the wait. */
const holdingFields = {
  ttlMs: Type.Optional(
    Type.Integer({ minimum: MIN_LEASE_TTL_MS, maximum: MAX_LEASE_TTL_MS, description: 'Grant a lease of this TTL with the lock; it is revoked on release.' }),
  ),
  lease: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_LEASE_ID_BYTES, description: 'Hold the lock on this existing lease.' })),
  waitMs: Type.Optional(
    Type.Integer({
      minimum: 0,
      maximum: TIMEOUT_MS_CEILING,
      description: 'How long to wait in line (FIFO); 0 (default) tries once. Without timeoutMs, the deadline is waitMs + 5000.',
    }),
  ),
  owner: Type.Optional(Type.String({ maxLength: MAX_LOCK_OWNER_BYTES, description: 'A label for operators (shown as the holder).' })),
  timeoutMs,
};

const Holder = Type.Object({ owner: Type.String(), token: Token, lease: Type.String() });
const Leader = Type.Object({ value: Type.String(), token: Token, lease: Type.String() });

const LockView = Type.Object({
  name: Type.String(),
  held: Type.Boolean(),
  holder: Type.Optional(Holder),
  waiters: Type.Integer({ minimum: 0 }),
  recent: Type.Array(
    Type.Object({
      owner: Type.String(),
      token: Token,
      endedRevision: Revision,
      reason: Type.Union([Type.Literal('released'), Type.Literal('lease_expired'), Type.Literal('lease_revoked')]),
    }),
    { description: 'The last ten holders, newest first.' },
  ),
  lockDelayed: Type.Boolean({ description: 'A lock-delay is in force after an involuntary loss: nobody is granted the lock yet.' }),
});

/** The routes locks and elections share (routes/holding-routes.ts). */
export const holdingSchemas = {
  /** Release and resign: the token of the holding to end. */
  tokenBody: Type.Object({ token: Token, timeoutMs }, closed),
  revisionResponse: Type.Object({ revision: Revision }),
  withdrawBody: Type.Object(
    { waiterId: Type.String({ minLength: 1, maxLength: MAX_WAITER_ID_BYTES }), releaseIfHolding: Type.Optional(Type.Boolean()), timeoutMs },
    closed,
  ),
  withdrawResponse: Type.Object({ status: Type.String(), revision: Revision }, { additionalProperties: true }),
  timeoutQuery: TimeoutQuery,
};

export const lockSchemas = {
  acquireBody: Type.Object(
    {
      ...holdingFields,
      lockDelayMs: Type.Optional(
        Type.Integer({ minimum: 0, maximum: MAX_LOCK_DELAY_MS, description: 'If this holder is lost involuntarily (lease expired or revoked), nobody gets the lock for this long.' }),
      ),
    },
    closed,
  ),
  acquireResponse: Type.Object({ name: Type.String(), token: Token, lease: Type.String(), owner: Type.String() }),
  view: LockView,
  viewQuery: Type.Object({ consistency: Type.Optional(Consistency), timeoutMs }, closed),
  listQuery: Type.Object(
    { prefix: Type.Optional(Type.String({ maxLength: MAX_LOCK_NAME_BYTES })), consistency: Type.Optional(Consistency), timeoutMs },
    closed,
  ),
  listResponse: Type.Object({ locks: Type.Array(LockView, { description: 'Held locks, sorted by name.' }) }),
  timeoutQuery: TimeoutQuery,
};

export const electionSchemas = {
  campaignBody: Type.Object(
    { value: Type.String({ maxLength: MAX_ELECTION_VALUE_BYTES, description: 'What the leader proclaims (an address, say).' }), ...holdingFields },
    closed,
  ),
  campaignResponse: Type.Object({ name: Type.String(), leader: Leader }),
  proclaimBody: Type.Object({ token: Token, value: Type.String({ maxLength: MAX_ELECTION_VALUE_BYTES }), timeoutMs }, closed),
  proclaimResponse: Type.Object({ name: Type.String(), leader: Leader, revision: Revision }),
  leaderResponse: Type.Object({ name: Type.String(), leader: Type.Optional(Leader) }),
  viewQuery: Type.Object({ consistency: Type.Optional(Consistency), timeoutMs }, closed),
  timeoutQuery: TimeoutQuery,
};

/** The `fence` of a fenced write: a lock's or an election's token. */
export const FenceSchema = Type.Union(
  [
    Type.Object({ lock: Type.String({ minLength: 1, maxLength: MAX_LOCK_NAME_BYTES }), token: Token }, closed),
    Type.Object({ election: Type.String({ minLength: 1, maxLength: MAX_LOCK_NAME_BYTES }), token: Token }, closed),
  ],
  { description: 'Apply only while this token holds the lock (or leads the election); else 409 stale_token.' },
);

/** The state machine's form of a fence. */
export function fenceOf(fence: { lock: string; token: number } | { election: string; token: number }): {
  kind: 'lock' | 'election';
  name: string;
  token: number;
} {
  return 'lock' in fence ? { kind: 'lock', name: fence.lock, token: fence.token } : { kind: 'election', name: fence.election, token: fence.token };
}
