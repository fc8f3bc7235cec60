/**
 * KvStateMachine: the replicated KV store a Raft log drives (MVCC keys, txns, leases, the watch
 * feed, the idempotency table). apply() is a pure function of the state and the entry: no clock
 * (commands carry the proposer's), no randomness, no I/O, so every replica that applies the same
 * entries in the same order holds the same state and returns the same results. Reads are query
 * methods, not commands: the node serves them after ReadIndex, and each says which revision it
 * reflects.
 *
 * Configuration (value size limit, history and dedup bounds) shapes results, so it must be the
 * same on every replica; it travels in snapshots, and restore() adopts the snapshot's, so a
 * restored machine is indistinguishable from the one snapshotted. `config` shows what is in force.
 */
import { AssertionError, assert } from '../common/assert.ts';
import { ConcordError } from '../common/errors.ts';
import { type KvCommandBody, type KvCommandType, type KvResult, decodeCommand } from './commands.ts';
import { isKvError } from './kv-errors.ts';
import {
  DEFAULT_DEDUP_MAX_ENTRIES,
  DEFAULT_DEDUP_WINDOW_MS,
  DEFAULT_HISTORY_MAX_EVENTS,
  DEFAULT_MAX_VALUE_BYTES,
} from './limits.ts';
import { DedupTable } from './dedup.ts';
import { type LeaseCountdown, type LeaseInfo, LeaseTable } from './leases.ts';
import { MvccStore } from './mvcc-store.ts';
import { type KeyFilter, type KeyValue } from './types.ts';
import { type EventsSinceOptions, type EventsSinceResult, type WatchListener, WatchFeed } from './watch-feed.ts';
import { type KvSnapshotState, type KvStateMachineConfig, decodeSnapshotInSlices, encodeSnapshot, encodeSnapshotInSlices } from './snapshot-codec.ts';
import { type Slices, allSlices } from '../common/slices.ts';
import { type ApplyContext, newApplyContext } from './apply-context.ts';
import { type LockEvent, type LockQueries, LockTable } from '../lock/index.ts';
import { isSystemKey, userVisibleRange } from './system-keys.ts';
import { applyBody } from './apply-commands.ts';
import { AuthTable, type AuthQueries } from '../auth/auth-table.ts';

export type KvStateMachineOptions = Partial<KvStateMachineConfig>;

/** What applying one log entry did. */
export interface KvApplyOutcome {
  readonly index: number;
  /** The command's result: the first one, when `deduplicated`. */
  readonly result: KvResult;
  /** A retry of an idempotency key already applied: nothing was applied this time. */
  readonly deduplicated: boolean;
  /** The applied body's type; null when the entry did not decode to a command. */
  readonly commandType: KvCommandType | null;
  /** The store revision after this entry. */
  readonly revision: number;
  /** Leases this entry granted: the leader starts their countdowns. */
  readonly leasesGranted: readonly LeaseCountdown[];
  /** Leases this entry revoked or expired: the leader drops their countdowns. */
  readonly leasesRemoved: readonly string[];
  /** What this entry did to locks and elections (grants, ends, lock-delays started or ended). */
  readonly lockEvents: readonly LockEvent[];
}

export interface GetResult {
  readonly revision: number;
  readonly kv: KeyValue | null;
}

export interface RangeQueryResult {
  readonly revision: number;
  readonly items: readonly KeyValue[];
  readonly more: boolean;
}

/** The current state of a watched range: what a `resync` watch sends as `event: snapshot`. */
export interface RangeStateResult {
  readonly revision: number;
  readonly items: readonly KeyValue[];
}

function resolveConfig(options: KvStateMachineOptions): KvStateMachineConfig {
  return {
    maxValueBytes: options.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES,
    historyMaxEvents: options.historyMaxEvents ?? DEFAULT_HISTORY_MAX_EVENTS,
    dedupWindowMs: options.dedupWindowMs ?? DEFAULT_DEDUP_WINDOW_MS,
    dedupMaxEntries: options.dedupMaxEntries ?? DEFAULT_DEDUP_MAX_ENTRIES,
  };
}

export class KvStateMachine {
  private settings: KvStateMachineConfig;
  private leaseTable = new LeaseTable();
  private store = new MvccStore(this.leaseTable);
  private feed: WatchFeed;
  private dedup: DedupTable;
  private applied = 0;
  private readonly restoreListeners = new Set<() => void>();
  private lockTable = this.newLockTable();
  private readonly lockListeners = new Set<(events: readonly LockEvent[]) => void>();
  private authTable = new AuthTable();

