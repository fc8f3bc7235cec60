/**
 * Lock routes: acquire (try once, or wait in line up to waitMs), release by token, the lock's
 * state, the held locks. Writes run on the leader (forwarded from followers); reads answer from
 * this replica after a ReadIndex barrier unless `consistency=serializable`. `withdraw` is what a
 * node calls on the leader when a waiting request ended; clients have no need for it.
 */
import type { LockView } from '../../lock/index.ts';
import type { ConcordApp, ServerContext } from '../context.ts';
import type { LockWaiters } from '../locks/lock-waiters.ts';
import { ERROR_RESPONSES } from '../schemas/common.ts';
import { NameParams, lockSchemas } from '../schemas/locks.ts';
import { readLockTable, registerEndHoldingRoute, registerWithdrawRoute, takeHolding } from './holding-routes.ts';

/** A lock nobody has held (or forgotten after long idleness) is simply free. */
function freeLock(name: string): LockView {
  return { name, held: false, waiters: 0, recent: [], lockDelayed: false };
}

export function registerLockRoutes(app: ConcordApp, context: ServerContext, waiters: LockWaiters): void {
  const schemas = lockSchemas;
  const tags = ['locks'];

  app.post(
    '/v1/locks/:name/acquire',
    {
      schema: {
        tags,
        summary: 'Acquire a lock: try once (waitMs 0) or wait in line (FIFO) up to waitMs.',
        description:
          'Exactly one of ttlMs (a lease granted with the lock, revoked on release) and lease (an existing lease). ' +
          '423 locked names the holder. The token is a fencing token: strictly greater for every later holder. ' +
          'Acquiring again with the lease that holds the lock returns the same token.',
        params: NameParams,
        querystring: schemas.timeoutQuery,
        body: schemas.acquireBody,
        response: { 200: schemas.acquireResponse, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const holding = { kind: 'lock' as const, name: request.params.name, body: request.body, queryTimeoutMs: request.query.timeoutMs };
      const grant = await takeHolding(context, waiters, request, reply, holding);
      return grant === null ? reply : { name: grant.name, token: grant.token, lease: grant.lease, owner: grant.owner };
    },
  );

  registerEndHoldingRoute(app, context, 'lock', 'release', 'Release a lock by its token; the next waiter gets it in the same entry.');
  registerWithdrawRoute(app, context, 'lock', 'Leave the wait queue (what a node does when a waiting request ends).');

  app.get(
    '/v1/locks/:name',
    {
      schema: {
        tags,
        summary: 'A lock: its holder, how many wait, and the last ten holders with why each ended.',
        params: NameParams,
        querystring: schemas.viewQuery,
        response: { 200: schemas.view, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const locks = await readLockTable(context, request, reply, request.query);
      return locks.view('lock', request.params.name) ?? freeLock(request.params.name);
    },
  );

  app.get(
    '/v1/locks',
    {
      schema: {
        tags,
        summary: 'Held locks whose name starts with prefix, sorted by name.',
        querystring: schemas.listQuery,
        response: { 200: schemas.listResponse, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const locks = await readLockTable(context, request, reply, request.query);
      return { locks: locks.listHeld('lock', request.query.prefix ?? '') };
    },
  );
}
