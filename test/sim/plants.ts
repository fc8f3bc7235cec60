/**
 * Plants shared by the raft, KV and lock planted-bug tests. Plants live only in test code: production
 * is never bent to make them possible.
 */
import { KvStateMachine, type KvStateMachineOptions } from '../../src/kv/index.ts';
import type { LockTable } from '../../src/lock/index.ts';
import type { PersistBatch } from '../../src/storage/storage.ts';
import type { KvPlants } from './sim-apps.ts';
import { SimDisk } from './sim-disk.ts';

/** A KV state machine whose lock table is `make()`'s (through KvStateMachine's newLockTable seam). */
export function withLockTable(make: () => LockTable): KvPlants {
  class Planted extends KvStateMachine {
    protected override newLockTable(): LockTable {
      return make();
    }
  }
  return { makeStateMachine: (options: KvStateMachineOptions | undefined) => new Planted(options) };
}

/**
 * A disk that reports success before the data is durable, so the node acknowledges entries and
 * votes that a crash then takes back.
 */
export class AcknowledgesBeforeDurable extends SimDisk {
  override writeBatch(batch: PersistBatch): void {
    super.writeBatch({ ...batch, sync: false });
  }
}
