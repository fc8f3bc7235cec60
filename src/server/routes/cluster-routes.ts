/**
 * Cluster routes: this node's view of the cluster, and leadership transfer. Membership changes
 * live in membership-routes.ts.
 */
import { Type } from '@sinclair/typebox';
import { ConcordError } from '../../common/errors.ts';
import type { ConcordApp, ServerContext } from '../context.ts';
import { sleepWithin } from '../deadline.ts';
import { mostCaughtUpVoter } from '../../node/raft-view.ts';
import type { LeaderAttempt } from '../replica-service.ts';
import { RequestScope } from '../request-scope.ts';
import { ERROR_RESPONSES, Revision, TimeoutMs, TimeoutQuery } from '../schemas/common.ts';

const closed = { additionalProperties: false } as const;

const timeoutMs = Type.Optional(TimeoutMs);
const timeoutQuery = TimeoutQuery;
const NoQuery = Type.Object({}, closed);
const TransferBody = Type.Optional(Type.Object({ to: Type.Optional(Type.String({ minLength: 1 })), timeoutMs }, closed));

const Member = Type.Object({ id: Type.String(), peerAddress: Type.String(), clientUrl: Type.String(), voter: Type.Boolean() });

export function registerClusterRoutes(app: ConcordApp, context: ServerContext): void {
  const { node, nodeId, clusterId } = context.deps;
  const tags = ['cluster'];

  app.get(
    '/v1/cluster',
    {
      schema: {
        tags,
        summary: "This node's view of the cluster.",
        querystring: NoQuery,
        response: {
          200: Type.Object({
            clusterId: Type.String(),
            nodeId: Type.String(),
            leaderId: Type.String({ description: 'Empty when no leader is known.' }),
            term: Revision,
            commitIndex: Revision,
            appliedIndex: Revision,
            revision: Revision,
            members: Type.Array(Member),
          }),
          ...ERROR_RESPONSES,
        },
      },
    },
    async () => {
      const raft = node.host.raft;
      return {
        clusterId,
        nodeId,
        leaderId: raft.leader,
        term: raft.currentTerm,
        commitIndex: raft.commitIndex,
        appliedIndex: raft.appliedIndex,
        revision: node.kv.revision,
        members: context.deps.members().map(({ id, peerAddress, clientUrl, voter }) => ({ id, peerAddress, clientUrl, voter })),
      };
    },
  );

  app.post(
    '/v1/cluster/transfer-leader',
    {
      schema: {
        tags,
        summary: 'Hand leadership to `to` (default: the most caught-up other voter); answers once it moved.',
        querystring: timeoutQuery,
        body: TransferBody,
        response: { 200: Type.Object({ leaderId: Type.String(), term: Revision }), ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const scope = new RequestScope(request, context.limits, request.body?.timeoutMs ?? request.query.timeoutMs);
      const requested = request.body?.to;
      const routed = await context.router.run(request, reply, scope, false, async (): Promise<LeaderAttempt<string>> => {
        const raft = node.host.raft;
        if (raft.currentRole !== 'leader') return context.service.leaderAttempt();
        const voters = raft.members.voters;
        const target = requested ?? mostCaughtUpVoter(raft) ?? undefined;
        if (target === undefined) throw new ConcordError('invalid_argument', 'no other voter to transfer leadership to');
        if (!voters.includes(target)) throw new ConcordError('not_found', `no voter ${JSON.stringify(target)}`, { member: target });
        if (target === nodeId) return { kind: 'done', value: target };
        if (!node.host.transferLeadership(target)) {
          throw new ConcordError('invalid_argument', `cannot transfer leadership to ${JSON.stringify(target)}`);
        }
        while (node.host.raft.leader !== target) {
          if (scope.deadline.expired) throw new ConcordError('timeout', `leadership did not move to ${target} within the deadline`);
          await sleepWithin(context.limits.leaderPollIntervalMs, scope.deadline);
        }
        return { kind: 'done', value: target };
      });
      return routed.kind === 'local' ? { leaderId: routed.value, term: node.host.raft.currentTerm } : reply;
    },
  );
}
