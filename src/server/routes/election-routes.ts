/**
 * Leader election for users' services: campaign (try once, or wait in line up to waitMs),
 * proclaim a new value, resign, the current leader, and an SSE stream of leader changes. An
 * election is a lock with a value (src/lock), so its token fences writes as a lock's does
 * (`fence: {"election": name, "token"}`). Writes run on the leader (forwarded from followers).
 */
import { ConcordError } from '../../common/errors.ts';
import type { ConcordApp, ServerContext } from '../context.ts';
import type { ElectionObservers } from '../locks/election-observers.ts';
import type { LockWaiters } from '../locks/lock-waiters.ts';
import { RequestScope } from '../request-scope.ts';
import { ERROR_RESPONSES } from '../schemas/common.ts';
import { NameParams, electionSchemas } from '../schemas/locks.ts';
import { Type } from '@sinclair/typebox';
import { readLockTable, registerEndHoldingRoute, registerWithdrawRoute, takeHolding } from './holding-routes.ts';
import { openEventStream, proposeOnLeader } from './route-helpers.ts';

export function registerElectionRoutes(app: ConcordApp, context: ServerContext, waiters: LockWaiters, observers: ElectionObservers): void {
  const schemas = electionSchemas;
  const tags = ['elections'];

  app.addHook('preClose', async () => observers.close());

  app.post(
    '/v1/elections/:name/campaign',
    {
      schema: {
        tags,
        summary: 'Campaign: become leader now, or wait in line (FIFO) up to waitMs; 423 if not elected in time.',
        description: 'Exactly one of ttlMs and lease. Campaigning again with the leader\'s lease keeps the token and proclaims the new value.',
        params: NameParams,
        querystring: schemas.timeoutQuery,
        body: schemas.campaignBody,
        response: { 200: schemas.campaignResponse, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const holding = { kind: 'election' as const, name: request.params.name, body: request.body, queryTimeoutMs: request.query.timeoutMs };
      const grant = await takeHolding(context, waiters, request, reply, holding);
      return grant === null ? reply : { name: grant.name, leader: { value: grant.value ?? '', token: grant.token, lease: grant.lease } };
    },
  );

  app.post(
    '/v1/elections/:name/proclaim',
    {
      schema: {
        tags,
        summary: "The leader publishes a new value (409 stale_token unless the token leads).",
        params: NameParams,
        querystring: schemas.timeoutQuery,
        body: schemas.proclaimBody,
        response: { 200: schemas.proclaimResponse, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const { token, value, timeoutMs } = request.body;
      const scope = new RequestScope(request, context.limits, timeoutMs ?? request.query.timeoutMs);
      const result = await proposeOnLeader(context, request, reply, scope, { type: 'electionProclaim', name: request.params.name, token, value });
      return result === null ? reply : { name: request.params.name, leader: result.leader, revision: result.revision };
    },
  );

  registerEndHoldingRoute(
    app,
    context,
    'election',
    'resign',
    'The leader steps down; the next candidate in line is elected in the same entry (409 stale_token unless the token leads).',
  );
  registerWithdrawRoute(app, context, 'election', "Leave the candidates' queue (what a node does when a waiting campaign ends).");

  app.get(
    '/v1/elections/:name',
    {
      schema: {
        tags,
        summary: 'The current leader, if any.',
        params: NameParams,
        querystring: schemas.viewQuery,
        response: { 200: schemas.leaderResponse, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const leader = (await readLockTable(context, request, reply, request.query)).electionLeader(request.params.name);
      return { name: request.params.name, ...(leader === null ? {} : { leader }) };
    },
  );

  app.get(
    '/v1/elections/:name/observe',
    {
      schema: {
        tags,
        summary: 'Server-sent events: `event: leader` with {name, leader?, revision}, first now, then at each change.',
        params: NameParams,
        produces: ['text/event-stream'],
        response: { 200: Type.String({ description: 'text/event-stream' }), ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      if (observers.size >= context.limits.maxWatchers) {
        throw new ConcordError('overloaded', `this node serves at most ${context.limits.maxWatchers} streams`);
      }
      context.clientStreams.admit(request, reply);
      observers.open(request.params.name, openEventStream(context, request, reply), context.auth.streamGuard(request).authorized);
      return reply;
    },
  );
}
