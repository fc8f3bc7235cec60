/**
 * The deadline of a request that may wait in line. A blocking acquire or campaign waits up to
 * `waitMs`; without an explicit `timeoutMs` its deadline is `waitMs` plus the usual default, so
 * a client asking to wait 30 s need not also raise the deadline. Both stay within the node's
 * maximum deadline (400 beyond).
 */
import type { FastifyRequest } from 'fastify';
import { ConcordError } from '../../common/errors.ts';
import type { ServerContext } from '../context.ts';
import { RequestScope } from '../request-scope.ts';

export function holdScope(request: FastifyRequest, context: ServerContext, timeoutMs: number | undefined, waitMs: number): RequestScope {
  const { maxTimeoutMs, defaultTimeoutMs } = context.limits;
  if (waitMs > maxTimeoutMs) throw new ConcordError('invalid_argument', `waitMs must be at most ${maxTimeoutMs}`);
  return new RequestScope(request, context.limits, timeoutMs ?? Math.min(waitMs + defaultTimeoutMs, maxTimeoutMs));
}

/** Exactly one of ttlMs and lease, as the contract says (the state machine checks it too). */
export function checkOneLease(ttlMs: number | undefined, lease: string | undefined): void {
  if ((ttlMs === undefined) === (lease === undefined)) {
    throw new ConcordError('invalid_argument', 'give exactly one of ttlMs and lease');
  }
}
