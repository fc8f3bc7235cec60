/**
 * Request deadlines. Every request has one (the contract's `timeoutMs`, default 5000); it travels
 * with forwarded requests as the time that remains, so a request forwarded to the leader gives
 * up when the client does. Measured on the monotonic clock, never the wall clock.
 */
import { ConcordError } from '../common/errors.ts';

export class Deadline {
  private constructor(private readonly atMs: number) {}

  static afterMs(timeoutMs: number): Deadline {
    return new Deadline(performance.now() + timeoutMs);
  }

  remainingMs(): number {
    return Math.max(0, this.atMs - performance.now());
  }

  get expired(): boolean {
    return this.remainingMs() <= 0;
  }
}

/** Waits `ms`, but never past the deadline. */
export function sleepWithin(ms: number, deadline: Deadline): Promise<void> {
  const waitMs = Math.min(ms, deadline.remainingMs());
  return new Promise((resolve) => setTimeout(resolve, waitMs));
}

/**
 * Settles like `start`'s promise, or rejects with `onExpiry()` at the deadline. `start` receives
 * a callback-style completion, as KvNode's API speaks; a completion after the deadline is ignored.
 *
 * Every write and linearizable read passes here, so it is kept lean: one small object instead of
 * a closure per step (run from source, tsx's esbuild keeps function names: each named local
 * closure then costs a defineProperty, ~1 µs; the compiled build has no such wrappers), and the
 * timer in whole milliseconds, so requests with the same timeout share one of Node's timer lists
 * instead of each creating and dropping a list of its own.
 */
export function untilDeadline<T>(
  deadline: Deadline,
  onExpiry: () => ConcordError,
  start: (resolve: (value: T) => void, reject: (error: unknown) => void) => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const race = new DeadlineRace<T>(resolve, reject, onExpiry, Math.ceil(deadline.remainingMs()));
    try {
      start(
        (value) => race.resolve(value),
        (error) => race.reject(error),
      );
    } catch (error) {
      race.reject(error);
    }
  });
}

/** One untilDeadline: whichever of completion and deadline comes first settles the promise. */
class DeadlineRace<T> {
  private settled = false;
  private readonly timer: ReturnType<typeof setTimeout>;

  constructor(
    private readonly onValue: (value: T) => void,
    private readonly onError: (error: unknown) => void,
    private readonly onExpiry: () => ConcordError,
    waitMs: number,
  ) {
    this.timer = setTimeout(expire, waitMs, this);
  }

  resolve(value: T): void {
    if (this.finish()) this.onValue(value);
  }

  reject(error: unknown): void {
    if (this.finish()) this.onError(error);
  }

  expire(): void {
    if (this.finish()) this.onError(this.onExpiry());
  }

  /** True the first time: the caller settles the promise. */
  private finish(): boolean {
    if (this.settled) return false;
    this.settled = true;
    clearTimeout(this.timer);
    return true;
  }
}

function expire(race: { expire(): void }): void {
  race.expire();
}
