/**
 * The node's storage writes, in the order their Readies were taken, one at a time.
 *
 * A node takes Readies while its earlier writes are in flight (ready.ts): a leader keeps
 * sending appends and applying what a quorum of followers already holds during its own fsync,
 * instead of waiting for it. Readies taken meanwhile queue behind the write in flight, and their
 * batches merge into one (group commit across Readies: one fsync for all of them), unless a
 * snapshot or compaction keeps a batch apart. When a write is durable, the Readies it carried
 * are handed back, oldest first, to send their messages and advance.
 *
 * Storage sees one persist() at a time: LevelDB could reorder two batches issued at once from
 * its thread pool, and a later write may replace entries an earlier one wrote.
 */
import type { Ready } from '../raft/ready.ts';
import { mergeBatches, type PersistBatch, type Storage } from '../storage/storage.ts';

interface QueuedWrite {
  batch: PersistBatch;
  readonly readies: Ready[];
}

export class WritePipeline {
  /** queue[0] is in flight while `writing`; the rest wait for it. */
  private readonly queue: QueuedWrite[] = [];
  private writing = false;
  private stopped = false;
  /** Readies queued or in flight, over all writes. */
  private readyCount = 0;

  constructor(
    private readonly storage: Storage,
    /** The writes carrying `readies` are durable (and so are all earlier ones). */
    private readonly durable: (readies: readonly Ready[]) => void,
    /** A write failed: nothing more is written and the node must stop. */
    private readonly failed: (error: Error) => void,
  ) {}

  /** Writes waiting or in flight. */
  get depth(): number {
    return this.queue.length;
  }

  /**
   * Readies waiting for a write to finish. NodeHost takes no more beyond a limit: a disk that
   * stalls must stall the node (as it did before pipelining), not let its queue grow unbounded.
   */
  get pendingReadies(): number {
    return this.readyCount;
  }

  /**
   * Queues `ready`'s write (`batch`, or null when it writes nothing). A Ready that writes
   * nothing is durable as soon as everything before it is: at once when nothing is queued.
   */
  add(ready: Ready, batch: PersistBatch | null): void {
    if (this.stopped) return;
    const last = this.queue[this.queue.length - 1];
    if (batch === null) {
      if (last === undefined) return this.durable([ready]);
      last.readies.push(ready);
      this.readyCount++;
      return;
    }
    this.readyCount++;
    const waiting = last !== undefined && !(this.writing && this.queue.length === 1);
    const merged = waiting ? mergeBatches(last.batch, batch) : null;
    if (last !== undefined && merged !== null) {
      last.batch = merged;
      last.readies.push(ready);
    } else {
      this.queue.push({ batch, readies: [ready] });
    }
    if (!this.writing) this.writeNext();
  }

  /** Drops everything queued; a write in flight completes unseen. */
  stop(): void {
    this.stopped = true;
    this.queue.length = 0;
    this.readyCount = 0;
  }

  private writeNext(): void {
    const next = this.queue[0];
    // Also called when a write completes; an add() from inside `durable` may have started it.
    if (next === undefined || this.stopped || this.writing) return;
    this.writing = true;
    this.storage.persist(next.batch, (error) => {
      this.writing = false;
      if (this.stopped) return;
      if (error !== null) {
        this.stop();
        this.failed(error);
        return;
      }
      this.queue.shift();
      this.readyCount -= next.readies.length;
      this.durable(next.readies);
      this.writeNext();
    });
  }
}
