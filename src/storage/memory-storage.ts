/**
 * MemoryStorage: the Storage of tests and the simulator. It holds the same key space and the
 * same checksummed records as LevelStorage (codec.ts, batch-plan.ts, load-image.ts), so a
 * flipped bit or a torn write injected here is caught by the very code production runs.
 *
 * It models a disk behind an OS page cache: a completed write is visible at once (`cached`)
 * but survives crash() only once a synced write has flushed it (`durable`), as fsync does.
 * Writes complete synchronously, or later through an injected scheduler, so the simulator
 * can complete them in virtual time; loadNow() reads synchronously because it cannot await.
 */
import { assert } from '../common/assert.ts';
import type { LogIndex, PersistedState } from '../raft/types.ts';
import { EMPTY_BOUNDS, type LogBounds, type PlannedWrite, planBatch, type StorageOp } from './batch-plan.ts';
import { encodeVersion, entryKey, FORMAT_VERSION, HARD_STATE_KEY, SNAPSHOT_DATA_KEY, SNAPSHOT_META_KEY, VERSION_KEY } from './codec.ts';
import { loadImage } from './load-image.ts';
import { storageError } from './storage-error.ts';
import type { PersistBatch, Storage } from './storage.ts';

/** Runs `fn` after `delayMs` of (virtual) time; the simulator's clock, typically. */
export type PersistScheduler = (delayMs: number, fn: () => void) => void;

export interface MemoryStorageOptions {
  /** The name errors give as the data dir (default "memory"). */
  readonly dataDir?: string;
  /** Without one, persist() completes synchronously, calling `done` before it returns. */
  readonly scheduler?: PersistScheduler;
  /** How long a write takes, for the scheduler (default 0). */
  readonly latencyMs?: (batch: PersistBatch) => number;
}

/** A stored record that fault injection can damage. */
export type FaultTarget =
  | { readonly kind: 'entry'; readonly index: LogIndex }
  | { readonly kind: 'hard-state' }
  | { readonly kind: 'snapshot-meta' }
  | { readonly kind: 'snapshot-data' };

function targetKey(target: FaultTarget): string {
  switch (target.kind) {
    case 'entry':
      return entryKey(target.index);
    case 'hard-state':
      return HARD_STATE_KEY;
    case 'snapshot-meta':
      return SNAPSHOT_META_KEY;
    case 'snapshot-data':
      return SNAPSHOT_DATA_KEY;
  }
}

function applyOps(records: Map<string, Uint8Array>, ops: readonly StorageOp[]): void {
  for (const op of ops) {
    if (op.type === 'put') records.set(op.key, op.value);
    else records.delete(op.key);
  }
}

export class MemoryStorage implements Storage {
  readonly dataDir: string;
  /** Writes completed, and of those, writes that were synced (for the simulator's metrics). */
  writes = 0;
  syncs = 0;
  /** What survives crash(). Values are shared with `cached`, never mutated except by faults. */
  private durable = new Map<string, Uint8Array>();
  /** What reads see: durable plus completed writes not yet synced. */
  private cached = new Map<string, Uint8Array>();
  /** Operations of completed writes since the last sync, in order: what a sync flushes. */
  private unsynced: StorageOp[] = [];
  private durableBounds: LogBounds = EMPTY_BOUNDS;
  private cachedBounds: LogBounds = EMPTY_BOUNDS;
  private lastWrite: readonly StorageOp[] = [];
  private persisting = false;
  /** Bumped by crash(): a write scheduled before it belongs to a dead process and never lands. */
  private epoch = 0;
  private nextWriteFailure: Error | null = null;

  constructor(private readonly options: MemoryStorageOptions = {}) {
    this.dataDir = options.dataDir ?? 'memory';
    const version = encodeVersion(FORMAT_VERSION);
    this.durable.set(VERSION_KEY, version);
    this.cached.set(VERSION_KEY, version);
  }

  /** load(), synchronously: every checksum and the log's shape verified, as LevelStorage does. */
  loadNow(): PersistedState {
    assert(!this.persisting, 'load() during a persist(): the state would be read mid-write');
    const records = [...this.cached.entries()].sort(([left], [right]) => (left < right ? -1 : left > right ? 1 : 0));
    return loadImage(this.dataDir, records).state;
  }

  async load(): Promise<PersistedState> {
    return this.loadNow();
  }

  persist(batch: PersistBatch, done: (error: Error | null) => void): void {
    assert(!this.persisting, 'persist() while another persist() is outstanding');
    const plan = planBatch(this.cachedBounds, batch);
    const failure = this.nextWriteFailure;
    this.nextWriteFailure = null;
    this.persisting = true;
    const epoch = this.epoch;
    const complete = (): void => {
      if (epoch !== this.epoch) return; // crashed meanwhile: the write never happened
      this.persisting = false;
      if (failure !== null) {
        done(storageError({ dataDir: this.dataDir }, 'write failed (injected)', failure));
        return;
      }
      this.complete(plan, batch.sync);
      done(null);
    };
    const { scheduler, latencyMs } = this.options;
    if (scheduler === undefined) complete();
    else scheduler(latencyMs?.(batch) ?? 0, complete);
  }

  async close(): Promise<void> {}

  /** Power loss: the write in flight and every completed write since the last sync vanish. */
  crash(): void {
    this.epoch++;
    this.persisting = false;
    this.cached = new Map(this.durable);
    this.cachedBounds = this.durableBounds;
    this.unsynced = [];
    this.lastWrite = [];
  }

  // ---- Fault injection: damage the media; load() must then refuse, naming what is bad. ----

  /** Flips one bit of a stored record, in place (durable and cached share the bytes). */
  flipBit(target: FaultTarget, bitIndex?: number): void {
    const record = this.cached.get(targetKey(target));
    assert(record !== undefined && record.length > 0, () => `flipBit: no stored ${JSON.stringify(target)}`);
    const bit = (bitIndex ?? record.length * 8 - 1) % (record.length * 8);
    record[Math.floor(bit / 8)]! ^= 1 << bit % 8;
  }

  /**
   * Tears the last completed write, as a disk without atomic multi-block writes might: its
   * last record keeps only its first half. Returns that record's key, or null when the last
   * write stored nothing (or was lost to a crash).
   */
  tearLastWrite(): string | null {
    const lastPut = this.lastWrite.findLast((op) => op.type === 'put');
    if (lastPut === undefined || this.cached.get(lastPut.key) !== lastPut.value) return null;
    const torn = lastPut.value.slice(0, Math.floor(lastPut.value.length / 2));
    if (this.durable.get(lastPut.key) === lastPut.value) this.durable.set(lastPut.key, torn);
    this.cached.set(lastPut.key, torn);
    this.unsynced = this.unsynced.map((op) => (op === lastPut ? { ...op, value: torn } : op));
    return lastPut.key;
  }

  /** The next persist() fails with a storage_failure caused by `error`, writing nothing. */
  failNextWrite(error: Error): void {
    this.nextWriteFailure = error;
  }

  private complete(plan: PlannedWrite, sync: boolean): void {
    this.writes++;
    applyOps(this.cached, plan.ops);
    this.unsynced.push(...plan.ops);
    this.cachedBounds = plan.bounds;
    this.lastWrite = plan.ops;
    if (!sync) return;
    // An fsync flushes everything written before it, not only this write.
    this.syncs++;
    applyOps(this.durable, this.unsynced);
    this.unsynced = [];
    this.durableBounds = this.cachedBounds;
  }
}
