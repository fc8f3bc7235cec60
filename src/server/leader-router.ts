/**
 * Runs what only the leader can do (writes, lease keepalives, lease timers' readings, leadership
 * transfer) on the leader, from whichever node the client called:
 * - a write gets an idempotency key first unless this node leads (generated if the client sent
 *   none), so that no attempt elsewhere can apply twice;
 * - try here: if this node leads, or sent the write to the leader over the peer connection
 *   (replica-service.ts), that is the answer;
 * - if another node leads, forward the HTTP request there and relay its answer;
 * - if nobody leads, or the leader refused a forwarded request because it just lost leadership,
 *   or could not be reached, look again shortly — until the deadline, then 503 no_leader.
 * A request that was itself forwarded is never forwarded again (see request-scope.ts).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ConcordError } from '../common/errors.ts';
import { sleepWithin } from './deadline.ts';
import type { LeaderForwarder } from './leader-forwarder.ts';
import { noLeader, type LeaderAttempt } from './replica-service.ts';
import type { RequestScope } from './request-scope.ts';
import type { MemberInfo } from './context.ts';

/** `local`: this node did it; `relayed`: the leader answered and the reply is sent. */
export type Routed<T> = { readonly kind: 'local'; readonly value: T } | { readonly kind: 'relayed' };

export interface LeaderRouterOptions {
  readonly forwarder: LeaderForwarder;
  readonly members: () => readonly MemberInfo[];
  readonly pollIntervalMs: number;
  readonly isLeader: () => boolean;
}

/** Statuses of a forwarded answer that mean "try again": the leader moved or is going away. */
const RETRY_ELSEWHERE_STATUS = 503;

export class LeaderRouter {
  constructor(private readonly options: LeaderRouterOptions) {}

  /**
   * Runs `attempt` until it is done here or the leader has answered. `mutates`: the request
   * writes, so it must carry an idempotency key before it leaves this node.
   */
  async run<T>(
    request: FastifyRequest,
    reply: FastifyReply,
    scope: RequestScope,
    mutates: boolean,
    attempt: () => Promise<LeaderAttempt<T>>,
  ): Promise<Routed<T>> {
    let lastProblem = '';
    if (mutates && !this.options.isLeader()) scope.ensureIdempotencyKey();
    for (;;) {
      if (scope.deadline.expired) throw noLeader(lastProblem);
      const result = await attempt();
      if (result.kind === 'done') return { kind: 'local', value: result.value };
      if (result.kind === 'retry') continue;
      if (result.kind === 'leader-elsewhere' && scope.forwardedBy === null) {
        const url = this.clientUrlOf(result.leaderId);
        if (url === '') {
          lastProblem = `leader ${result.leaderId} has no known client URL`;
        } else {
          if (mutates) scope.ensureIdempotencyKey();
          try {
            const answer = await this.options.forwarder.forward(request, scope, url);
            if (answer.status !== RETRY_ELSEWHERE_STATUS || scope.deadline.expired) {
              void reply.code(answer.status).headers({ ...answer.headers, 'x-concord-served-by': result.leaderId }).send(answer.body);
              return { kind: 'relayed' };
            }
            lastProblem = `leader ${result.leaderId} answered ${answer.status}`;
          } catch (error) {
            // The client is gone: there is nobody to answer, so nothing to try again for.
            if (request.raw.socket?.destroyed === true) throw error;
            // This node's own refusal (too much in flight) is final: the client backs off.
            if (error instanceof ConcordError) throw error;
            lastProblem = `leader ${result.leaderId} unreachable: ${error instanceof Error ? error.message : String(error)}`;
          }
        }
      } else if (result.kind === 'leader-elsewhere') {
        // Forwarded here by a node that thought we lead: let it look again rather than bounce.
        throw noLeader(`this node is not the leader (leader hint: ${result.leaderId})`);
      } else if (scope.forwardedBy !== null) {
        throw noLeader('this node is not the leader');
      }
      await sleepWithin(this.options.pollIntervalMs, scope.deadline);
    }
  }

  private clientUrlOf(memberId: string): string {
    return this.options.members().find((member) => member.id === memberId)?.clientUrl ?? '';
  }
}
