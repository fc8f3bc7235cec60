/**
 * Which locks each lease is in, as holder or as waiter: the lock table's reverse index, so that
 * a lease's end touches only its own locks instead of scanning every one. A record may refer to
 * one lease more than once (a holder and a waiter on the same lease), hence the counts.
 */
import { assert } from '../common/assert.ts';

export class LeaseRefs {
  /** lease → record key → how many times the record refers to it. */
  private readonly refs = new Map<string, Map<string, number>>();

  add(lease: string, key: string): void {
    let keys = this.refs.get(lease);
    if (keys === undefined) {
      keys = new Map();
      this.refs.set(lease, keys);
    }
    keys.set(key, (keys.get(key) ?? 0) + 1);
  }

  remove(lease: string, key: string): void {
    const keys = this.refs.get(lease);
    const count = keys?.get(key) ?? 0;
    assert(keys !== undefined && count > 0, () => `lease ${lease} not referenced by lock ${key}`);
    if (count > 1) keys.set(key, count - 1);
    else keys.delete(key);
    if (keys.size === 0) this.refs.delete(lease);
  }

  /** The keys of the records that refer to `lease`, sorted (the order every replica visits them in). */
  keysOf(lease: string): string[] {
    return [...(this.refs.get(lease)?.keys() ?? [])].sort();
  }

  has(lease: string): boolean {
    return this.refs.has(lease);
  }

  clear(): void {
    this.refs.clear();
  }
}
