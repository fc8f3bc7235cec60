/**
 * Lease routes. Grant and revoke go through the log. Keepalives and the remaining time are the
 * leader's business (its monotonic countdowns decide expiry; a keepalive is never logged), so
 * those requests run on the leader, forwarded there from followers.
 */
import { ConcordError } from '../../common/errors.ts';
import type { KeepAliveOutcome } from '../../node/kv-node.ts';
import type { ConcordApp, ServerContext } from '../context.ts';
import type { LeaderAttempt } from '../replica-service.ts';
import { RequestScope } from '../request-scope.ts';
import { ERROR_RESPONSES } from '../schemas/common.ts';
import { LeaseIdParams, leaseSchemas } from '../schemas/leases.ts';
import { REVISION_HEADER, proposeOnLeader } from './route-helpers.ts';

function leaseNotFound(id: string): ConcordError {
  return new ConcordError('not_found', `lease ${JSON.stringify(id)} not found (expired, revoked or never granted)`, { lease: id });
}

export function registerLeaseRoutes(app: ConcordApp, context: ServerContext): void {
  const schemas = leaseSchemas;
  const { node } = context.deps;
  const tags = ['leases'];

  /**
   * Runs `act` on the leader, where lease countdowns live, once it has applied everything
   * committed: a leader fresh from an election may not have applied a grant yet, and a false
   * 404 would make a client give up a lease that is alive.
   */
  function onLeader<T>(scope: RequestScope, act: () => T): () => Promise<LeaderAttempt<T>> {
    return async () => {
      if (!node.leases.isLeading) return context.service.leaderAttempt<T>();
      await context.service.readBarrier(scope.deadline);
      return node.leases.isLeading ? { kind: 'done', value: act() } : context.service.leaderAttempt<T>();
    };
  }

  function remainingMs(id: string, ttlMs: number): number {
    return Math.round(node.leases.remainingMs(id) ?? ttlMs);
  }

  app.post(
    '/v1/leases',
    {
      schema: {
        tags,
        summary: 'Grant a lease.',
        querystring: schemas.timeoutQuery,
        body: schemas.grantBody,
        response: { 200: schemas.grantResponse, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const { ttlMs, id, timeoutMs } = request.body;
      const scope = new RequestScope(request, context.limits, timeoutMs ?? request.query.timeoutMs);
      const result = await proposeOnLeader(context, request, reply, scope, { type: 'leaseGrant', ttlMs, ...(id === undefined ? {} : { id }) });
      return result === null ? reply : { id: result.id, ttlMs: result.ttlMs };
    },
  );

  app.post(
    '/v1/leases/:id/keepalive',
    {
      schema: {
        tags,
        summary: "Restart the lease's countdown at full TTL (on the leader; never logged).",
        params: LeaseIdParams,
        querystring: schemas.timeoutQuery,
        body: schemas.keepAliveBody,
        response: { 200: schemas.statusResponse, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const scope = new RequestScope(request, context.limits, request.body?.timeoutMs ?? request.query.timeoutMs);
      const routed = await context.router.run(request, reply, scope, false, async (): Promise<LeaderAttempt<KeepAliveOutcome>> => {
        if (!node.leases.isLeading) {
          // A follower sends the keepalive over the peer connection; without an answer that way, HTTP.
          const renewed = await context.service.renewOverPeers(id, scope.deadline);
          if (renewed === null) return context.service.leaderAttempt<KeepAliveOutcome>();
          return { kind: 'done', value: renewed.ok ? { ok: true, ttlMs: renewed.ttlMs, remainingMs: renewed.ttlMs } : renewed };
        }
        return onLeader(scope, () => node.keepAlive(id))();
      });
      if (routed.kind === 'relayed') return reply;
      const outcome = routed.value;
      if (outcome.ok) return { id, ttlMs: outcome.ttlMs, remainingMs: outcome.remainingMs };
      // not_leader here means leadership moved during the barrier: the client may retry.
      if (outcome.code === 'not_leader') throw new ConcordError('no_leader', 'leadership moved; retry');
      throw leaseNotFound(id);
    },
  );

  app.get(
    '/v1/leases/:id',
    {
      schema: {
        tags,
        summary: 'A lease: TTL, time left and attached keys.',
        params: LeaseIdParams,
        querystring: schemas.timeoutQuery,
        response: { 200: schemas.infoResponse, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const scope = new RequestScope(request, context.limits, request.query.timeoutMs);
      const routed = await context.router.run(request, reply, scope, false, onLeader(scope, () => node.kv.lease(id)));
      if (routed.kind === 'relayed') return reply;
      const lease = routed.value;
      if (lease === null) throw leaseNotFound(id);
      reply.header(REVISION_HEADER, String(node.kv.revision));
      return { id, ttlMs: lease.ttlMs, remainingMs: remainingMs(id, lease.ttlMs), keys: [...lease.keys] };
    },
  );

  app.get(
    '/v1/leases',
    {
      schema: {
        tags,
        summary: 'Every lease with its TTL and time left.',
        querystring: schemas.timeoutQuery,
        response: { 200: schemas.listResponse, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const scope = new RequestScope(request, context.limits, request.query.timeoutMs);
      const routed = await context.router.run(request, reply, scope, false, onLeader(scope, () => node.kv.leases()));
      if (routed.kind === 'relayed') return reply;
      reply.header(REVISION_HEADER, String(node.kv.revision));
      return { leases: routed.value.map(({ id, ttlMs }) => ({ id, ttlMs, remainingMs: remainingMs(id, ttlMs) })) };
    },
  );

  app.delete(
    '/v1/leases/:id',
    {
      schema: {
        tags,
        summary: 'Revoke a lease; its keys are deleted at the returned revision.',
        params: LeaseIdParams,
        querystring: schemas.timeoutQuery,
        response: { 200: schemas.revokeResponse, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const scope = new RequestScope(request, context.limits, request.query.timeoutMs);
      const result = await proposeOnLeader(context, request, reply, scope, { type: 'leaseRevoke', id: request.params.id });
      return result === null ? reply : { revision: result.revision };
    },
  );
}
