/** Schemas of the lease routes. TTLs are milliseconds, with no hidden multiplier. */
import { Type } from '@sinclair/typebox';
import { MAX_LEASE_ID_BYTES, MAX_LEASE_TTL_MS, MIN_LEASE_TTL_MS } from '../../kv/index.ts';
import { Revision, TimeoutMs, TimeoutQuery } from './common.ts';

const closed = { additionalProperties: false } as const;

export const LeaseIdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: MAX_LEASE_ID_BYTES }) }, closed);

const LeaseStatus = {
  id: Type.String(),
  ttlMs: Type.Integer(),
  remainingMs: Type.Integer({ description: "Time left on the leader's countdown." }),
};

const timeoutMs = Type.Optional(TimeoutMs);

export const leaseSchemas = {
  grantBody: Type.Object(
    {
      ttlMs: Type.Integer({ minimum: MIN_LEASE_TTL_MS, maximum: MAX_LEASE_TTL_MS }),
      id: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_LEASE_ID_BYTES, description: 'A lease id of your choosing.' })),
      timeoutMs,
    },
    closed,
  ),
  grantResponse: Type.Object({ id: Type.String(), ttlMs: Type.Integer() }),
  /** Keepalive takes no body; a client that sends `{}` or a deadline is welcome too. */
  keepAliveBody: Type.Optional(Type.Object({ timeoutMs }, closed)),
  timeoutQuery: TimeoutQuery,
  statusResponse: Type.Object(LeaseStatus),
  infoResponse: Type.Object({ ...LeaseStatus, keys: Type.Array(Type.String()) }),
  listResponse: Type.Object({ leases: Type.Array(Type.Object(LeaseStatus)) }),
  revokeResponse: Type.Object({ revision: Revision }),
};
