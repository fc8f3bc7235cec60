/**
 * Lease keepalives a follower's clients make, sent to the leader over the peer connection
 * (forward-keepalives) instead of as forwarded HTTP requests: a registry of instances that
 * heartbeat through every node would otherwise cost each follower an outbound HTTP request per
 * heartbeat, and the leader an inbound one. The keepalives of one event-loop turn travel in one
 * message; the leader renews them behind one read barrier and answers once (kv-node.ts).
 *
 * Only a definite answer settles a keepalive with an outcome: renewed, or no such lease. Anything
 * else — no leader known, the leader changed, no answer within `giveUpTicks` ticks — settles it
 * with null, and the caller takes another path (the server forwards the HTTP request, whose
 * router finds the leader and retries). A keepalive is idempotent, so one that the leader did
 * renew before its answer was lost is renewed again, harmlessly.
 */
import type { Clock, TimerHandle } from '../common/clock.ts';
import type { ForwardKeepalivesResponse, ForwardKeepalivesRequest, Message } from '../raft/messages.ts';
import type { NodeId, Term } from '../raft/types.ts';
import { ForwardedRequests } from './forwarded-requests.ts';

/** What the leader said: the TTL granted from now, or that it knows no such lease. */
export type ForwardedKeepaliveOutcome = { readonly ok: true; readonly ttlMs: number } | { readonly ok: false; readonly code: 'not_found' };

/** Null: no definite answer (see the file's comment). */
export type SettleKeepalive = (outcome: ForwardedKeepaliveOutcome | null) => void;

export interface KeepaliveForwardingOptions {
  readonly self: NodeId;
  readonly clock: Clock;
  readonly send: (messages: readonly Message[]) => void;
  /** The leader this node follows now ('' when none). */
  readonly leader: () => NodeId;
  readonly term: () => Term;
  readonly tickMs: number;
  /** Ticks to wait for the leader's answer before giving a keepalive up. */
  readonly giveUpTicks: number;
}

export class KeepaliveForwarding {
  private readonly requests = new ForwardedRequests<string, SettleKeepalive>();
  private flushScheduled = false;
  private tickTimer: TimerHandle | null = null;
  private stopped = false;

  constructor(private readonly options: KeepaliveForwardingOptions) {}

  /** Queues a keepalive of `lease` for this turn's message to the leader. */
  forward(lease: string, settle: SettleKeepalive): void {
    if (this.stopped) return settle(null);
    this.requests.add(lease, settle);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      this.options.clock.defer(() => this.flush());
    }
    this.tickTimer ??= this.options.clock.setTimer(this.options.tickMs, () => this.tick());
  }

  /** The leader's answer. */
  answered(response: ForwardKeepalivesResponse): void {
    response.ids.forEach((id, position) => {
      const settle = this.requests.answered(id);
      if (settle === undefined) return; // given up already, or a duplicated answer
      const ttlMs = response.ttls[position] ?? 0;
      if (!response.leading) settle(null);
      else settle(ttlMs > 0 ? { ok: true, ttlMs } : { ok: false, code: 'not_found' });
    });
  }

  /** The leader changed (or this node stops): nothing waiting will be answered by the one it asked. */
  failAll(): void {
    for (const settle of this.requests.drain()) settle(null);
  }

  stop(): void {
    this.stopped = true;
    this.failAll();
    if (this.tickTimer !== null) this.options.clock.clearTimer(this.tickTimer);
    this.tickTimer = null;
  }

  private flush(): void {
    this.flushScheduled = false;
    const queued = this.requests.takeQueued();
    if (queued.length === 0) return;
    const leader = this.options.leader();
    if (leader === '' || leader === this.options.self) {
      for (const { id } of queued) this.requests.answered(id)?.(null);
      return;
    }
    const keepalives = queued.map(({ id, payload }) => ({ id, lease: payload }));
    const request: ForwardKeepalivesRequest = { type: 'forward-keepalives', from: this.options.self, to: leader, term: this.options.term(), keepalives };
    this.options.send([request]);
  }

  private tick(): void {
    this.tickTimer = null;
    for (const settle of this.requests.tick(this.options.giveUpTicks)) settle(null);
    if (this.requests.size > 0 && !this.stopped) this.tickTimer = this.options.clock.setTimer(this.options.tickMs, () => this.tick());
  }
}
