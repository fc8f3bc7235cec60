// The per-token token bucket on a fake clock: the burst, the refill rate, retry-after, separate
// buckets per token, no limit at 0, and the bound on the number of buckets kept.
import { describe, expect, it } from 'vitest';
import { TokenRateLimiter } from '../../src/server/auth/rate-limiter.ts';

function limiter(ratePerSecond: number, burst: number, maxBuckets = 100): { limiter: TokenRateLimiter; advance(ms: number): void } {
  let nowMs = 0;
  return { limiter: new TokenRateLimiter({ ratePerSecond, burst, maxBuckets }, () => nowMs), advance: (ms) => (nowMs += ms) };
}

describe('TokenRateLimiter', () => {
  it('allows a burst, then one request per 1/rate seconds, with retry-after in whole seconds', () => {
    const { limiter: bucket, advance } = limiter(10, 3);
    expect([bucket.take('a'), bucket.take('a'), bucket.take('a')]).toEqual([0, 0, 0]);
    expect(bucket.take('a')).toBe(1);
    advance(99);
    expect(bucket.take('a')).toBe(1);
    advance(1);
    expect(bucket.take('a')).toBe(0);
    expect(bucket.take('a')).toBe(1);
    advance(10_000);
    expect([bucket.take('a'), bucket.take('a'), bucket.take('a'), bucket.take('a')]).toEqual([0, 0, 0, 1]); // never beyond the burst
  });

  it('asks slow rates to wait longer than a second', () => {
    const { limiter: bucket } = limiter(0.25, 1);
    expect(bucket.take('a')).toBe(0);
    expect(bucket.take('a')).toBe(4);
  });

  it('keeps one bucket per token', () => {
    const { limiter: bucket } = limiter(1, 1);
    expect(bucket.take('a')).toBe(0);
    expect(bucket.take('a')).toBe(1);
    expect(bucket.take('b')).toBe(0);
  });

  it('does not limit at rate 0', () => {
    const { limiter: bucket } = limiter(0, 0);
    for (let i = 0; i < 1000; i++) expect(bucket.take('a')).toBe(0);
    expect(bucket.size).toBe(0);
  });

  it('keeps at most maxBuckets, dropping refilled ones first', () => {
    const { limiter: bucket, advance } = limiter(1, 2, 3);
    bucket.take('a');
    advance(5000); // a is full again: nothing to remember
    bucket.take('b');
    bucket.take('c');
    bucket.take('d');
    expect(bucket.size).toBe(3);
    bucket.take('c');
    expect(bucket.take('c')).toBe(1); // c's state survived: it was not full
    for (const id of ['e', 'f', 'g', 'h']) bucket.take(id);
    expect(bucket.size).toBeLessThanOrEqual(3);
  });
});
