/**
 * A bounded FIFO of outgoing messages for one peer. When full it drops the oldest message:
 * Raft tolerates loss, and the newest messages (latest term, latest commit index) are the ones
 * worth delivering, so a slow or absent peer costs a fixed amount of memory, never more.
 */
import { assert } from '../common/assert.ts';

export class SendQueue<T> {
  /** A ring buffer: `count` items starting at `head`, wrapping around. */
  private readonly slots: (T | undefined)[];
  private head = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    assert(
      Number.isSafeInteger(capacity) && capacity > 0,
      'queue capacity must be a positive integer',
    );
    this.slots = new Array<T | undefined>(capacity).fill(undefined);
  }

  get length(): number {
    return this.count;
  }

  /** Appends `item`; returns how many old items were dropped to make room (0 or 1). */
  push(item: T): number {
    let dropped = 0;
    if (this.count === this.capacity) {
      this.slots[this.head] = undefined;
      this.head = (this.head + 1) % this.capacity;
      this.count -= 1;
      dropped = 1;
    }
    this.slots[(this.head + this.count) % this.capacity] = item;
    this.count += 1;
    return dropped;
  }

  /** Removes and returns up to `limit` items, oldest first. */
  take(limit: number = this.count): T[] {
    const taken: T[] = [];
    while (this.count > 0 && taken.length < limit) {
      const item = this.slots[this.head];
      assert(item !== undefined, 'a counted slot is empty');
      taken.push(item);
      this.slots[this.head] = undefined;
      this.head = (this.head + 1) % this.capacity;
      this.count -= 1;
    }
    return taken;
  }

  /** Drops everything; returns how many items were dropped. */
  clear(): number {
    const dropped = this.count;
    this.slots.fill(undefined);
    this.head = 0;
    this.count = 0;
    return dropped;
  }
}
