/**
 * TEST-ONLY planted bug, reachable only through the hidden `concord serve --test-stale-reads-ms N`
 * flag (not in the contract's flag list, not in `concord help`). It exists so that the chaos
 * tool (`npm run chaos`, test/chaos/) can prove it catches a real consistency bug: with it,
 * a linearizable GET /v1/kv/{key} skips the ReadIndex barrier and answers from a per-node read
 * cache of the local state machine refreshed at most every N ms — the classic "cached reads"
 * mistake, which returns values older than writes already acknowledged. Never set it on a
 * cluster that holds data anyone cares about.
 */
import type { GetResult } from '../kv/state-machine.ts';

/** Bound on cached keys, so the plant cannot grow without limit on a long run. */
const MAX_CACHED_KEYS = 10_000;

export class StaleReadCache {
  private readonly entries = new Map<string, { readonly atMs: number; readonly result: GetResult }>();

  constructor(
    private readonly lagMs: number,
    private readonly readLocal: (key: string) => GetResult,
    private readonly nowMs: () => number = () => performance.now(),
  ) {}

  /** The cached answer for `key` if younger than the lag, else a fresh local read (no barrier). */
  get(key: string): GetResult {
    const now = this.nowMs();
    const cached = this.entries.get(key);
    if (cached !== undefined && now - cached.atMs < this.lagMs) return cached.result;
    const result = this.readLocal(key);
    if (this.entries.size >= MAX_CACHED_KEYS) this.entries.clear();
    this.entries.set(key, { atMs: now, result });
    return result;
  }
}
