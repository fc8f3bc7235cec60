/**
 * A lease kept alive in the background, with an honest account of whether it still is (see
 * lease-safety.ts): `safeUntil`, a `signal` that fires once the client can no longer be sure,
 * and events — `renewed`, `jeopardy` (keepalives are failing and less than `jeopardyMs` of
 * safety is left), `safe` (a keepalive got through after a jeopardy), `lost` (safeUntil passed,
 * or the server said the lease is gone), `failure` (one keepalive attempt failed; it goes on).
 * Lock and leadership handles are built on it.
 */
import { EventEmitter } from 'node:events';
import type { ClientClock } from './clock.ts';
import { encodeKeyPath, type ClientCore } from './core.ts';
import { ConcordError } from './errors.ts';
import { SafetyWindow, type SafetyPhase } from './lease-safety.ts';

export interface KeepAliveOptions {
  /** Time between keepalives (default ttlMs / 3). */
  readonly intervalMs?: number;
  /** Safety left below which `jeopardy` is emitted (default ttlMs / 2). */
  readonly jeopardyMs?: number;
}

export interface SafetyStatus {
  readonly safeUntil: number;
  readonly remainingMs: number;
}

export interface KeepAliveEvents {
  renewed: [SafetyStatus];
  jeopardy: [SafetyStatus];
  safe: [SafetyStatus];
  lost: [ConcordError];
  failure: [ConcordError];
}

interface KeepAliveAnswer {
  readonly id: string;
  readonly ttlMs: number;
  readonly remainingMs: number;
}

/** Retry delay after a failed keepalive: soon, but not a hot loop. */
const RETRY_FLOOR_MS = 50;

export class LeaseKeepAlive extends EventEmitter<KeepAliveEvents> {
  private readonly window: SafetyWindow;
  private readonly controller = new AbortController();
  private readonly clock: ClientClock;
  private readonly intervalMs: number;
  private stopped = false;
  private cancelRenewal: (() => void) | null = null;
  private cancelCheck: (() => void) | null = null;

  /**
   * @param grantSentAt when the request that granted the lease (or acquired with it) was sent,
   *   on the client's clock; the first safeUntil is that plus ttlMs
   */
  constructor(
    private readonly core: ClientCore,
    readonly id: string,
    readonly ttlMs: number,
    grantSentAt: number,
    options: KeepAliveOptions = {},
  ) {
    super();
    this.clock = core.clock;
    this.intervalMs = options.intervalMs ?? ttlMs / 3;
    this.window = new SafetyWindow(grantSentAt, ttlMs, options.jeopardyMs ?? ttlMs / 2);
    this.apply(this.window.evaluate(this.clock.now()));
    if (!this.stopped) this.scheduleRenewal(Math.max(0, grantSentAt + this.intervalMs - this.clock.now()));
  }

  /** Until when (client monotonic clock, performance.now() by default) the lease is surely alive. */
  get safeUntil(): number {
    return this.window.safeUntil;
  }

  get phase(): SafetyPhase {
    return this.window.phase;
  }

  /** Milliseconds of certain life left (0 once lost). */
  remainingMs(): number {
    return this.window.phase === 'lost' ? 0 : Math.max(0, this.window.safeUntil - this.clock.now());
  }

  /** Whether the lease is surely alive right now. */
  isSafe(): boolean {
    this.apply(this.window.evaluate(this.clock.now()));
    return this.window.phase !== 'lost' && !this.stopped;
  }

  /** Fires when the lease can no longer be trusted (lost), or the handle was closed. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Stops keeping the lease alive (it then expires after its TTL); fires the signal. */
  close(reason: ConcordError = new ConcordError('aborted', `keepalive of lease ${this.id} closed`)): void {
    if (this.stopped) return;
    this.stop(reason);
  }

  /** Stops the keepalives and revokes the lease (its keys are deleted). */
  async revoke(options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<void> {
    this.close();
    try {
      await this.core.call({ method: 'DELETE', path: `/v1/leases/${encodeKeyPath(this.id)}`, ...options });
    } catch (error) {
      if (!(error instanceof ConcordError && error.code === 'not_found')) throw error;
    }
  }

  private scheduleRenewal(delayMs: number): void {
    this.cancelRenewal?.();
    this.cancelRenewal = this.clock.setTimer(() => void this.renew(), delayMs);
  }

  private scheduleCheck(): void {
    this.cancelCheck?.();
    this.cancelCheck = null;
    const at = this.window.nextChangeAt();
    if (at === null || this.stopped) return;
    this.cancelCheck = this.clock.setTimer(() => this.apply(this.window.evaluate(this.clock.now())), at - this.clock.now());
  }

  private async renew(): Promise<void> {
    if (this.stopped) return;
    try {
      // Beyond safeUntil an answer could not save the handle: give up on the attempt there.
      const timeoutMs = Math.max(250, this.window.safeUntil - this.clock.now());
      const answer = await this.core.call<KeepAliveAnswer>({
        method: 'POST',
        path: `/v1/leases/${encodeKeyPath(this.id)}/keepalive`,
        signal: this.controller.signal,
        timeoutMs,
      });
      if (this.stopped) return;
      this.apply(this.window.acknowledged(answer.firstSentAt, this.clock.now(), answer.body.ttlMs));
      if (this.stopped) return;
      this.emit('renewed', this.status());
      this.scheduleRenewal(Math.max(0, answer.firstSentAt + this.intervalMs - this.clock.now()));
    } catch (error) {
      if (this.stopped) return;
      const failure = error instanceof ConcordError ? error : new ConcordError('internal', String(error), undefined, {}, { cause: error });
      if (failure.code === 'not_found') {
        this.apply(this.window.leaseGone());
        return;
      }
      this.emit('failure', failure);
      this.apply(this.window.evaluate(this.clock.now()));
      if (!this.stopped) this.scheduleRenewal(Math.max(RETRY_FLOOR_MS, Math.min(this.intervalMs / 4, 500)));
    }
  }

  private apply(entered: readonly SafetyPhase[]): void {
    for (const phase of entered) {
      if (phase === 'jeopardy') this.emit('jeopardy', this.status());
      else if (phase === 'safe') this.emit('safe', this.status());
      else {
        const reason = this.window.lossReason ?? 'expired';
        const lost = new ConcordError(
          'lease_lost',
          reason === 'lease_gone' ? `lease ${this.id} is gone (expired or revoked)` : `lease ${this.id}: no keepalive acknowledged before safeUntil`,
          undefined,
          { lease: this.id, reason, safeUntil: this.window.safeUntil },
        );
        this.stop(lost);
        this.emit('lost', lost);
      }
    }
    // safeUntil may have moved even when no phase changed: aim the check at the new moment.
    if (!this.stopped) this.scheduleCheck();
  }

  private status(): SafetyStatus {
    return { safeUntil: this.window.safeUntil, remainingMs: this.remainingMs() };
  }

  private stop(reason: ConcordError): void {
    this.stopped = true;
    this.cancelRenewal?.();
    this.cancelCheck?.();
    this.cancelRenewal = null;
    this.cancelCheck = null;
    this.controller.abort(reason);
  }
}