  constructor(options: KvStateMachineOptions = {}) {
    this.settings = resolveConfig(options);
    assert(Number.isSafeInteger(this.settings.maxValueBytes) && this.settings.maxValueBytes >= 0, 'maxValueBytes');
    this.feed = new WatchFeed(this.settings.historyMaxEvents);
    this.dedup = new DedupTable(this.settings.dedupWindowMs, this.settings.dedupMaxEntries);
  }

  get config(): KvStateMachineConfig {
    return this.settings;
  }

  /** The index of the last entry applied (or restored); 0 before any. */
  get appliedIndex(): number {
    return this.applied;
  }

  get revision(): number {
    return this.store.revision;
  }

  /** Watch history through this revision is gone. */
  get compactRevision(): number {
    return this.feed.compactRevision;
  }

  /**
   * Applies one normal log entry. Never throws for bad input (an error result instead); throws
   * an AssertionError only on a broken invariant, such as an index that does not move forward.
   */
  apply(index: number, data: Uint8Array): KvApplyOutcome {
    assert(Number.isSafeInteger(index) && index > this.applied, () => `apply index ${index} after ${this.applied}`);
    this.applied = index;
    const command = decodeCommand(data, this.settings);
    if (isKvError(command)) return this.outcome(index, command, null, false, null);
    this.dedup.observe(command.proposedAtMs);
    const idempotencyKey = command.idempotencyKey;
    if (idempotencyKey !== undefined) {
      const first = this.dedup.lookup(idempotencyKey);
      if (first !== undefined) return this.outcome(index, first, command.body, true, null);
    }
    const context: ApplyContext = newApplyContext({
      store: this.store,
      leases: this.leaseTable,
      feed: this.feed,
      locks: this.lockTable,
      auth: this.authTable,
      proposedAtMs: command.proposedAtMs,
    });
    const result = applyBody(context, command.body);
    if (idempotencyKey !== undefined) this.dedup.record(idempotencyKey, command.proposedAtMs, result);
    for (const batch of context.batches) this.feed.publish(batch);
    if (context.lockEvents.length > 0) for (const listener of this.lockListeners) listener(context.lockEvents);
    return this.outcome(index, result, command.body, false, context);
  }

  /** `context` is the apply's, or null when nothing was applied (undecodable entry, retry). */
  private outcome(
    index: number,
    result: KvResult,
    body: KvCommandBody | null,
    deduplicated: boolean,
    context: ApplyContext | null,
  ): KvApplyOutcome {
    return {
      index,
      result,
      deduplicated,
      commandType: body?.type ?? null,
      revision: this.store.revision,
      leasesGranted: context?.leasesGranted ?? [],
      leasesRemoved: context?.leasesRemoved ?? [],
      lockEvents: context?.lockEvents ?? [],
    };
  }

  get(key: string): GetResult {
    return { revision: this.store.revision, kv: this.store.get(key) ?? null };
  }

  /**
   * Keys under `prefix` ('' = all user keys), sorted by key; `limit` 0 = no limit. System keys
   * (system-keys.ts) appear only when `prefix` is itself a system prefix.
   */
  range(prefix: string, limit = 0): RangeQueryResult {
    const { items, more } = userVisibleRange(this.store, prefix, limit);
    return { revision: this.store.revision, items, more };
  }

  /** The watched range's current state (resync). */
  rangeState(filter: KeyFilter): RangeStateResult {
    if ('key' in filter) {
      const kv = this.store.get(filter.key);
      return { revision: this.store.revision, items: kv === undefined ? [] : [kv] };
    }
    return { revision: this.store.revision, items: userVisibleRange(this.store, filter.prefix, 0).items };
  }

  /** A lease and its user keys (the system keys it may hold, a registry instance, stay hidden). */
  lease(id: string): LeaseInfo | null {
    const info = this.leaseTable.info(id);
    return info === undefined ? null : { ...info, keys: info.keys.filter((key) => !isSystemKey(key)) };
  }

  /** Every lease (grant order), for a new leader to restart its countdowns. */
  leases(): LeaseCountdown[] {
    return this.leaseTable.list();
  }

  /** Events from `fromRevision` (inclusive) matching `filter`, or `compacted`. */
  eventsSince(fromRevision: number, filter: KeyFilter, options: EventsSinceOptions = {}): EventsSinceResult {
    return this.feed.eventsSince(fromRevision, filter, this.store.revision, options);
  }

  /**
   * Calls `listener` synchronously after each apply that changed something, with that apply's
   * events (each with `prev`; strip it for watchers that did not ask). Returns the unsubscribe.
   * A listener must not throw: the state is complete by then, but apply would throw to the node.
   */
  onEvents(listener: WatchListener): () => void {
    return this.feed.onEvents(listener);
  }

