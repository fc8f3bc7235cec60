// TimedStorage: times synced writes for the metrics and reports idleness, without ever moving an
// acknowledgement ahead of the inner storage's.
import { describe, expect, it } from 'vitest';
import { TimedStorage } from '../../src/cli/timed-storage.ts';
import type { PersistBatch, Storage } from '../../src/storage/storage.ts';
import { EMPTY_HARD_STATE } from '../../src/raft/types.ts';

class ManualStorage implements Storage {
  readonly pending: ((error: Error | null) => void)[] = [];
  async load() {
    return { hardState: EMPTY_HARD_STATE, snapshot: null, entries: [] };
  }
  persist(_batch: PersistBatch, done: (error: Error | null) => void): void {
    this.pending.push(done);
  }
  async close(): Promise<void> {}
}

const batch = (sync: boolean): PersistBatch => ({ snapshot: null, compaction: null, entries: [], hardState: EMPTY_HARD_STATE, sync });

describe('TimedStorage', () => {
  it('calls done only when the inner storage does, and times synced writes only', async () => {
    const inner = new ManualStorage();
    const timed = new TimedStorage(inner);
    const observed: number[] = [];
    timed.onSyncedWrite = (seconds) => observed.push(seconds);
    const outcomes: (Error | null)[] = [];
    timed.persist(batch(true), (error) => outcomes.push(error));
    expect(outcomes).toEqual([]);
    let idle = false;
    const idlePromise = timed.whenIdle().then(() => {
      idle = true;
    });
    await Promise.resolve();
    expect(idle).toBe(false);
    inner.pending.shift()?.(null);
    expect(outcomes).toEqual([null]);
    await idlePromise;
    expect(idle).toBe(true);
    expect(observed).toHaveLength(1);
    expect(observed[0]).toBeGreaterThanOrEqual(0);

    timed.persist(batch(false), (error) => outcomes.push(error));
    inner.pending.shift()?.(null);
    const failure = new Error('disk gone');
    timed.persist(batch(true), (error) => outcomes.push(error));
    inner.pending.shift()?.(failure);
    expect(outcomes).toEqual([null, null, failure]);
    expect(observed).toHaveLength(1);
    await timed.whenIdle();
  });
});
