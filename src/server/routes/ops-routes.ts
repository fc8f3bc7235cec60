/**
 * Health, readiness, metrics and the OpenAPI document: what operators and orchestrators poll.
 * `/health` answers while the process serves; `/ready` only when this node knows a leader and
 * has applied everything it knows committed (so a load balancer keeps a lagging or partitioned
 * node out of rotation).
 */
import { Type } from '@sinclair/typebox';
import { ConcordError } from '../../common/errors.ts';
import type { ConcordApp, ServerContext } from '../context.ts';
import { ERROR_RESPONSES } from '../schemas/common.ts';

const NoQuery = Type.Object({}, { additionalProperties: false });

export function registerOpsRoutes(app: ConcordApp, context: ServerContext): void {
  const { node, nodeId } = context.deps;

  app.get(
    '/health',
    {
      schema: {
        tags: ['operations'],
        summary: 'Liveness: 200 while the process serves.',
        querystring: NoQuery,
        response: { 200: Type.Object({ status: Type.Literal('ok'), nodeId: Type.String() }), ...ERROR_RESPONSES },
      },
    },
    async () => ({ status: 'ok' as const, nodeId }),
  );

  app.get(
    '/ready',
    {
      schema: {
        tags: ['operations'],
        summary: 'Readiness: 200 when this node knows a leader and has applied up to its commit index, else 503.',
        querystring: NoQuery,
        response: {
          200: Type.Object({
            status: Type.Literal('ready'),
            nodeId: Type.String(),
            leaderId: Type.String(),
            commitIndex: Type.Integer(),
            appliedIndex: Type.Integer(),
          }),
          ...ERROR_RESPONSES,
        },
      },
    },
    async () => {
      const raft = node.host.raft;
      const details = { leaderId: raft.leader, commitIndex: raft.commitIndex, appliedIndex: raft.appliedIndex };
      if (!node.host.isRunning) throw new ConcordError('unavailable', 'node is not running', details);
      if (raft.leader === '') throw new ConcordError('no_leader', 'no leader known', details);
      if (raft.appliedIndex < raft.commitIndex) {
        throw new ConcordError('unavailable', 'applying committed entries', details);
      }
      return { status: 'ready' as const, nodeId, ...details };
    },
  );

  app.get(
    '/metrics',
    {
      schema: {
        tags: ['operations'],
        summary: 'Prometheus metrics (text exposition format).',
        querystring: NoQuery,
        produces: ['text/plain'],
      },
    },
    async (_request, reply) => {
      const text = await context.metrics.text();
      return reply.type(context.metrics.contentType).send(text);
    },
  );

  app.get(
    '/openapi.json',
    {
      schema: { tags: ['operations'], summary: 'The OpenAPI document of this API.', querystring: NoQuery },
    },
    async () => app.swagger(),
  );
}
