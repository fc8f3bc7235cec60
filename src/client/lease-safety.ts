/**
 * What a client may honestly believe about a lease it keeps alive, on its own monotonic clock.
 *
 * The server promises that a lease never expires before `ttlMs` has passed since it processed
 * the last keepalive, and it processes a request only after the client sent it. So a lease
 * granted or renewed by a request sent at `s` lives at least until `s + ttlMs` — measured by
 * the leader's clock, which the client can only assume runs at about the same rate as its own.
 * `safeUntil` is that bound: the send time of the request that granted the lease plus the TTL,
 * moved forward only by acknowledged keepalives, each measured from its own send time (never
 * from when the answer arrived). An unacknowledged keepalive moves nothing.
 *
 * Phases: `safe`; `jeopardy` once less than `jeopardyMs` of safety is left (keepalives have
 * been failing); `lost` once `safeUntil` passed or the server said the lease is gone. `lost` is
 * final: a late acknowledgement does not bring it back, because the application may already have
 * acted on the loss.
 */
export type SafetyPhase = 'safe' | 'jeopardy' | 'lost';

export type LossReason = 'expired' | 'lease_gone';

export class SafetyWindow {
  private until: number;
  private current: SafetyPhase = 'safe';
  private reason: LossReason | null = null;

  /**
   * @param grantSentAt when the request that granted (or acquired on) the lease was first sent
   * @param ttlMs the lease's TTL
   * @param jeopardyMs how much safety left counts as jeopardy (default: half the TTL)
   */
  constructor(
    grantSentAt: number,
    private readonly ttlMs: number,
    private readonly jeopardyMs: number = ttlMs / 2,
  ) {
    this.until = grantSentAt + ttlMs;
  }

  get safeUntil(): number {
    return this.until;
  }

  get phase(): SafetyPhase {
    return this.current;
  }

  get lossReason(): LossReason | null {
    return this.reason;
  }

  /**
   * A keepalive first sent at `sentAt` was acknowledged (the lease's TTL is `ttlMs`). Returns the
   * phases entered, evaluated at `now` ([] or ['safe'] when it ends a jeopardy).
   */
  acknowledged(sentAt: number, now: number, ttlMs: number = this.ttlMs): SafetyPhase[] {
    if (this.current === 'lost') return [];
    this.until = Math.max(this.until, sentAt + ttlMs);
    return this.evaluate(now);
  }

  /** The server said the lease does not exist (expired, revoked). */
  leaseGone(): SafetyPhase[] {
    if (this.current === 'lost') return [];
    this.current = 'lost';
    this.reason = 'lease_gone';
    return ['lost'];
  }

  /** Moves to the phase `now` calls for; returns the phases entered, in order. */
  evaluate(now: number): SafetyPhase[] {
    if (this.current === 'lost') return [];
    const entered: SafetyPhase[] = [];
    const left = this.until - now;
    if (left <= 0) {
      if (this.current === 'safe') entered.push('jeopardy');
      this.current = 'lost';
      this.reason = 'expired';
      entered.push('lost');
    } else if (left <= this.jeopardyMs) {
      if (this.current === 'safe') {
        this.current = 'jeopardy';
        entered.push('jeopardy');
      }
    } else if (this.current === 'jeopardy') {
      this.current = 'safe';
      entered.push('safe');
    }
    return entered;
  }

  /** When the phase changes next if nothing is acknowledged meanwhile (null once lost). */
  nextChangeAt(): number | null {
    if (this.current === 'lost') return null;
    return this.current === 'safe' ? this.until - this.jeopardyMs : this.until;
  }
}
