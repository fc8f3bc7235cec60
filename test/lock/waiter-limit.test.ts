// MAX_WAITERS_PER_LOCK (src/lock/limits.ts) is enforced at apply: the waiter past it is refused
// as overloaded (the server's 429) and not queued; a waiter already in line is not counted twice;
// a place that frees up is taken by the next one.
import { describe, expect, it } from 'vitest';
import { MAX_WAITERS_PER_LOCK } from '../../src/lock/limits.ts';
import { LockHarness, errorCode } from './lock-harness.ts';

describe('waiters per lock', () => {
  it(`queues ${MAX_WAITERS_PER_LOCK} waiters on one lock and refuses the next as overloaded`, () => {
    const h = new LockHarness();
    h.token('crowded', { owner: 'holder' });
    // One lease for every waiter, so the test measures the queue, not lease bookkeeping.
    const lease = String(h.run({ type: 'leaseGrant', ttlMs: 60_000 })['id']);
    for (let position = 1; position <= MAX_WAITERS_PER_LOCK; position++) {
      const queued = h.acquire('crowded', { waiterId: `w${position}`, lease });
      if (queued['status'] !== 'queued' || queued['position'] !== position) {
        throw new Error(`waiter ${position} not queued in place: ${JSON.stringify(queued)}`);
      }
    }
    const refused = h.acquire('crowded', { waiterId: 'one-too-many', lease });
    expect(errorCode(refused)).toBe('overloaded');
    expect(h.machine.locks.view('lock', 'crowded')?.waiters).toBe(MAX_WAITERS_PER_LOCK);
    // A waiter asking again (a retried request) keeps its place instead of being refused.
    expect(h.acquire('crowded', { waiterId: 'w17', lease })).toMatchObject({ status: 'queued', position: 17 });
    // Another lock is not affected.
    expect(h.acquire('elsewhere', { waiterId: 'fresh', lease })).toMatchObject({ status: 'held' });
    // One waiter leaving makes room for exactly one more.
    expect(h.withdraw('crowded', 'w1')).not.toHaveProperty('error');
    expect(h.acquire('crowded', { waiterId: 'one-too-many', lease })).toMatchObject({ status: 'queued', position: MAX_WAITERS_PER_LOCK });
    expect(errorCode(h.acquire('crowded', { waiterId: 'and-another', lease }))).toBe('overloaded');
  });
});
