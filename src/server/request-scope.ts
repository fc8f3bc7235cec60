/**
 * What a request carries through the service and the forwarder: its deadline, its idempotency
 * key, and whether another node forwarded it here.
 *
 * Headers between nodes (never needed by clients):
 * - `x-concord-forwarded-by: <node id>` marks a forwarded request. A node that receives one and
 *   is not the leader answers 503 no_leader instead of forwarding again, so a stale leader hint
 *   can never bounce a request around the cluster; the node that forwarded it looks again.
 * - `x-concord-timeout-ms: <n>` is what remains of the original deadline.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { ConcordError } from '../common/errors.ts';
import { Deadline } from './deadline.ts';
import type { ServerLimits } from './limits.ts';

export const FORWARDED_BY_HEADER = 'x-concord-forwarded-by';
export const REMAINING_TIMEOUT_HEADER = 'x-concord-timeout-ms';
export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';

export class RequestScope {
  readonly deadline: Deadline;
  readonly forwardedBy: string | null;
  private key: string | undefined;

  constructor(request: FastifyRequest, limits: ServerLimits, timeoutMs: number | undefined) {
    if (timeoutMs !== undefined && timeoutMs > limits.maxTimeoutMs) {
      throw new ConcordError('invalid_argument', `timeoutMs must be at most ${limits.maxTimeoutMs}`);
    }
    let budgetMs = timeoutMs ?? limits.defaultTimeoutMs;
    const remaining = Number(headerValue(request, REMAINING_TIMEOUT_HEADER));
    if (Number.isFinite(remaining) && remaining > 0) budgetMs = Math.min(budgetMs, remaining);
    this.deadline = Deadline.afterMs(budgetMs);
    this.forwardedBy = headerValue(request, FORWARDED_BY_HEADER) ?? null;
    this.key = headerValue(request, IDEMPOTENCY_KEY_HEADER);
  }

  /** The client's idempotency key, or the one this node generated to forward the write. */
  get idempotencyKey(): string | undefined {
    return this.key;
  }

  /**
   * A key for a write about to leave this node: the client's, or a fresh one. Once generated it
   * stays, so every later attempt of this request (forwarded or local) dedups against the first.
   */
  ensureIdempotencyKey(): string {
    this.key ??= `concord-${randomUUID()}`;
    return this.key;
  }
}

function headerValue(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
