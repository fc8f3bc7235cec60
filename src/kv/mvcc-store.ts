/**
 * The MVCC key space: each key's current version (createRevision, modRevision, version, lease)
 * and the one store revision. Writes happen inside an MvccWrite at revision + 1, so any number
 * of changes (a txn branch, a prefix delete, a lease's keys) share one revision, and the
 * revision moves only when something did change: a delete of a missing key is no write.
 *
 * History is not kept per key (the contract has no reads at past revisions); what changed is
 * recorded as watch events, which the watch feed retains. Lease membership is kept in step
 * through LeaseAttachments, so no code path can put or delete a key and forget its lease.
 */
import { assert } from '../common/assert.ts';
import type { KeyValue, WatchEvent } from './types.ts';
import { type SortedMap, newSortedStringMap } from './sorted-map.ts';

/** Who tracks which keys each lease holds (the lease table). */
export interface LeaseAttachments {
  attach(leaseId: string, key: string): void;
  detach(leaseId: string, key: string): void;
}

export interface RangeResult {
  /** Sorted by key. */
  readonly items: readonly KeyValue[];
  /** More keys matched beyond `limit`. */
  readonly more: boolean;
}

export class MvccStore {
  private readonly kvs: SortedMap<string, KeyValue> = newSortedStringMap<KeyValue>();
  private currentRevision = 0;
  private writeOpen = false;

  constructor(private readonly attachments: LeaseAttachments) {}

  /** The revision of the last write that changed something; 0 for an empty history. */
  get revision(): number {
    return this.currentRevision;
  }

  get size(): number {
    return this.kvs.size;
  }

  get(key: string): KeyValue | undefined {
    return this.kvs.get(key);
  }

  /** Keys starting with `prefix` ('' = all), sorted; at most `limit` of them unless it is 0. */
  range(prefix: string, limit = 0): RangeResult {
    assert(Number.isSafeInteger(limit) && limit >= 0, () => `range limit ${limit}`);
    const items: KeyValue[] = [];
    for (const [key, kv] of this.kvs.entries(prefix)) {
      if (!key.startsWith(prefix)) break;
      if (limit > 0 && items.length === limit) return { items, more: true };
      items.push(kv);
    }
    return { items, more: false };
  }

  /** Every key, sorted (snapshots). */
  all(): IterableIterator<KeyValue> {
    return this.kvs.values();
  }

  /** Opens the write of the next revision; one at a time. */
  beginWrite(): MvccWrite {
    assert(!this.writeOpen, 'an MvccWrite is already open');
    this.writeOpen = true;
    return new MvccWrite(this.currentRevision + 1, this.kvs, this.attachments, (write) => this.commit(write));
  }

  private commit(write: MvccWrite): number {
    assert(this.writeOpen, 'commit without an open write');
    assert(write.revision === this.currentRevision + 1, 'write revision out of step');
    this.writeOpen = false;
    if (write.events.length > 0) this.currentRevision = write.revision;
    return this.currentRevision;
  }

  /** Replaces everything (restore): keys in any order, the revision they were snapshotted at. */
  load(revision: number, kvs: Iterable<KeyValue>): void {
    assert(!this.writeOpen, 'load during a write');
    this.kvs.clear();
    this.currentRevision = revision;
    for (const kv of kvs) {
      assert(kv.modRevision <= revision && !this.kvs.has(kv.key), () => `snapshot key ${kv.key} is inconsistent`);
      this.kvs.set(kv.key, kv);
      if (kv.lease !== undefined) this.attachments.attach(kv.lease, kv.key);
    }
  }
}

/** The changes of one revision. Obtained from MvccStore.beginWrite; ended by commit(). */
export class MvccWrite {
  /** What changed, in order, each tagged with this write's revision. */
  readonly events: WatchEvent[] = [];
  private committed = false;

  constructor(
    /** The revision this write's changes carry (the store's, if it commits any). */
    readonly revision: number,
    private readonly kvs: SortedMap<string, KeyValue>,
    private readonly attachments: LeaseAttachments,
    private readonly onCommit: (write: MvccWrite) => number,
  ) {}

  /** Sets `key`; returns its previous version. The caller has checked that `lease` exists. */
  put(key: string, value: string, lease?: string): KeyValue | undefined {
    assert(!this.committed, 'put after commit');
    const prev = this.kvs.get(key);
    const kv: KeyValue = {
      key,
      value,
      createRevision: prev?.createRevision ?? this.revision,
      modRevision: this.revision,
      version: (prev?.version ?? 0) + 1,
      ...(lease === undefined ? {} : { lease }),
    };
    this.kvs.set(key, kv);
    if (prev?.lease !== lease) {
      if (prev?.lease !== undefined) this.attachments.detach(prev.lease, key);
      if (lease !== undefined) this.attachments.attach(lease, key);
    }
    this.events.push({ type: 'put', ...kv, ...(prev === undefined ? {} : { prev }) });
    return prev;
  }

  /** Deletes `key` if present; returns what was deleted. */
  delete(key: string): KeyValue | undefined {
    assert(!this.committed, 'delete after commit');
    const prev = this.kvs.get(key);
    if (prev === undefined) return undefined;
    this.kvs.delete(key);
    if (prev.lease !== undefined) this.attachments.detach(prev.lease, key);
    this.events.push({ type: 'delete', key, createRevision: 0, modRevision: this.revision, version: 0, prev });
    return prev;
  }

  /** Ends the write; returns the store revision after it. */
  commit(): number {
    assert(!this.committed, 'double commit');
    this.committed = true;
    return this.onCommit(this);
  }
}
