/**
 * Membership changes over HTTP: add a member (as a learner; promoted once caught up unless
 * `learner: true`), promote a learner, remove a member. They run on the leader (forwarded
 * there from any node) one server at a time, as the core allows (src/raft/membership.ts).
 *
 * Each request names the configuration it wants, not a step: an attempt that finds the
 * configuration already as asked (and committed) answers at once, so a retried or forwarded
 * request that already took effect succeeds instead of failing as "already a member". The
 * core's transient refusals (a change or the leader's no-op uncommitted, a transfer under way,
 * a learner still catching up) are waited out until the deadline; unsafe requests are refused
 * with the reason in the error's details.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ConcordError } from '../../common/errors.ts';
import { MEMBER_ID_PATTERN } from '../../common/member-id.ts';
import type { ConfChangeOutcome } from '../../node/host-types.ts';
import type { ConfChange, ConfChangeRefusal } from '../../raft/membership.ts';
import type { ClusterConfig, NodeId } from '../../raft/types.ts';
import type { ConcordApp, MemberInfo, ServerContext } from '../context.ts';
import { sleepWithin, untilDeadline } from '../deadline.ts';
import type { LeaderAttempt } from '../replica-service.ts';
import { RequestScope } from '../request-scope.ts';
import { ERROR_RESPONSES, TimeoutMs, TimeoutQuery } from '../schemas/common.ts';

const closed = { additionalProperties: false } as const;
const HOST_PORT = '^(\\[[^\\]]+\\]|[^:\\s]+):[0-9]{1,5}$';

const MemberIdParams = Type.Object({ id: Type.String({ pattern: MEMBER_ID_PATTERN }) }, closed);
const AddMemberBody = Type.Object(
  {
    id: Type.String({ pattern: MEMBER_ID_PATTERN, description: 'The new member id (as its --id).' }),
    peerAddress: Type.String({ pattern: HOST_PORT, maxLength: 512, description: 'host:port other members dial.' }),
    clientUrl: Type.String({ maxLength: 2048, description: "The member's client URL ('' when unknown)." }),
    learner: Type.Optional(Type.Boolean({ description: 'Stay a learner (default: promote once caught up).' })),
    timeoutMs: Type.Optional(TimeoutMs),
  },
  closed,
);
const TimeoutBody = Type.Optional(Type.Object({ timeoutMs: Type.Optional(TimeoutMs) }, closed));
const Member = Type.Object({ id: Type.String(), peerAddress: Type.String(), clientUrl: Type.String(), voter: Type.Boolean() });
const MemberAnswer = Type.Object({ member: Member, members: Type.Array(Member) });
const MembersAnswer = Type.Object({ members: Type.Array(Member) });

/** Refusals that will not go away by waiting: the request itself is wrong or unsafe. */
const FINAL_REFUSALS: Readonly<Partial<Record<ConfChangeRefusal, { code: 'invalid_argument' | 'not_found'; message: string }>>> = {
  already_member: { code: 'invalid_argument', message: 'is already a member with another role' },
  not_member: { code: 'not_found', message: 'is not a member' },
  not_learner: { code: 'invalid_argument', message: 'is not a learner' },
  would_lose_quorum: {
    code: 'invalid_argument',
    message: 'cannot change: too few voters of the resulting configuration have been heard from recently to form a quorum',
  },
  last_voter: { code: 'invalid_argument', message: 'is the only voter: removing it would leave nobody to decide' },
};

/** What a request wants the configuration to look like for `id`. */
type Wanted = 'member' | 'voter' | 'absent';

/** One change of a request, the configuration it wants, and when the current one contradicts it. */
interface Step {
  readonly change: ConfChange;
  readonly wanted: Wanted;
  readonly conflict?: (config: ClusterConfig) => string | null;
}

function holds(config: ClusterConfig, id: NodeId, wanted: Wanted): boolean {
  const isVoter = config.voters.includes(id);
  const isLearner = config.learners.includes(id);
  if (wanted === 'absent') return !isVoter && !isLearner;
  return wanted === 'voter' ? isVoter : isVoter || isLearner;
}

