/**
 * A simulated disk for one node. A write becomes durable only when it completes and is
 * synced; a crash loses the write in progress and every unsynced write since the last sync
 * (as an OS page cache would). Restart loads only what is durable.
 */
import type { SeededRandom } from '../../src/common/random.ts';
import type { Ready } from '../../src/raft/ready.ts';
import type { PersistBatch } from '../../src/storage/storage.ts';
import { EMPTY_HARD_STATE, type Entry, type HardState, type LogIndex, type PersistedState, type Snapshot, type Term } from '../../src/raft/types.ts';

interface DiskState {
  hardState: HardState;
  snapshot: Snapshot | null;
  entries: Entry[];
}

function copyState(state: DiskState): DiskState {
  return { hardState: state.hardState, snapshot: state.snapshot, entries: state.entries.slice() };
}

/** Applies one batch to a disk image, in the order the Storage contract gives. */
export function applyBatchToState(state: DiskState, ready: Omit<PersistBatch, 'sync'>): void {
  if (ready.snapshot !== null) {
    state.snapshot = ready.snapshot;
    state.entries = [];
  }
  if (ready.compaction !== null && ready.compaction.meta.index > (state.snapshot?.meta.index ?? 0)) {
    state.snapshot = ready.compaction;
    state.entries = state.entries.filter((entry) => entry.index > ready.compaction!.meta.index);
  }
  const first = ready.entries[0];
  if (first !== undefined) {
    state.entries = state.entries.filter((entry) => entry.index < first.index);
    state.entries.push(...ready.entries);
  }
  if (ready.hardState !== null) state.hardState = ready.hardState;
}

/** What a SimNode needs of its disk; SimDisk keeps plain objects, ChecksummedDisk real records. */
export interface NodeDisk {
  writeBatch(batch: PersistBatch): void;
  /** Power loss: unsynced writes vanish. */
  crash(): void;
  /** What survives; may throw when the disk cannot be trusted. */
  load(): PersistedState;
  /** Damages the media just before a crash (disks that model damage); says what it did. */
  damage?(random: SeededRandom): string;
}

export class SimDisk implements NodeDisk {
  /** What survives a crash. */
  protected durable: DiskState = { hardState: EMPTY_HARD_STATE, snapshot: null, entries: [] };
  /** What the OS has accepted: durable plus unsynced writes. */
  protected cached: DiskState = copyState(this.durable);
  writes = 0;
  syncs = 0;

  /** Makes `ready`'s writes visible; durable at once when synced (the caller models latency). */
  write(ready: Ready): void {
    this.writeBatch({ ...ready, sync: ready.mustSync });
  }

  /** Makes `batch` visible; durable at once when synced (the caller models the latency). */
  writeBatch(batch: PersistBatch): void {
    this.writes++;
    applyBatchToState(this.cached, batch);
    if (batch.sync) this.sync();
  }

  protected sync(): void {
    this.syncs++;
    this.durable = copyState(this.cached);
  }

  /** Power loss: unsynced writes vanish. */
  crash(): void {
    this.cached = copyState(this.durable);
  }

  load(): PersistedState {
    const state = copyState(this.durable);
    return { hardState: state.hardState, snapshot: state.snapshot, entries: state.entries };
  }

  /** Whether the entry (index, term) would survive a crash now (covered by the snapshot counts). */
  holdsDurably(index: LogIndex, term: Term): boolean {
    if ((this.durable.snapshot?.meta.index ?? 0) >= index) return true;
    const first = this.durable.entries[0];
    if (first === undefined) return false;
    return this.durable.entries[index - first.index]?.term === term;
  }
}