  /** Users, roles and tokens (hashed): what the server authenticates and authorizes against. */
  get auth(): AuthQueries {
    return this.authTable;
  }

  /** Locks and elections: holders, queues, recent holders, lock-delays in force. */
  get locks(): LockQueries {
    return this.lockTable;
  }

  /**
   * Calls `listener` synchronously after each apply that changed locks or elections, with what
   * it did (the node wakes the waiter a lock went to). Must not throw. Returns the unsubscribe.
   */
  onLockEvents(listener: (events: readonly LockEvent[]) => void): () => void {
    this.lockListeners.add(listener);
    return () => this.lockListeners.delete(listener);
  }

  /**
   * The lock table this machine applies lock commands to (at construction and at each restore).
   * A seam for the simulator's planted-bug tests, which substitute a subclass with one bug; it
   * must not read fields of the subclass (it runs during the base constructor).
   */
  protected newLockTable(): LockTable {
    return new LockTable();
  }

  /** Calls `listener` after restore() replaced the state (watchers re-read from their revision). */
  onRestore(listener: () => void): () => void {
    this.restoreListeners.add(listener);
    return () => this.restoreListeners.delete(listener);
  }

  snapshot(): Uint8Array {
    return encodeSnapshot(this.snapshotState());
  }

  /**
   * The snapshot of the state as it is now, encoded a slice at a time (the generator yields
   * between slices, and the machine may apply more meanwhile): NodeHost compacts this way so
   * that a large state does not stall the node's event loop.
   */
  snapshotInSlices(elementsPerSlice: number): Slices<Uint8Array> {
    return encodeSnapshotInSlices(this.snapshotState(), elementsPerSlice);
  }

  /** The state, in arrays of its own: what later applies change is not in them. */
  private snapshotState(): KvSnapshotState {
    return {
      appliedIndex: this.applied,
      revision: this.store.revision,
      config: this.settings,
      kvs: [...this.store.all()],
      leases: this.leaseTable.exportState(),
      locks: this.lockTable.exportState(),
      compactRevision: this.feed.compactRevision,
      history: this.feed.retained(),
      dedup: this.dedup.exportState(),
      auth: this.authTable.exportState(),
    };
  }

  /** Replaces the whole state with a snapshot's; throws ConcordError('storage_failure') if unreadable. */
  restore(data: Uint8Array): void {
    allSlices(this.restoreInSlices(data, Number.MAX_SAFE_INTEGER));
  }

  /**
   * restore() a slice at a time (the generator yields between slices of the decoding and of the
   * loading of the tables that grow large: keys and idempotency keys): NodeHost
   * restores a snapshot from the leader this way, so that a large state does not stall the node.
   * The machine keeps its state, and may be read, until the last slice replaces it at once; it
   * must not apply anything meanwhile.
   */
  *restoreInSlices(data: Uint8Array, elementsPerSlice: number): Slices<void> {
    const state = yield* decodeSnapshotInSlices(data, elementsPerSlice);
    // Built aside and swapped in, so a snapshot that fails a check leaves this machine as it was.
    let parts: { leaseTable: LeaseTable; store: MvccStore; dedup: DedupTable; lockTable: LockTable; authTable: AuthTable };
    try {
      const leaseTable = new LeaseTable();
      leaseTable.load(state.leases);
      const store = new MvccStore(leaseTable);
      yield* store.loadInSlices(state.revision, state.kvs, elementsPerSlice);
      const dedup = new DedupTable(state.config.dedupWindowMs, state.config.dedupMaxEntries);
      yield* dedup.loadInSlices(state.dedup, elementsPerSlice);
      const lockTable = this.newLockTable();
      lockTable.load(state.locks, (id) => leaseTable.has(id));
      const authTable = new AuthTable();
      authTable.load(state.auth);
      this.feed.load(state.config.historyMaxEvents, state.compactRevision, state.history); // checks, then replaces
      parts = { leaseTable, store, dedup, lockTable, authTable };
    } catch (error) {
      if (!(error instanceof AssertionError)) throw error;
      throw new ConcordError('storage_failure', `KV snapshot: inconsistent: ${error.message}`, {}, { cause: error });
    }
    this.settings = state.config;
    this.leaseTable = parts.leaseTable;
    this.store = parts.store;
    this.dedup = parts.dedup;
    this.lockTable = parts.lockTable;
    this.authTable = parts.authTable;
    this.applied = state.appliedIndex;
    for (const listener of this.restoreListeners) listener();
  }
}
