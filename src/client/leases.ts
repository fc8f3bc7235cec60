/**
 * Leases: grant, revoke, timeToLive, list, one keepalive, and `keepAlive()` — a handle that
 * renews in the background and knows how long the lease is surely alive (keepalive.ts).
 */
import { encodeKeyPath, type ClientCore } from './core.ts';
import { ConcordError } from './errors.ts';
import { LeaseKeepAlive, type KeepAliveOptions } from './keepalive.ts';
import { defined, type CallOptions, type WriteOptions } from './types.ts';

export interface LeaseGrant {
  readonly id: string;
  readonly ttlMs: number;
  /** When the grant request was first sent (client monotonic clock): the lease lives at least until this + ttlMs. */
  readonly sentAt: number;
}

export interface LeaseStatus {
  readonly id: string;
  readonly ttlMs: number;
  /** Time left on the leader's countdown when it answered. */
  readonly remainingMs: number;
}

export interface LeaseInfo extends LeaseStatus {
  readonly keys: readonly string[];
}

function pick(options: CallOptions & { idempotencyKey?: string }): { signal?: AbortSignal; timeoutMs?: number; idempotencyKey?: string } {
  return defined({ signal: options.signal, timeoutMs: options.timeoutMs, idempotencyKey: options.idempotencyKey });
}

export class LeaseClient {
  constructor(private readonly core: ClientCore) {}

  /** Grants a lease of `ttlMs` (at least 500). `id` picks the lease id yourself. */
  async grant(ttlMs: number, options: WriteOptions & { id?: string } = {}): Promise<LeaseGrant> {
    const answer = await this.core.call<{ id: string; ttlMs: number }>({
      method: 'POST',
      path: '/v1/leases',
      body: defined({ ttlMs, id: options.id }),
      ...pick(options),
    });
    return { id: answer.body.id, ttlMs: answer.body.ttlMs, sentAt: answer.firstSentAt };
  }

  /** Revokes a lease; the keys attached to it are deleted at the returned revision. */
  async revoke(id: string, options: WriteOptions = {}): Promise<{ revision: number }> {
    const answer = await this.core.call<{ revision: number }>({ method: 'DELETE', path: `/v1/leases/${encodeKeyPath(id)}`, ...pick(options) });
    return answer.body;
  }

  /** The lease's TTL, time left and attached keys, or null if it does not exist. */
  async timeToLive(id: string, options: CallOptions = {}): Promise<LeaseInfo | null> {
    try {
      const answer = await this.core.call<LeaseInfo>({ method: 'GET', path: `/v1/leases/${encodeKeyPath(id)}`, ...pick(options) });
      return answer.body;
    } catch (error) {
      if (error instanceof ConcordError && error.code === 'not_found' && error.details['lease'] === id) return null;
      throw error;
    }
  }

  async list(options: CallOptions = {}): Promise<readonly LeaseStatus[]> {
    const answer = await this.core.call<{ leases: LeaseStatus[] }>({ method: 'GET', path: '/v1/leases', ...pick(options) });
    return answer.body.leases;
  }

  /** One keepalive; ConcordError not_found if the lease has expired or was revoked. */
  async keepAliveOnce(id: string, options: CallOptions = {}): Promise<LeaseStatus & { sentAt: number }> {
    const answer = await this.core.call<LeaseStatus>({ method: 'POST', path: `/v1/leases/${encodeKeyPath(id)}/keepalive`, ...pick(options) });
    return { ...answer.body, sentAt: answer.firstSentAt };
  }

  /**
   * Keeps a lease alive in the background until `close()` or `revoke()`. Given a grant, safety
   * is measured from the grant's send time; given an id, one keepalive is made first and
   * safety is measured from it.
   */
  async keepAlive(lease: LeaseGrant | string, options: KeepAliveOptions & CallOptions = {}): Promise<LeaseKeepAlive> {
    if (typeof lease !== 'string') return new LeaseKeepAlive(this.core, lease.id, lease.ttlMs, lease.sentAt, options);
    const first = await this.keepAliveOnce(lease, options);
    return new LeaseKeepAlive(this.core, lease, first.ttlMs, first.sentAt, options);
  }
}
