/**
 * The replicated idempotency table: idempotencyKey → the first result, so a retried write (a
 * client that timed out, a request re-sent to a new leader) applies once and gets the first
 * outcome again, on every replica and across restarts, because the table is in the snapshot.
 *
 * Time here is the proposers' wall clocks carried in the commands: an entry lives while
 * `maxSeenProposedAtMs - windowMs <= entry.proposedAtMs`, where the max only grows, so a
 * proposer whose clock lags cannot revive old entries. (A proposer whose clock runs far ahead
 * ages every entry early: the cost of having no shared clock, and the reason for NTP.)
 *
 * Bounds: expired entries are pruned oldest-first as the max advances (an expired entry stuck
 * behind a younger one is ignored by lookup and goes when its turn comes); beyond `maxEntries`
 * the oldest entries go even inside the window.
 */
import { assert } from '../common/assert.ts';
import type { Slices } from '../common/slices.ts';
import type { KvResult } from './commands.ts';

export interface DedupEntry {
  readonly key: string;
  readonly proposedAtMs: number;
  readonly result: KvResult;
}

export interface DedupState {
  readonly maxSeenProposedAtMs: number;
  /** Oldest first. */
  readonly entries: readonly DedupEntry[];
}

export class DedupTable {
  // Map order is insertion order: the eviction order, kept through snapshots.
  private readonly entries = new Map<string, DedupEntry>();
  private maxSeenMs = 0;

  constructor(
    readonly windowMs: number,
    readonly maxEntries: number,
  ) {
    assert(Number.isSafeInteger(windowMs) && windowMs >= 0, () => `dedup window ${windowMs}`);
    assert(Number.isSafeInteger(maxEntries) && maxEntries >= 0, () => `dedup bound ${maxEntries}`);
  }

  get size(): number {
    return this.entries.size;
  }

  get maxSeenProposedAtMs(): number {
    return this.maxSeenMs;
  }

  /** Advances the clock the window is measured on (every applied command) and prunes. */
  observe(proposedAtMs: number): void {
    if (proposedAtMs <= this.maxSeenMs) return;
    this.maxSeenMs = proposedAtMs;
    for (const entry of this.entries.values()) {
      if (!this.expired(entry)) break;
      this.entries.delete(entry.key);
    }
  }

  /** The first result recorded under `key`, if still within the window. */
  lookup(key: string): KvResult | undefined {
    const entry = this.entries.get(key);
    return entry === undefined || this.expired(entry) ? undefined : entry.result;
  }

  record(key: string, proposedAtMs: number, result: KvResult): void {
    this.entries.delete(key); // an expired entry of the same key: the new one goes to the back
    this.entries.set(key, { key, proposedAtMs, result });
    for (const oldest of this.entries.values()) {
      if (this.entries.size <= this.maxEntries) break;
      this.entries.delete(oldest.key);
    }
  }

  exportState(): DedupState {
    return { maxSeenProposedAtMs: this.maxSeenMs, entries: [...this.entries.values()] };
  }

  /** Replaces the table (restore); the generator yields after every `perSlice` entries. */
  *loadInSlices(state: DedupState, perSlice: number): Slices<void> {
    this.entries.clear();
    this.maxSeenMs = state.maxSeenProposedAtMs;
    for (const entry of state.entries) {
      this.entries.set(entry.key, entry);
      if (this.entries.size % perSlice === 0) yield;
    }
  }

  private expired(entry: DedupEntry): boolean {
    return entry.proposedAtMs < this.maxSeenMs - this.windowMs;
  }
}
