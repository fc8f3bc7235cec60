/**
 * Time for the parts of the SDK whose correctness depends on it (lock and lease safety): a
 * monotonic clock and timers, injectable so tests can drive them by hand. Everything else uses
 * the real timers directly.
 */

export interface ClientClock {
  /** Monotonic milliseconds (performance.now() by default); never the wall clock. */
  now(): number;
  /** Calls `callback` after `delayMs`; returns a function that cancels it. */
  setTimer(callback: () => void, delayMs: number): () => void;
}

export const systemClock: ClientClock = {
  now: () => performance.now(),
  setTimer(callback, delayMs) {
    // Not unref'd: a handle that keeps a lease alive keeps the process alive until it is
    // released or closed, as an open server or socket does.
    const timer = setTimeout(callback, Math.max(0, delayMs));
    return () => clearTimeout(timer);
  },
};

/** Resolves after `ms` on `clock`, or rejects with the signal's reason when it fires first. */
export function sleepOn(clock: ClientClock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      cancel();
      reject(signal?.reason);
    };
    const cancel = clock.setTimer(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Resolves after `ms` of real time, or rejects with the signal's reason when it fires first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return sleepOn(systemClock, ms, signal);
}
