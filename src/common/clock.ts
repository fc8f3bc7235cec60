/**
 * Time for the parts of Concord that may have it (the node host, the server), injected so the
 * simulator can substitute virtual time. The deterministic core never sees a Clock: it gets
 * ticks, and commands carry any time they need.
 */

/** An opaque handle for a pending timer. */
export type TimerHandle = object;

export interface Clock {
  /** Monotonic milliseconds (never goes backwards; unrelated to the calendar). */
  nowMs(): number;
  /** Wall-clock milliseconds since the Unix epoch (for times written into commands). */
  wallMs(): number;
  setTimer(delayMs: number, callback: () => void): TimerHandle;
  clearTimer(handle: TimerHandle): void;
  /**
   * Runs `callback` soon, after the work already queued at this instant: whatever arrives
   * meanwhile is batched into the one run (group commit rests on this).
   */
  defer(callback: () => void): void;
}

/** The real clock: performance.now() for monotonic time, Date.now() for wall time. */
export class SystemClock implements Clock {
  nowMs(): number {
    return performance.now();
  }

  wallMs(): number {
    return Date.now();
  }

  setTimer(delayMs: number, callback: () => void): TimerHandle {
    return setTimeout(callback, delayMs);
  }

  clearTimer(handle: TimerHandle): void {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  }

  defer(callback: () => void): void {
    // setImmediate runs after this turn's I/O callbacks, so requests that arrived together
    // share one Ready (one fsync); setTimeout(0) would add a millisecond.
    setImmediate(callback);
  }
}
