/**
 * A Storage decorator for the serving process: it times every synced persist (the fsync a
 * proposal waits for) for the metrics, and knows whether a write is outstanding, so shutdown can
 * let the last write finish before the database closes. It changes nothing else: `done` is
 * called exactly when the inner storage calls it, so no acknowledgement can overtake the fsync.
 */
import type { PersistedState } from '../raft/types.ts';
import type { PersistBatch, Storage } from '../storage/storage.ts';

export class TimedStorage implements Storage {
  /** Receives the duration of each synced write, in seconds; set once metrics exist. */
  onSyncedWrite: ((seconds: number) => void) | null = null;
  private outstanding = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly inner: Storage) {}

  load(): Promise<PersistedState> {
    return this.inner.load();
  }

  persist(batch: PersistBatch, done: (error: Error | null) => void): void {
    const startedMs = performance.now();
    this.outstanding += 1;
    this.inner.persist(batch, (error) => {
      this.outstanding -= 1;
      if (error === null && batch.sync) this.onSyncedWrite?.((performance.now() - startedMs) / 1000);
      try {
        done(error);
      } finally {
        if (this.outstanding === 0) for (const wake of this.idleWaiters.splice(0)) wake();
      }
    });
  }

  /** Resolves once no write is outstanding (at once when none is). */
  whenIdle(): Promise<void> {
    if (this.outstanding === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
