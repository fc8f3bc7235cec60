/**
 * Leader election for your own services: `concord.election(name)` gives `campaign(value)` (try
 * once, or wait in line up to `waitMs`) returning a Leadership handle — a Holding like a lock's,
 * plus `proclaim(value)` and `resign()` — and `leader()` and `observe()`, an async iterator of
 * leader changes that reconnects on its own.
 */
import type { ClientCore } from './core.ts';
import { ConcordError } from './errors.ts';
import { Holding } from './holding.ts';
import { LeaseKeepAlive, type KeepAliveOptions } from './keepalive.ts';
import { reconnectingEvents } from './reconnecting-stream.ts';
import { defined, type CallOptions, type Fence, type WriteOptions } from './types.ts';

export interface Leader {
  readonly value: string;
  readonly token: number;
  readonly lease: string;
}

export interface LeaderChange {
  /** Absent while nobody leads. */
  readonly leader?: Leader;
  /** The store revision when the observed node saw the change. */
  readonly revision: number;
}

export interface CampaignOptions extends CallOptions {
  /** TTL of the leadership's own lease (default 10 000 ms). */
  readonly ttlMs?: number;
  /** Campaign on this kept-alive lease instead. */
  readonly lease?: LeaseKeepAlive;
  /** How long to wait in line; 0 (default) tries once and throws `locked` if someone leads. */
  readonly waitMs?: number;
  readonly owner?: string;
  readonly keepAlive?: KeepAliveOptions;
}

export class Leadership extends Holding {
  private currentValue: string;

  constructor(
    private readonly core: ClientCore,
    name: string,
    token: number,
    value: string,
    keeper: LeaseKeepAlive,
    ownsLease: boolean,
  ) {
    super(name, token, keeper, ownsLease, `leadership of ${JSON.stringify(name)} (token ${token})`);
    this.currentValue = value;
  }

  get value(): string {
    return this.currentValue;
  }

  get fence(): Fence {
    return { election: this.name, token: this.token };
  }

  /** Publishes a new value; ConcordError stale_token if this no longer leads. */
  async proclaim(value: string, options: WriteOptions = {}): Promise<{ revision: number }> {
    const answer = await this.core.call<{ revision: number }>({
      method: 'POST',
      path: `/v1/elections/${encodeURIComponent(this.name)}/proclaim`,
      body: { token: this.token, value },
      ...defined({ signal: options.signal, timeoutMs: options.timeoutMs, idempotencyKey: options.idempotencyKey }),
    });
    this.currentValue = value;
    return { revision: answer.body.revision };
  }

  /** Steps down (the next candidate is elected at once); same as release(). */
  resign(options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<void> {
    return this.release(options);
  }

  protected async releaseOnServer(options: { signal?: AbortSignal; timeoutMs?: number }): Promise<void> {
    await this.core.call({ method: 'POST', path: `/v1/elections/${encodeURIComponent(this.name)}/resign`, body: { token: this.token }, ...options });
  }
}

const DEFAULT_TTL_MS = 10_000;

export class Election {
  constructor(
    private readonly core: ClientCore,
    readonly name: string,
  ) {}

  /** Becomes leader with `value`, now or after waiting in line; throws `locked` if not elected in time. */
  async campaign(value: string, options: CampaignOptions = {}): Promise<Leadership> {
    if (options.lease !== undefined && options.ttlMs !== undefined) throw new ConcordError('invalid_argument', 'give ttlMs or lease, not both');
    const waitMs = options.waitMs ?? 0;
    const ttlMs = options.lease === undefined ? (options.ttlMs ?? DEFAULT_TTL_MS) : undefined;
    const startedAt = this.core.clock.now();
    const answer = await this.core.call<{ name: string; leader: Leader }>({
      method: 'POST',
      path: `/v1/elections/${encodeURIComponent(this.name)}/campaign`,
      body: () => defined({
        value,
        ttlMs,
        lease: options.lease?.id,
        waitMs: waitMs === 0 ? undefined : Math.max(1, Math.round(waitMs - (this.core.clock.now() - startedAt))),
        owner: options.owner,
      }),
      waits: waitMs > 0,
    // A wait's deadline is the server's default (waitMs + its usual deadline, within its maximum);
    // the client's own deadline still cuts the request, and the node then withdraws the waiter.
    serverDeadline: waitMs === 0,
      timeoutMs: waitMs + (options.timeoutMs ?? this.core.timeoutMs),
      ...defined({ signal: options.signal }),
    });
    const { token, lease } = answer.body.leader;
    const keeper = options.lease ?? new LeaseKeepAlive(this.core, lease, ttlMs ?? DEFAULT_TTL_MS, answer.firstSentAt, options.keepAlive);
    const leadership = new Leadership(this.core, this.name, token, answer.body.leader.value, keeper, options.lease === undefined);
    if (!leadership.isSafe()) {
      await leadership.release().catch(() => undefined);
      throw new ConcordError('lock_lost', `election ${JSON.stringify(this.name)} was won too late to be safe`, undefined, { name: this.name, token });
    }
    return leadership;
  }

  /** The current leader, or null. */
  async leader(options: CallOptions = {}): Promise<Leader | null> {
    const answer = await this.core.call<{ name: string; leader?: Leader }>({
      method: 'GET',
      path: `/v1/elections/${encodeURIComponent(this.name)}`,
      ...defined({ signal: options.signal, timeoutMs: options.timeoutMs }),
    });
    return answer.body.leader ?? null;
  }

  /**
   * The leader now, then every change, as an async iterator; reconnects (to any endpoint) when
   * the stream breaks and skips a repeat of the last leader it yielded. Ends when `signal` fires.
   */
  async *observe(options: { signal?: AbortSignal; idleTimeoutMs?: number } = {}): AsyncGenerator<LeaderChange> {
    const signal = options.signal ?? new AbortController().signal;
    let last: string | null = null;
    const events = reconnectingEvents(this.core, {
      signal,
      idleTimeoutMs: options.idleTimeoutMs,
      target: () => ({ path: `/v1/elections/${encodeURIComponent(this.name)}/observe`, query: {} }),
      delivers: (frame) => frame.event === 'leader',
    });
    for await (const frame of events) {
      if (frame.event !== 'leader') continue;
      const data = frame.data as { leader?: Leader; revision: number };
      const fingerprint = JSON.stringify(data.leader ?? null);
      if (fingerprint === last) continue;
      last = fingerprint;
      yield { ...(data.leader === undefined ? {} : { leader: data.leader }), revision: data.revision };
    }
  }
}
