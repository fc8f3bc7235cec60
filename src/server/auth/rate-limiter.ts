/**
 * Requests per second per token: one token bucket per token id, on this node only (not
 * replicated: a rate is a property of traffic, not of the state). A bucket holds up to `burst`
 * requests and refills at `ratePerSecond`; a request that finds it empty is 429 overloaded with
 * retry-after. A request forwarded to the leader is counted there too, so the leader bounds a
 * token's writes across the cluster. Memory is bounded: buckets that have refilled completely
 * carry no information and are dropped whenever the map passes `maxBuckets`.
 */
export interface TokenRateLimits {
  readonly ratePerSecond: number;
  readonly burst: number;
  readonly maxBuckets: number;
}

interface Bucket {
  tokens: number;
  updatedMs: number;
}

export class TokenRateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly limits: TokenRateLimits,
    private readonly nowMs: () => number = () => performance.now(),
  ) {}

  /** Takes one request from `tokenId`'s bucket; returns 0 if allowed, else seconds until one is. */
  take(tokenId: string): number {
    if (this.limits.ratePerSecond <= 0) return 0; // 0: no limit
    const now = this.nowMs();
    const bucket = this.refilled(tokenId, now);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / this.limits.ratePerSecond));
  }

  get size(): number {
    return this.buckets.size;
  }

  private refilled(tokenId: string, now: number): Bucket {
    let bucket = this.buckets.get(tokenId);
    if (bucket === undefined) {
      if (this.buckets.size >= this.limits.maxBuckets) this.dropFull(now);
      bucket = { tokens: this.limits.burst, updatedMs: now };
      this.buckets.set(tokenId, bucket);
      return bucket;
    }
    const elapsedSeconds = Math.max(0, now - bucket.updatedMs) / 1000;
    bucket.tokens = Math.min(this.limits.burst, bucket.tokens + elapsedSeconds * this.limits.ratePerSecond);
    bucket.updatedMs = now;
    return bucket;
  }

  /** Drops buckets that would be full by now; if none is, the oldest (it is the likeliest to be idle). */
  private dropFull(now: number): void {
    const fullAfterMs = (this.limits.burst / this.limits.ratePerSecond) * 1000;
    for (const [id, bucket] of this.buckets) if (now - bucket.updatedMs >= fullAfterMs) this.buckets.delete(id);
    if (this.buckets.size >= this.limits.maxBuckets) {
      const oldest = this.buckets.keys().next();
      if (oldest.done !== true) this.buckets.delete(oldest.value);
    }
  }
}
