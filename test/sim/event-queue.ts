/**
 * Virtual time: a binary min-heap of events ordered by (time, insertion sequence), so events
 * at the same instant run in the order they were scheduled and every run replays exactly.
 */

interface ScheduledEvent {
  readonly atMs: number;
  readonly sequence: number;
  readonly run: () => void;
}

export class EventQueue {
  private readonly heap: ScheduledEvent[] = [];
  private sequence = 0;
  private nowMs = 0;

  get now(): number {
    return this.nowMs;
  }

  get size(): number {
    return this.heap.length;
  }

  /** Runs `run` after `delayMs` of virtual time (0 = later at this same instant). */
  schedule(delayMs: number, run: () => void): void {
    const event = { atMs: this.nowMs + Math.max(0, delayMs), sequence: this.sequence++, run };
    this.heap.push(event);
    this.siftUp(this.heap.length - 1);
  }

  /** Runs the next event; false when none is left or the next is after `untilMs`. */
  runNext(untilMs: number): boolean {
    const next = this.heap[0];
    if (next === undefined || next.atMs > untilMs) return false;
    const last = this.heap.pop();
    if (last !== undefined && this.heap.length > 0) {
      this.heap[0] = last;
      this.siftDown(0);
    }
    this.nowMs = next.atMs;
    next.run();
    return true;
  }

  /** Moves time forward to `atMs` when no event is due before it. */
  advanceTo(atMs: number): void {
    if (atMs > this.nowMs) this.nowMs = atMs;
  }

  private before(a: ScheduledEvent, b: ScheduledEvent): boolean {
    return a.atMs < b.atMs || (a.atMs === b.atMs && a.sequence < b.sequence);
  }

  // Indexes below are always in range; `!` keeps the heap arithmetic readable.
  private siftUp(position: number): void {
    const heap = this.heap;
    let child = position;
    while (child > 0) {
      const parent = (child - 1) >> 1;
      if (!this.before(heap[child]!, heap[parent]!)) return;
      [heap[child], heap[parent]] = [heap[parent]!, heap[child]!];
      child = parent;
    }
  }

  private siftDown(position: number): void {
    const heap = this.heap;
    let parent = position;
    for (;;) {
      const left = parent * 2 + 1;
      const right = left + 1;
      let smallest = parent;
      if (left < heap.length && this.before(heap[left]!, heap[smallest]!)) smallest = left;
      if (right < heap.length && this.before(heap[right]!, heap[smallest]!)) smallest = right;
      if (smallest === parent) return;
      [heap[smallest], heap[parent]] = [heap[parent]!, heap[smallest]!];
      parent = smallest;
    }
  }
}
