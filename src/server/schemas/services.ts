/**
 * Schemas of the service registry routes. They state the registry's limits (src/registry/
 * limits.ts) so OpenAPI documents them and most bad requests stop here; byte-size limits and
 * "exactly one of ttlMs and lease" are checked by the command parser, which answers the same
 * 400 invalid_argument.
 */
import { Type } from '@sinclair/typebox';
import { MAX_LEASE_ID_BYTES, MAX_LEASE_TTL_MS, MIN_LEASE_TTL_MS } from '../../kv/index.ts';
import {
  INSTANCE_ID_PATTERN,
  INSTANCE_STATUSES,
  MAX_META_ENTRIES,
  MAX_PORT,
  MAX_TAGS,
  MIN_PORT,
  SERVICE_NAME_PATTERN,
} from '../../registry/index.ts';
import { Consistency, Revision, TimeoutMs } from './common.ts';

const closed = { additionalProperties: false } as const;
const timeoutMs = Type.Optional(TimeoutMs);

/** The longest a blocking query may wait (Consul's maximum, ten minutes). */
export const MAX_WAIT_MS = 600_000;
/** How long a blocking query waits when it gives `index` but no `waitMs`. */
export const DEFAULT_WAIT_MS = 60_000;

const ServiceName = Type.String({ pattern: SERVICE_NAME_PATTERN, description: '1-64 of [A-Za-z0-9._-], starting with a letter or digit.' });
const InstanceId = Type.String({ pattern: INSTANCE_ID_PATTERN, description: '1-128 of [A-Za-z0-9._:-], starting with a letter or digit.' });
const Status = Type.Union(
  INSTANCE_STATUSES.map((status) => Type.Literal(status)),
  { description: 'passing, warning or critical.' },
);

export const ServiceParams = Type.Object({ service: ServiceName }, closed);
export const InstanceParams = Type.Object({ service: ServiceName, id: InstanceId }, closed);

const Instance = Type.Object({
  id: Type.String(),
  address: Type.String(),
  port: Type.Integer(),
  tags: Type.Array(Type.String()),
  meta: Type.Record(Type.String(), Type.String()),
  status: Status,
  note: Type.Optional(Type.String({ description: 'The note of the last status change, when it had one.' })),
  lease: Type.String(),
  modRevision: Revision,
});

const filters = {
  status: Type.Optional(Status),
  tag: Type.Optional(Type.String({ minLength: 1, description: 'Only instances carrying this tag.' })),
};

export const serviceSchemas = {
  registerBody: Type.Object(
    {
      address: Type.String({ minLength: 1, description: 'Host name or IP address (at most 255 bytes).' }),
      port: Type.Integer({ minimum: MIN_PORT, maximum: MAX_PORT }),
      tags: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { maxItems: MAX_TAGS, description: 'Distinct, each at most 128 bytes.' })),
      meta: Type.Optional(
        Type.Record(Type.String(), Type.String(), {
          maxProperties: MAX_META_ENTRIES,
          description: 'Keys [A-Za-z][A-Za-z0-9_.-]{0,127}; values at most 512 bytes; 8 KiB in all.',
        }),
      ),
      ttlMs: Type.Optional(
        Type.Integer({ minimum: MIN_LEASE_TTL_MS, maximum: MAX_LEASE_TTL_MS, description: 'A lease of this TTL owned by the instance (revoked on deregister). Exactly one of ttlMs and lease.' }),
      ),
      lease: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_LEASE_ID_BYTES, description: 'An existing lease the instance lives on.' })),
      timeoutMs,
    },
    closed,
  ),
  registerResponse: Type.Object({ service: Type.String(), id: Type.String(), lease: Type.String(), revision: Revision }),
  /** A heartbeat may have no body at all: then it is a plain lease keepalive. */
  heartbeatBody: Type.Optional(
    Type.Object(
      {
        status: Type.Optional(Status),
        note: Type.Optional(Type.String({ description: 'Why; at most 1024 bytes. Stored with the status.' })),
        timeoutMs,
      },
      closed,
    ),
  ),
  heartbeatResponse: Type.Object({ remainingMs: Type.Integer({ description: "Time left on the instance's lease." }) }),
  timeoutQuery: Type.Object({ timeoutMs }, closed),
  revisionResponse: Type.Object({ revision: Revision }),
  listQuery: Type.Object({ consistency: Type.Optional(Consistency), timeoutMs }, closed),
  listResponse: Type.Object({
    services: Type.Array(Type.Object({ name: Type.String(), instances: Type.Integer(), passing: Type.Integer() })),
  }),
  discoverQuery: Type.Object(
    {
      ...filters,
      index: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: "Blocking query: answer once the service's revision exceeds this." })),
      waitMs: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_WAIT_MS, description: `With index: answer after this long even if nothing changed (default ${DEFAULT_WAIT_MS}).` })),
      consistency: Type.Optional(Consistency),
      timeoutMs,
    },
    closed,
  ),
  discoverResponse: Type.Object({
    revision: Type.Integer({ description: "The service's revision (also in x-concord-index): pass it as `index` to wait for the next change." }),
    instances: Type.Array(Instance),
  }),
  watchQuery: Type.Object(filters, closed),
};
