/**
 * Work a node does a slice per turn of its event loop (clock.defer between slices), so that
 * encoding or restoring a large snapshot does not stall everything else the node does: Raft
 * messages, client requests and timers run between the slices.
 */
import type { Clock } from '../common/clock.ts';
import type { Slices } from '../common/slices.ts';

export interface SlicedJobCallbacks<T> {
  /** Gets the result after the last slice. */
  readonly done: (result: T) => void;
  /** Gets what a slice threw; without it, the error is thrown to the event loop. */
  readonly failed?: (error: unknown) => void;
  /**
   * Time between slices instead of the next turn: the simulator's stand-in for the time a slice
   * takes, so that messages arrive and timers fire between slices in virtual time too.
   */
  readonly delayMs?: number;
}

export class SlicedJob<T> {
  private cancelled = false;

  /** Runs the first slice on the next turn: never inside this call, so `done` never runs before the caller holds the job. */
  constructor(
    private readonly clock: Clock,
    private readonly slices: Slices<T>,
    private readonly callbacks: SlicedJobCallbacks<T>,
  ) {
    this.scheduleNext();
  }

  /** No more slices run and `done` is not called (the node stopped). */
  cancel(): void {
    this.cancelled = true;
  }

  private continue(): void {
    if (this.cancelled) return;
    let step: IteratorResult<void, T>;
    try {
      step = this.slices.next();
    } catch (error) {
      if (this.callbacks.failed === undefined) throw error;
      this.callbacks.failed(error);
      return;
    }
    if (step.done === true) this.callbacks.done(step.value);
    else this.scheduleNext();
  }

  private scheduleNext(): void {
    const delayMs = this.callbacks.delayMs ?? 0;
    if (delayMs > 0) this.clock.setTimer(delayMs, () => this.continue());
    else this.clock.defer(() => this.continue());
  }
}

/** Runs `slices` a slice per turn of `clock`; resolves with the result, rejects with what a slice threw. */
export function runSlicedJob<T>(clock: Clock, slices: Slices<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    new SlicedJob(clock, slices, { done: resolve, failed: reject });
  });
}
