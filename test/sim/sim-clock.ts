/**
 * A node's clock in the simulator: virtual time from the shared event queue, running at the
 * node's own rate (clock drift), and gated by the node's process state. While the process is
 * paused nothing it scheduled runs; on resume what came due runs in order, as after SIGCONT.
 * Killing the process (a crash) silences every callback it had scheduled.
 */
import type { Clock, TimerHandle } from '../../src/common/clock.ts';
import type { EventQueue } from './event-queue.ts';

interface SimTimer {
  cancelled: boolean;
}

export class SimClock implements Clock {
  private generation = 0;
  private paused = false;
  private readonly dueWhilePaused: (() => void)[] = [];

  constructor(
    private readonly queue: EventQueue,
    /** Real (virtual) milliseconds per local millisecond: 1.1 = this clock runs 10 % slow. */
    private readonly rate: number,
    private readonly wallEpochMs = 1_700_000_000_000,
  ) {}

  nowMs(): number {
    return this.queue.now / this.rate;
  }

  wallMs(): number {
    return this.wallEpochMs + this.nowMs();
  }

  setTimer(delayMs: number, callback: () => void): TimerHandle {
    const timer: SimTimer = { cancelled: false };
    this.schedule(delayMs * this.rate, () => {
      if (!timer.cancelled) callback();
    });
    return timer;
  }

  clearTimer(handle: TimerHandle): void {
    (handle as SimTimer).cancelled = true;
  }

  defer(callback: () => void): void {
    this.schedule(0, callback);
  }

  /** Runs `callback` in this process after `delayMs` of virtual time (disk completions too). */
  schedule(delayMs: number, callback: () => void): void {
    const generation = this.generation;
    this.queue.schedule(delayMs, () => {
      if (generation !== this.generation) return;
      if (this.paused) this.dueWhilePaused.push(callback);
      else callback();
    });
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    const due = this.dueWhilePaused.splice(0, this.dueWhilePaused.length);
    for (const callback of due) callback();
  }

  /** The process died: nothing it scheduled will ever run. */
  kill(): void {
    this.generation++;
    this.paused = false;
    this.dueWhilePaused.length = 0;
  }
}
