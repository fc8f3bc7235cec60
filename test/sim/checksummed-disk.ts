/**
 * A simulated disk that stores what LevelStorage stores: the production record codec, with its
 * checksums and format version, through MemoryStorage. Restart reads it back through the
 * production loader, so damage injected here (a torn write at power loss, a flipped bit) meets
 * the very checks a real node runs — and must be refused, never applied.
 */
import type { SeededRandom } from '../../src/common/random.ts';
import type { Ready } from '../../src/raft/ready.ts';
import type { PersistedState } from '../../src/raft/types.ts';
import { MemoryStorage } from '../../src/storage/memory-storage.ts';
import type { PersistBatch } from '../../src/storage/storage.ts';
import type { NodeDisk } from './sim-disk.ts';

export class ChecksummedDisk implements NodeDisk {
  /** No scheduler: writes complete synchronously; the SimNode models their latency. */
  private readonly storage: MemoryStorage;
  writes = 0;
  syncs = 0;

  constructor(dataDir: string) {
    this.storage = new MemoryStorage({ dataDir });
  }

  write(ready: Ready): void {
    this.writeBatch({ ...ready, sync: ready.mustSync });
  }

  writeBatch(batch: PersistBatch): void {
    this.writes++;
    if (batch.sync) this.syncs++;
    this.storage.persist(batch, (error) => {
      if (error !== null) throw error;
    });
  }

  crash(): void {
    this.storage.crash();
  }

  /** Throws the production StorageError when a record fails its checks. */
  load(): PersistedState {
    return this.storage.loadNow();
  }

  /**
   * Damages the media, as a power loss might: either the last write is torn (it keeps half of
   * its last record) or one bit of a stored entry flips. Call just before crash(). A flip in a
   * record not yet synced vanishes with the crash, as it would on a real disk.
   */
  damage(random: SeededRandom): string {
    let damage: string | null = null;
    if (random.chance(0.5)) {
      const key = this.storage.tearLastWrite();
      if (key !== null) damage = `torn write of record ${key}`;
    }
    if (damage === null) {
      const entries = this.storage.loadNow().entries;
      const entry = entries.length === 0 ? undefined : random.pick(entries);
      if (entry !== undefined) {
        this.storage.flipBit({ kind: 'entry', index: entry.index }, random.int(1 << 16));
        damage = `flipped a bit of entry ${entry.index}`;
      } else if (this.storage.loadNow().hardState.term > 0) {
        this.storage.flipBit({ kind: 'hard-state' }, random.int(1 << 10));
        damage = 'flipped a bit of the hard state';
      } else {
        damage = 'nothing stored to damage';
      }
    }
    return damage;
  }
}
