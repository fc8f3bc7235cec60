/**
 * The leader's lease countdowns. Lease expiry is decided here, on the leader's monotonic clock,
 * and carried out by a log entry (so every replica deletes the same keys at the same revision);
 * keepalives only reset a countdown and are never logged.
 *
 * Never early: a countdown starts at full TTL when the lease's grant is applied on the leader,
 * when a keepalive reaches the leader, and — for every lease — when a node becomes leader (it
 * cannot know how long the old leader had counted). Only then may it run out.
 *
 * Bounds: one timer, set for the earliest deadline; each firing scans the table, which is
 * linear in the number of leases (fine for the tens of thousands a node holds).
 */
import type { Clock, TimerHandle } from '../common/clock.ts';

export interface LeaseCountdown {
  readonly id: string;
  readonly ttlMs: number;
}

export interface LeaseKeeperOptions {
  readonly clock: Clock;
  /** Proposes that lease `id` expired; `done(true)` once that entry applied, `done(false)` if not. */
  proposeExpiry(id: string, done: (applied: boolean) => void): void;
  /** How soon to try again when an expiry proposal failed (e.g. no quorum). */
  readonly retryMs: number;
}

interface Countdown {
  ttlMs: number;
  deadlineMs: number;
  expiring: boolean;
}

export class LeaseKeeper {
  private readonly countdowns = new Map<string, Countdown>();
  private leading = false;
  private timer: TimerHandle | null = null;
  private timerAtMs = Number.POSITIVE_INFINITY;

  constructor(private readonly options: LeaseKeeperOptions) {}

  get isLeading(): boolean {
    return this.leading;
  }

  /** We became leader: every lease restarts at full TTL. */
  becameLeader(leases: Iterable<LeaseCountdown>): void {
    this.leading = true;
    this.countdowns.clear();
    const nowMs = this.options.clock.nowMs();
    for (const lease of leases) {
      this.countdowns.set(lease.id, { ttlMs: lease.ttlMs, deadlineMs: nowMs + lease.ttlMs, expiring: false });
    }
    this.reschedule();
  }

  /** We are no longer leader: the next leader counts. */
  lostLeadership(): void {
    this.leading = false;
    this.countdowns.clear();
    this.cancelTimer();
  }

  /** A grant was applied: count from now. */
  granted(id: string, ttlMs: number): void {
    if (!this.leading) return;
    this.countdowns.set(id, { ttlMs, deadlineMs: this.options.clock.nowMs() + ttlMs, expiring: false });
    this.reschedule();
  }

  /** The lease was revoked or expired (its entry applied). */
  removed(id: string): void {
    this.countdowns.delete(id);
  }

  /**
   * A keepalive: restarts the countdown and returns the TTL granted from now, or null when this
   * node cannot renew it (not the leader, unknown lease, or its expiry is already proposed).
   */
  keepAlive(id: string): number | null {
    const countdown = this.countdowns.get(id);
    if (!this.leading || countdown === undefined || countdown.expiring) return null;
    countdown.deadlineMs = this.options.clock.nowMs() + countdown.ttlMs;
    return countdown.ttlMs;
  }

  /** Milliseconds left on the leader's countdown, or null when unknown here. */
  remainingMs(id: string): number | null {
    const countdown = this.countdowns.get(id);
    if (!this.leading || countdown === undefined) return null;
    return Math.max(0, countdown.deadlineMs - this.options.clock.nowMs());
  }

  stop(): void {
    this.lostLeadership();
  }

  private cancelTimer(): void {
    if (this.timer !== null) this.options.clock.clearTimer(this.timer);
    this.timer = null;
    this.timerAtMs = Number.POSITIVE_INFINITY;
  }

  /** Keeps one timer armed for the earliest deadline still counting. */
  private reschedule(): void {
    let earliest = Number.POSITIVE_INFINITY;
    for (const countdown of this.countdowns.values()) {
      if (!countdown.expiring) earliest = Math.min(earliest, countdown.deadlineMs);
    }
    if (earliest === Number.POSITIVE_INFINITY) {
      this.cancelTimer();
      return;
    }
    if (this.timer !== null && this.timerAtMs <= earliest) return;
    this.cancelTimer();
    this.timerAtMs = earliest;
    const delayMs = Math.max(0, earliest - this.options.clock.nowMs());
    this.timer = this.options.clock.setTimer(delayMs, () => {
      this.timer = null;
      this.timerAtMs = Number.POSITIVE_INFINITY;
      this.expireDue();
    });
  }

  private expireDue(): void {
    if (!this.leading) return;
    const nowMs = this.options.clock.nowMs();
    for (const [id, countdown] of this.countdowns) {
      if (countdown.expiring || countdown.deadlineMs > nowMs) continue;
      countdown.expiring = true;
      this.options.proposeExpiry(id, (applied) => {
        const current = this.countdowns.get(id);
        if (applied || current !== countdown) return;
        // The proposal failed (lost leadership, overload): try again later if still ours.
        countdown.expiring = false;
        countdown.deadlineMs = this.options.clock.nowMs() + this.options.retryMs;
        this.reschedule();
      });
    }
    this.reschedule();
  }
}
