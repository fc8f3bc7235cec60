/**
 * The key-value routes: put, get, range, delete, delete by prefix. Writes go through the log on
 * the leader (forwarded from followers); reads are answered here, after a ReadIndex barrier
 * unless the client asked for `consistency=serializable`.
 */
import { checkKey, checkPrefix, toConcordError, type PutCommand } from '../../kv/index.ts';
import type { ConcordApp, ServerContext } from '../context.ts';
import { contractError } from '../http-errors.ts';
import { RequestScope } from '../request-scope.ts';
import { ERROR_RESPONSES, KeyValueRef } from '../schemas/common.ts';
import { KeyParams, kvSchemas } from '../schemas/kv.ts';
import { fenceOf } from '../schemas/locks.ts';
import { StaleReadCache } from '../test-plants.ts';
import { REVISION_HEADER, proposeOnLeader, readBarrier } from './route-helpers.ts';

function validKey(key: string): string {
  const problem = checkKey(key);
  if (problem !== null) throw toConcordError(problem);
  return key;
}

export function registerKvRoutes(app: ConcordApp, context: ServerContext): void {
  const schemas = kvSchemas;
  const { node } = context.deps;
  const tags = ['kv'];
  // TEST-ONLY planted bug (hidden `serve --test-stale-reads-ms`): null unless that flag is set.
  const plantedStaleReads =
    (context.deps.testStaleReadsMs ?? 0) > 0 ? new StaleReadCache(context.deps.testStaleReadsMs ?? 0, (key) => node.kv.get(key)) : null;

  app.put(
    '/v1/kv/*',
    {
      schema: {
        tags,
        summary: 'Put a key (conditionally with ifRevision; fenced by a lock token with fence: 409 stale_token unless it holds).',
        params: KeyParams,
        querystring: schemas.putQuery,
        body: schemas.putBody,
        response: { 200: schemas.putResponse, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const { value, lease, ifRevision, fence, timeoutMs } = request.body;
      const scope = new RequestScope(request, context.limits, timeoutMs ?? request.query.timeoutMs);
      // With auth on, `prev` (and a failed ifRevision's `current`) only for a token that may read the key.
      const mayRead = context.auth.mayRead(request, 'key', request.params['*']);
      const command: PutCommand = {
        type: 'put',
        key: request.params['*'],
        value,
        prevKv: mayRead,
        ...(lease === undefined ? {} : { lease }),
        ...(ifRevision === undefined ? {} : { ifRevision }),
        ...(fence === undefined ? {} : { fence: fenceOf(fence) }),
      };
      const result = await context.auth.withoutUnreadableCurrent(mayRead, () => proposeOnLeader(context, request, reply, scope, command));
      return result ?? reply;
    },
  );

  app.get(
    '/v1/kv/*',
    {
      schema: {
        tags,
        summary: 'Get a key.',
        params: KeyParams,
        querystring: schemas.getQuery,
        response: { 200: KeyValueRef, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const key = validKey(request.params['*']);
      const scope = new RequestScope(request, context.limits, request.query.timeoutMs);
      const consistency = request.query.consistency ?? 'linearizable';
      if (plantedStaleReads !== null && consistency === 'linearizable') {
        // The planted bug: no ReadIndex, a cached local answer (see test-plants.ts).
        const planted = plantedStaleReads.get(key);
        reply.header(REVISION_HEADER, String(planted.revision));
        if (planted.kv === null) throw contractError('not_found', `key ${JSON.stringify(key)} not found`, { key });
        return planted.kv;
      }
      // The hottest read: a serializable get skips even the barrier's call (an await on nothing).
      if (consistency === 'linearizable') await context.service.readBarrier(scope.deadline);
      const { revision, kv } = node.kv.get(key);
      reply.header(REVISION_HEADER, String(revision));
      if (kv === null) throw contractError('not_found', `key ${JSON.stringify(key)} not found`, { key });
      return kv;
    },
  );

  app.get(
    '/v1/kv',
    {
      schema: {
        tags,
        summary: 'List keys under a prefix, sorted by key.',
        querystring: schemas.rangeQuery,
        response: { 200: schemas.rangeResponse, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const prefix = request.query.prefix ?? '';
      const problem = checkPrefix(prefix);
      if (problem !== null) throw toConcordError(problem);
      const requested = request.query.limit ?? 0;
      const limit = requested === 0 ? context.limits.maxRangeItems : Math.min(requested, context.limits.maxRangeItems);
      const scope = new RequestScope(request, context.limits, request.query.timeoutMs);
      await readBarrier(context, scope, request.query.consistency);
      const result = node.kv.range(prefix, limit);
      reply.header(REVISION_HEADER, String(result.revision));
      return result;
    },
  );

  app.delete(
    '/v1/kv/*',
    {
      schema: {
        tags,
        summary: 'Delete a key (conditionally with ifRevision).',
        params: KeyParams,
        querystring: schemas.deleteQuery,
        response: { 200: schemas.deleteResponse, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const { ifRevision, timeoutMs } = request.query;
      const scope = new RequestScope(request, context.limits, timeoutMs);
      const command = { type: 'delete' as const, key: request.params['*'], ...(ifRevision === undefined ? {} : { ifRevision }) };
      const mayRead = context.auth.mayRead(request, 'key', request.params['*']);
      const result = await context.auth.withoutUnreadableCurrent(mayRead, () => proposeOnLeader(context, request, reply, scope, command));
      return result ?? reply;
    },
  );

  app.delete(
    '/v1/kv',
    {
      schema: {
        tags,
        summary: 'Delete every key under a non-empty prefix.',
        querystring: schemas.deletePrefixQuery,
        response: { 200: schemas.deleteResponse, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const scope = new RequestScope(request, context.limits, request.query.timeoutMs);
      const result = await proposeOnLeader(context, request, reply, scope, { type: 'deletePrefix', prefix: request.query.prefix });
      return result ?? reply;
    },
  );
}
