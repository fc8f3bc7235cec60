/**
 * What the lock and the election routes share, an election being a lock whose holder carries a
 * value (src/lock): taking a holding (acquire, campaign), which may wait in line; ending it by
 * its token (release, resign); and leaving the queue (withdraw, what a node calls on the leader
 * when a waiting request ended), and reading the lock table. Each kind mounts them under its own
 * prefix, with its own words.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { LockGrant } from '../../kv/index.ts';
import type { LockKind, LockQueries } from '../../lock/index.ts';
import type { ConcordApp, ServerContext } from '../context.ts';
import { acquireOnLeader } from '../locks/blocking-acquire.ts';
import { checkOneLease, holdScope } from '../locks/hold-scope.ts';
import type { LockWaiters } from '../locks/lock-waiters.ts';
import { RequestScope } from '../request-scope.ts';
import { ERROR_RESPONSES } from '../schemas/common.ts';
import { NameParams, holdingSchemas } from '../schemas/locks.ts';
import { type Consistency, REVISION_HEADER, proposeOnLeader, readBarrier } from './route-helpers.ts';

/** Where each kind's routes live, and the OpenAPI tag they are listed under. */
const MOUNTS: Readonly<Record<LockKind, { readonly prefix: string; readonly tag: string }>> = {
  lock: { prefix: '/v1/locks', tag: 'locks' },
  election: { prefix: '/v1/elections', tag: 'elections' },
};

/** An acquire's or a campaign's body: exactly one of ttlMs and lease; waitMs 0 tries once. */
export interface HoldingBody {
  readonly ttlMs?: number;
  readonly lease?: string;
  readonly waitMs?: number;
  readonly owner?: string;
  readonly lockDelayMs?: number;
  /** Elections: what the leader proclaims. */
  readonly value?: string;
  readonly timeoutMs?: number;
}

/**
 * Acquires the lock (or campaigns) `name` on the leader, waiting in line up to `waitMs`. Returns
 * the holding, or null when the leader answered a forwarded request and that answer was sent.
 */
export async function takeHolding(
  context: ServerContext,
  waiters: LockWaiters,
  request: FastifyRequest,
  reply: FastifyReply,
  holding: { readonly kind: LockKind; readonly name: string; readonly body: HoldingBody; readonly queryTimeoutMs: number | undefined },
): Promise<LockGrant | null> {
  const { ttlMs, lease, waitMs = 0, owner = '', lockDelayMs, value, timeoutMs } = holding.body;
  checkOneLease(ttlMs, lease);
  const scope = holdScope(request, context, timeoutMs ?? holding.queryTimeoutMs, waitMs);
  const command = {
    type: 'lockAcquire' as const,
    kind: holding.kind,
    name: holding.name,
    owner,
    ...(value === undefined ? {} : { value }),
    ...(ttlMs === undefined ? {} : { ttlMs }),
    ...(lease === undefined ? {} : { lease }),
    ...(lockDelayMs === undefined ? {} : { lockDelayMs }),
  };
  return acquireOnLeader(context, waiters, request, reply, scope, { command, waitMs });
}

/**
 * Locks and elections are read from this replica's lock table: after a ReadIndex barrier unless
 * the query asks for `serializable`, with `x-concord-revision` the store revision it is read at.
 */
export async function readLockTable(
  context: ServerContext,
  request: FastifyRequest,
  reply: FastifyReply,
  query: { readonly consistency?: Consistency; readonly timeoutMs?: number },
): Promise<LockQueries> {
  const scope = new RequestScope(request, context.limits, query.timeoutMs);
  await readBarrier(context, scope, query.consistency);
  const { kv } = context.deps.node;
  reply.header(REVISION_HEADER, String(kv.revision));
  return kv.locks;
}

/** POST {prefix}/:name/{verb} (release, resign): ends the holding whose token is given. */
export function registerEndHoldingRoute(app: ConcordApp, context: ServerContext, kind: LockKind, verb: string, summary: string): void {
  const { prefix, tag } = MOUNTS[kind];
  app.post(
    `${prefix}/:name/${verb}`,
    {
      schema: {
        tags: [tag],
        summary,
        params: NameParams,
        querystring: holdingSchemas.timeoutQuery,
        body: holdingSchemas.tokenBody,
        response: { 200: holdingSchemas.revisionResponse, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const { token, timeoutMs } = request.body;
      const scope = new RequestScope(request, context.limits, timeoutMs ?? request.query.timeoutMs);
      const result = await proposeOnLeader(context, request, reply, scope, { type: 'lockRelease', kind, name: request.params.name, token });
      return result === null ? reply : { revision: result.revision };
    },
  );
}

/** POST {prefix}/:name/withdraw: a waiter leaves the queue (see locks/withdraw.ts). */
export function registerWithdrawRoute(app: ConcordApp, context: ServerContext, kind: LockKind, summary: string): void {
  const { prefix, tag } = MOUNTS[kind];
  app.post(
    `${prefix}/:name/withdraw`,
    {
      schema: {
        tags: [tag],
        summary,
        params: NameParams,
        querystring: holdingSchemas.timeoutQuery,
        body: holdingSchemas.withdrawBody,
        response: { 200: holdingSchemas.withdrawResponse, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const { waiterId, releaseIfHolding, timeoutMs } = request.body;
      const scope = new RequestScope(request, context.limits, timeoutMs ?? request.query.timeoutMs);
      const body = { type: 'lockWithdraw' as const, kind, name: request.params.name, waiterId, ...(releaseIfHolding === undefined ? {} : { releaseIfHolding }) };
      const result = await proposeOnLeader(context, request, reply, scope, body);
      return result ?? reply;
    },
  );
}
