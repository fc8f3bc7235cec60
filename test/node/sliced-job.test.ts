// SlicedJob: one slice per turn, never inside the constructor; cancel stops it; a slice that
// throws rejects runSlicedJob's promise instead of escaping to the event loop.
import { describe, expect, it } from 'vitest';
import { SlicedJob, runSlicedJob } from '../../src/node/sliced-job.ts';
import { SystemClock } from '../../src/common/clock.ts';
import { EventQueue } from '../sim/event-queue.ts';
import { SimClock } from '../sim/sim-clock.ts';

function* countTo(n: number, ran: number[]): Generator<void, string, void> {
  for (let i = 1; i <= n; i++) {
    ran.push(i);
    if (i < n) yield;
  }
  return `counted to ${n}`;
}

describe('SlicedJob', () => {
  it('runs one slice per turn, the first after the constructor returns, and stops when cancelled', () => {
    const queue = new EventQueue();
    const clock = new SimClock(queue, 1);
    const ran: number[] = [];
    const results: string[] = [];
    const job = new SlicedJob(clock, countTo(5, ran), { done: (result) => results.push(result) });
    expect(ran).toEqual([]);
    queue.runNext(Number.POSITIVE_INFINITY);
    queue.runNext(Number.POSITIVE_INFINITY);
    expect(ran).toEqual([1, 2]);
    job.cancel();
    while (queue.runNext(Number.POSITIVE_INFINITY));
    expect(ran).toEqual([1, 2]);
    expect(results).toEqual([]);
  });

  it('resolves with the result, or rejects with what a slice threw', async () => {
    await expect(runSlicedJob(new SystemClock(), countTo(3, []))).resolves.toBe('counted to 3');
    function* failing(): Generator<void, string, void> {
      yield;
      throw new Error('slice 2 failed');
    }
    await expect(runSlicedJob(new SystemClock(), failing())).rejects.toThrow('slice 2 failed');
  });
});
