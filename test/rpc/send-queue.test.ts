/** The bounded send queue: FIFO order, a hard capacity, and oldest-first eviction. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SendQueue } from '../../src/rpc/send-queue.ts';

describe('SendQueue', () => {
  it('keeps the newest `capacity` items in order and counts every eviction', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20 }), fc.array(fc.integer(), { maxLength: 100 }), (capacity, items) => {
        const queue = new SendQueue<number>(capacity);
        let dropped = 0;
        for (const item of items) dropped += queue.push(item);
        expect(queue.length).toBe(Math.min(capacity, items.length));
        expect(dropped).toBe(Math.max(0, items.length - capacity));
        expect(queue.take()).toEqual(items.slice(Math.max(0, items.length - capacity)));
        expect(queue.length).toBe(0);
      }),
    );
  });

  it('takes at most `limit` items and clears what is left', () => {
    const queue = new SendQueue<string>(4);
    for (const item of ['a', 'b', 'c']) queue.push(item);
    expect(queue.take(2)).toEqual(['a', 'b']);
    queue.push('d');
    expect(queue.clear()).toBe(2);
    expect(queue.take()).toEqual([]);
  });

  it('refuses a capacity that is not a positive integer', () => {
    expect(() => new SendQueue(0)).toThrow(/capacity/);
    expect(() => new SendQueue(1.5)).toThrow(/capacity/);
  });
});
