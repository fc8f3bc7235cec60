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
 */
export function untilDeadline<T>(
  deadline: Deadline,
  onExpiry: () => ConcordError,
  start: (resolve: (value: T) => void, reject: (error: unknown) => void) => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => settle(() => reject(onExpiry())), deadline.remainingMs());
    const settle = (finish: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      finish();
    };
    try {
      start(
        (value) => settle(() => resolve(value)),
        (error) => settle(() => reject(error)),
      );
    } catch (error) {
      settle(() => reject(error));
    }
  });
}
