/**
 * The MVCC key space: each key's current version (createRevision, modRevision, version, lease)
 * and the one store revision. Writes happen inside an MvccWrite at revision + 1, so any number
 * of changes (a txn branch, a prefix delete, a lease's keys) share one revision, and the
 * revision moves only when something did change: a delete of a missing key is no write.
 *
 * History is not kept per key (the contract has no reads at past revisions); what changed is
 * recorded as watch events, which the watch feed retains. Lease membership is kept in step
 * through LeaseAttachments, so no code path can put or delete a key and forget its lease.
 *
 * Two indexes over one set of cells: a hash Map for point lookups (every put, delete, CAS and
 * get: O(1)), and a B+ tree in key order for ranges and prefix scans. Both hold the same mutable
 * Cell per key, so overwriting a key (what a long log mostly holds) swaps the cell's KeyValue
 * and leaves the tree alone; only creating or deleting a key touches the tree. The KeyValues
 * themselves are never mutated: results and events keep the versions they were given.
 */
import { assert } from '../common/assert.ts';
import type { Slices } from '../common/slices.ts';
import type { KeyValue, WatchEvent } from './types.ts';
import { type SortedMap, compareStrings, newSortedStringMap, sortedStringMapFromSorted } from './sorted-map.ts';

/** One key's slot, shared by both indexes. */
interface Cell {
  kv: KeyValue;
}

/** The two indexes; MvccWrite edits them through these three operations only. */
class KeyIndex {
  private readonly byKey: Map<string, Cell>;
  readonly ordered: SortedMap<string, Cell>;
  private lastKey: string | undefined;
  private lastCell: Cell | undefined;

  constructor(byKey = new Map<string, Cell>(), ordered = newSortedStringMap<Cell>()) {
    this.byKey = byKey;
    this.ordered = ordered;
  }

  /**
   * Built from `kvs` in one pass when they are sorted by key (a snapshot's are), else key by key;
   * the pass yields after every `perSlice` keys.
   */
  static *fromInSlices(kvs: readonly KeyValue[], check: (kv: KeyValue, seen: boolean) => void, perSlice: number): Slices<KeyIndex> {
    const byKey = new Map<string, Cell>();
    const keys: string[] = [];
    const cells: Cell[] = [];
    let sorted = true;
    for (const kv of kvs) {
      check(kv, byKey.has(kv.key));
      const cell: Cell = { kv };
      byKey.set(kv.key, cell);
      const last = keys[keys.length - 1];
      if (last !== undefined && compareStrings(last, kv.key) >= 0) sorted = false;
      keys.push(kv.key);
      cells.push(cell);
      if (keys.length % perSlice === 0) yield;
    }
    if (sorted) return new KeyIndex(byKey, sortedStringMapFromSorted(keys, cells));
    const ordered = newSortedStringMap<Cell>();
    for (let i = 0; i < keys.length; i++) ordered.set(keys[i] as string, cells[i] as Cell);
    return new KeyIndex(byKey, ordered);
  }

  get size(): number {
    return this.byKey.size;
  }

  get(key: string): KeyValue | undefined {
    return this.cellOf(key)?.kv;
  }

  /** Sets `kv` under its key; returns what was there. */
  set(kv: KeyValue): KeyValue | undefined {
    const cell = this.cellOf(kv.key);
    if (cell !== undefined) {
      const prev = cell.kv;
      cell.kv = kv;
      return prev;
    }
    const created: Cell = { kv };
    this.byKey.set(kv.key, created);
    this.ordered.set(kv.key, created);
    this.lastCell = created;
    return undefined;
  }

  /** Removes `key`; returns what was there. */
  delete(key: string): KeyValue | undefined {
    const cell = this.cellOf(key);
    if (cell === undefined) return undefined;
    this.byKey.delete(key);
    this.ordered.delete(key);
    this.lastCell = undefined;
    return cell.kv;
  }

  /**
   * The key's cell, remembering the last key asked about: a put reads its key (for ifRevision)
   * and then writes it, and the second look is then one string comparison, not a hash lookup.
   * The memo is kept exact: set and delete update it for the key they change, which is the
   * last key asked about (they ask first).
   */
  private cellOf(key: string): Cell | undefined {
    if (key === this.lastKey) return this.lastCell;
    const cell = this.byKey.get(key);
    this.lastKey = key;
    this.lastCell = cell;
    return cell;
  }
}

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
  private kvs = new KeyIndex();
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
    for (const [key, cell] of this.kvs.ordered.entries(prefix)) {
      if (!key.startsWith(prefix)) break;
      if (limit > 0 && items.length === limit) return { items, more: true };
      items.push(cell.kv);
    }
    return { items, more: false };
  }

  /** Every key, sorted (snapshots). */
  *all(): IterableIterator<KeyValue> {
    for (const cell of this.kvs.ordered.values()) yield cell.kv;
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

  /**
   * Replaces everything (restore): keys in any order, the revision they were snapshotted at; the
   * generator yields after every `perSlice` keys. Meant for a store not yet in use.
   */
  *loadInSlices(revision: number, kvs: readonly KeyValue[], perSlice: number): Slices<void> {
    assert(!this.writeOpen, 'load during a write');
    const check = (kv: KeyValue, seen: boolean): void => {
      assert(kv.modRevision <= revision && !seen, () => `snapshot key ${kv.key} is inconsistent`);
      if (kv.lease !== undefined) this.attachments.attach(kv.lease, kv.key);
    };
    this.kvs = yield* KeyIndex.fromInSlices(kvs, check, perSlice);
    this.currentRevision = revision;
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
    private readonly kvs: KeyIndex,
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
    this.kvs.set(kv);
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
    const prev = this.kvs.delete(key);
    if (prev === undefined) return undefined;
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
