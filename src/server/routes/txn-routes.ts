/** POST /v1/txn: guards and two branches, applied atomically at one revision on the leader. */
import type { ConcordApp, ServerContext } from '../context.ts';
import { RequestScope } from '../request-scope.ts';
import { ERROR_RESPONSES } from '../schemas/common.ts';
import { compareOf, txnSchemas } from '../schemas/txn.ts';
import { fenceOf } from '../schemas/locks.ts';
import { proposeOnLeader } from './route-helpers.ts';

export function registerTxnRoutes(app: ConcordApp, context: ServerContext): void {
  const schemas = txnSchemas;
  app.post(
    '/v1/txn',
    {
      schema: {
        tags: ['kv'],
        summary: 'Compare, then run the success or the failure branch, atomically.',
        querystring: schemas.query,
        body: schemas.body,
        response: { 200: schemas.response, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const { compare = [], success = [], failure = [], fence, timeoutMs } = request.body;
      const scope = new RequestScope(request, context.limits, timeoutMs ?? request.query.timeoutMs);
      const result = await proposeOnLeader(context, request, reply, scope, {
        type: 'txn',
        compare: compare.map(compareOf),
        success,
        failure,
        ...(fence === undefined ? {} : { fence: fenceOf(fence) }),
      });
      return result ?? reply;
    },
  );
}
