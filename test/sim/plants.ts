/**
 * Plants shared by the raft and KV planted-bug tests. Plants live only in test code: production
 * is never bent to make them possible.
 */
import type { PersistBatch } from '../../src/storage/storage.ts';
import { SimDisk } from './sim-disk.ts';

/**
 * A disk that reports success before the data is durable, so the node acknowledges entries and
 * votes that a crash then takes back.
 */
export class AcknowledgesBeforeDurable extends SimDisk {
  override writeBatch(batch: PersistBatch): void {
    super.writeBatch({ ...batch, sync: false });
  }
}