export function registerMembershipRoutes(app: ConcordApp, context: ServerContext): void {
  const { node } = context.deps;
  const tags = ['cluster'];

  const memberView = (id: NodeId): MemberInfo => {
    const member = context.deps.members().find((candidate) => candidate.id === id);
    if (member === undefined) throw new ConcordError('not_found', `member ${JSON.stringify(id)} is not in the configuration`, { member: id });
    return member;
  };
  const membersView = (): MemberInfo[] => context.deps.members().map(({ id, peerAddress, clientUrl, voter }) => ({ id, peerAddress, clientUrl, voter }));

  /** One attempt, on this node, to bring the configuration to `wanted` for `change.id`. */
  const attempt = async (step: Step, scope: RequestScope): Promise<LeaderAttempt<ClusterConfig>> => {
    const { change, wanted } = step;
    const raft = node.host.raft;
    if (raft.currentRole !== 'leader') return context.service.leaderAttempt();
    const conflict = step.conflict?.(raft.members);
    if (conflict !== undefined && conflict !== null) {
      throw new ConcordError('invalid_argument', `member ${JSON.stringify(change.id)} ${conflict}`, { member: change.id, reason: 'already_member' });
    }
    if (holds(raft.members, change.id, wanted) && raft.membershipCommitted) return { kind: 'done', value: raft.members };
    const outcome = await untilDeadline<ConfChangeOutcome>(
      scope.deadline,
      () => new ConcordError('timeout', `the membership change (${change.type} ${change.id}) did not apply within the deadline; it may still take effect`),
      (resolve) => node.host.proposeConfChange(change, resolve),
    );
    if (outcome.ok) return { kind: 'done', value: outcome.config };
    if (outcome.code === 'not_leader') return context.service.leaderAttempt();
    // Promoting a node that is no member at all: the member is absent (404), not merely no learner.
    const refusal = outcome.code === 'not_learner' && !holds(raft.members, change.id, 'member') ? 'not_member' : outcome.code;
    const final = FINAL_REFUSALS[refusal as ConfChangeRefusal];
    if (final !== undefined) {
      throw new ConcordError(final.code, `member ${JSON.stringify(change.id)} ${final.message}`, { member: change.id, reason: refusal });
    }
    // Transient: a change or the leader's no-op in flight, a transfer, a learner catching up,
    // a leadership change under the proposal. Look again shortly.
    await sleepWithin(context.limits.leaderPollIntervalMs, scope.deadline);
    if (scope.deadline.expired) {
      const why = outcome.code === 'learner_behind' ? 'the learner has not caught up with the log yet' : `the cluster is busy (${outcome.code})`;
      throw new ConcordError('unavailable', `membership change ${change.type} ${change.id} not made within the deadline: ${why}`, {
        member: change.id,
        reason: outcome.code,
      });
    }
    return { kind: 'retry' };
  };

  /** Runs the steps in order on the leader; false when the leader answered (forwarded) instead. */
  const change = async (
    request: FastifyRequest,
    reply: FastifyReply,
    scope: RequestScope,
    steps: readonly Step[],
  ): Promise<boolean> => {
    for (const step of steps) {
      const routed = await context.router.run(request, reply, scope, true, () => attempt(step, scope));
      if (routed.kind === 'relayed') return false;
    }
    return true;
  };

  app.post(
    '/v1/cluster/members',
    {
      schema: {
        tags,
        summary: 'Add a member: as a learner, then promoted to voter once caught up (unless `learner: true`).',
        description:
          'Runs on the leader (forwarded from any node), one membership change at a time. Asking again for a member ' +
          'that is already there answers 200 without a change. Refusals carry `reason`: 400 `already_member` (the id ' +
          'is a member at another address, or a voter asked for as a learner), 400 `would_lose_quorum` (too few voters ' +
          'of the result have been heard from lately), 503 `learner_behind` / `change_pending` / `transferring` when the ' +
          'deadline passes while the cluster is busy or the learner still catching up (the learner stays added).',
        querystring: TimeoutQuery,
        body: AddMemberBody,
        response: { 200: MemberAnswer, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const { id, peerAddress, clientUrl, learner } = request.body;
      if (clientUrl !== '') assertUrl(clientUrl);
      const scope = new RequestScope(request, context.limits, request.body.timeoutMs ?? request.query.timeoutMs);
      const steps: Step[] = [
        {
          change: { type: 'add-learner', id, endpoints: { peerAddress, clientUrl } },
          wanted: 'member',
          // Asking again for the same member is answered as done; the same id with other
          // addresses, or as a learner when it votes, is another node: refuse, never adopt it.
          conflict: (config) => {
            if (!holds(config, id, 'member')) return null;
            const known = config.endpoints?.[id]?.peerAddress;
            if (known !== undefined && known !== peerAddress) return `is already a member at ${known}, not ${peerAddress}`;
            if (learner === true && config.voters.includes(id)) return 'is already a voter';
            return null;
          },
        },
      ];
      if (learner !== true) steps.push({ change: { type: 'promote', id }, wanted: 'voter' });
      if (!(await change(request, reply, scope, steps))) return reply;
      return { member: memberView(id), members: membersView() };
    },
  );

  app.post(
    '/v1/cluster/members/:id/promote',
    {
      schema: {
        tags,
        summary: 'Promote a learner to voter, once it has caught up with the log.',
        description:
          'Waits, until the deadline, for the learner to be heard from and within one append of the commit index ' +
          '(then 503 `learner_behind`). A voter answers 200 as it is; a non-member 404 `not_member`; 400 ' +
          '`would_lose_quorum` when the voters of the result heard from lately are no majority.',
        params: MemberIdParams,
        querystring: TimeoutQuery,
        body: TimeoutBody,
        response: { 200: MemberAnswer, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const scope = new RequestScope(request, context.limits, request.body?.timeoutMs ?? request.query.timeoutMs);
      if (!(await change(request, reply, scope, [{ change: { type: 'promote', id }, wanted: 'voter' }]))) return reply;
      return { member: memberView(id), members: membersView() };
    },
  );

  app.delete(
    '/v1/cluster/members/:id',
    {
      schema: {
        tags,
        summary: 'Remove a member (the leader too: it steps down once the change commits).',
        description:
          'A leader that removes itself leads until the change commits, then hands over to the most caught-up voter. ' +
          'Refusals: 404 `not_member` (also for a retry whose first attempt already removed it), 400 `last_voter`, ' +
          '400 `would_lose_quorum` (removing a live voter while another is down).',
        params: MemberIdParams,
        querystring: TimeoutQuery,
        response: { 200: MembersAnswer, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const scope = new RequestScope(request, context.limits, request.query.timeoutMs);
      if (!holds(node.host.raft.members, id, 'member') && node.host.raft.membershipCommitted && node.host.raft.leader === node.id) {
        throw new ConcordError('not_found', `member ${JSON.stringify(id)} is not in the configuration`, { member: id });
      }
      if (!(await change(request, reply, scope, [{ change: { type: 'remove', id }, wanted: 'absent' }]))) return reply;
      return { members: membersView() };
    },
  );
}

function assertUrl(text: string): void {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConcordError('invalid_argument', `clientUrl must be an http(s) URL or '', got ${JSON.stringify(text)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConcordError('invalid_argument', `clientUrl must be an http(s) URL or '', got ${JSON.stringify(text)}`);
  }
}
