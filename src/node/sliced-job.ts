/**
 * Work a node does a slice per turn of its event loop (clock.defer between slices), so that
 * encoding or restoring a large snapshot does not stall everything else the node does: Raft
 * messages, client requests and timers run between the slices.
 */
import type { Clock } from '../common/clock.ts';
import type { Slices } from '../common/slices.ts';

export class SlicedJob<T> {
  private cancelled = false;

  /**
   * Runs the first slice on the next turn (never inside this call, so `done` never runs before
   * the caller holds the job); `done` gets the result after the last. With `delayMs` > 0 the
   * slices are that far apart in time instead: the simulator's stand-in for the time a slice
   * takes, so that messages arrive and timers fire between slices in virtual time too.
   */
  constructor(
    private readonly clock: Clock,
    private readonly slices: Slices<T>,
    private readonly done: (result: T) => void,
    private readonly delayMs = 0,
  ) {
    this.scheduleNext();
  }

  /** No more slices run and `done` is not called (the node stopped). */
  cancel(): void {
    this.cancelled = true;
  }

  private continue(): void {
    if (this.cancelled) return;
    const step = this.slices.next();
    if (step.done === true) this.done(step.value);
    else this.scheduleNext();
  }

  private scheduleNext(): void {
    if (this.delayMs > 0) this.clock.setTimer(this.delayMs, () => this.continue());
    else this.clock.defer(() => this.continue());
  }
}
