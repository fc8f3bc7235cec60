/**
 * The lock table: who holds each lock and election, who waits for it (first come, first
 * served, in the order the acquire entries applied), the lock-delays in force, and the last
 * holders. It is pure and driven only by applied entries, so every replica holds the same table;
 * time enters only as entries (a lease's expiry, the end of a lock-delay), which the leader
 * proposes from its own monotonic countdowns.
 *
 * Fencing tokens come from one counter for the whole table, bumped at every grant and carried in
 * snapshots: a later holder of any lock always gets a greater token, also after the lock was
 * freed and forgotten, after a leader change or a restore. (A revision would not do: lock changes
 * do not write keys, so the revision does not move at a grant.)
 *
 * Handoff happens inside the entry that ends a holding (release, lease expiry or revoke): the
 * next waiter becomes holder there and then, and the `granted` event names that one waiter, so
 * the node wakes that request alone. Waiters whose lease ended leave the queue in the lease-end
 * entry before anyone is granted, so a lock never goes to a dead lease.
 */
import { assert } from '../common/assert.ts';
import { LeaseRefs } from './lease-refs.ts';
import { type LockRecord, type LockRecordState, copyOf, isIdle, recordKey, viewOf } from './lock-record.ts';
import {
  MAX_ACTIVE_LOCKS,
  MAX_IDLE_LOCKS,
  MAX_WAITERS_PER_LOCK,
  RECENT_HOLDERS,
} from './limits.ts';
import type {
  ElectionLeader,
  LockDelayCountdown,
  LockEnd,
  LockEndReason,
  LockEvent,
  LockHolder,
  LockKind,
  LockView,
  LockWaiter,
} from './types.ts';

/** How a lease ended, as the holdings it ends record it. */
export type LeaseEndReason = Exclude<LockEndReason, 'released'>;

/** What the table needs from the state machine around it, during one apply. */
export interface LockEnv {
  /** The store revision as of now (recorded as a holding's endedRevision). */
  readonly revision: number;
  leaseExists(id: string): boolean;
  /** Grants a fresh lease (a ttlMs waiter's, at the moment it is granted the lock). */
  grantLease(ttlMs: number): string;
  emit(event: LockEvent): void;
}

export interface AcquireRequest {
  readonly kind: LockKind;
  readonly name: string;
  readonly owner: string;
  /** Exactly one of lease and ttlMs (the parser checked). */
  readonly lease?: string;
  readonly ttlMs?: number;
  readonly lockDelayMs: number;
  /** Present: wait in line if the lock is not free now. Absent: try once. */
  readonly waiterId?: string;
  readonly value?: string;
}

export type AcquireOutcome =
  /** Granted now, or this lease already held it (same token). */
  | { readonly status: 'held'; readonly holder: LockHolder }
  | { readonly status: 'queued'; readonly position: number; readonly holder: LockHolder | null }
  /** Try-once and not free (`delayed`: free, but a lock-delay is in force). */
  | { readonly status: 'locked'; readonly holder: LockHolder | null; readonly delayed: boolean }
  | { readonly status: 'lease_not_found' }
  | { readonly status: 'too_many_waiters' }
  | { readonly status: 'too_many_locks' };

export type ReleaseOutcome =
  | { readonly status: 'released'; readonly ended: LockHolder }
  | { readonly status: 'stale'; readonly holder: LockHolder | null };

export type WithdrawOutcome =
  | { readonly status: 'withdrawn' }
  /** The waiter was granted before its withdrawal applied, and still holds. */
  | { readonly status: 'holding'; readonly holder: LockHolder }
  /** As `holding`, but the withdrawal asked to release such a holding, and did. */
  | { readonly status: 'released'; readonly ended: LockHolder }
  /** Neither waiting nor holding (its lease ended, or it was never queued). */
  | { readonly status: 'absent' };

export type ProclaimOutcome =
  | { readonly status: 'proclaimed'; readonly holder: LockHolder }
  | { readonly status: 'stale'; readonly holder: LockHolder | null };

export interface LockTableState {
  /** The next fencing token to hand out. */
  readonly nextToken: number;
  /** Active records sorted by (kind, name), then idle ones from longest idle: that order is state. */
  readonly records: readonly LockRecordState[];
}

/** The read side of the table, for queries outside an apply (the node, the server). */
export interface LockQueries {
  holder(kind: LockKind, name: string): LockHolder | null;
  isWaiting(kind: LockKind, name: string, waiterId: string): boolean;
  view(kind: LockKind, name: string): LockView | null;
  listHeld(kind: LockKind, prefix: string): LockView[];
  electionLeader(name: string): ElectionLeader | null;
  delays(): LockDelayCountdown[];
}

export class LockTable implements LockQueries {
  private readonly records = new Map<string, LockRecord>();
  /** Keys of idle records, longest idle first: the eviction order. */
  private readonly idle = new Set<string>();
  private readonly leaseRefs = new LeaseRefs();
  private nextToken = 1;

  /** Locks and elections held, waited on or delayed. */
  get activeCount(): number {
    return this.records.size - this.idle.size;
  }

  acquire(request: AcquireRequest, env: LockEnv): AcquireOutcome {
    if (request.lease !== undefined && !env.leaseExists(request.lease)) return { status: 'lease_not_found' };
    const key = recordKey(request.kind, request.name);
    const existing = this.records.get(key);
    if (existing?.holder != null && request.lease !== undefined && existing.holder.lease === request.lease) {
      return { status: 'held', holder: this.reacquire(existing, existing.holder, request, env) };
    }
    if (existing === undefined || isIdle(existing)) {
      // A grant makes the lock active, whether it is new or was idle.
      if (this.activeCount >= MAX_ACTIVE_LOCKS) return { status: 'too_many_locks' };
      const record = existing ?? this.create(request.kind, request.name);
      return { status: 'held', holder: this.grant(record, waiterOf(request), env) };
    }
    if (request.waiterId === undefined) {
      return { status: 'locked', holder: existing.holder, delayed: existing.holder === null && existing.delay !== null };
    }
    const queuedAt = existing.waiters.findIndex((waiter) => waiter.waiterId === request.waiterId);
    if (queuedAt >= 0) return { status: 'queued', position: queuedAt + 1, holder: existing.holder };
    if (existing.waiters.length >= MAX_WAITERS_PER_LOCK) return { status: 'too_many_waiters' };
    const waiter = waiterOf(request);
    existing.waiters.push(waiter);
    if (waiter.lease !== undefined) this.leaseRefs.add(waiter.lease, key);
    return { status: 'queued', position: existing.waiters.length, holder: existing.holder };
  }

  /** Ends the holding whose token this is, and hands the lock to the next waiter. */
  release(kind: LockKind, name: string, token: number, env: LockEnv): ReleaseOutcome {
    const record = this.records.get(recordKey(kind, name));
    const holder = record?.holder ?? null;
    if (record === undefined || holder === null || holder.token !== token) return { status: 'stale', holder };
    this.end(record, 'released', env);
    this.settle(record, env);
    return { status: 'released', ended: holder };
  }

  /** A waiting request ended: it leaves the queue (or, if granted meanwhile, says so or releases). */
  withdraw(kind: LockKind, name: string, waiterId: string, releaseIfHolding: boolean, env: LockEnv): WithdrawOutcome {
    const key = recordKey(kind, name);
    const record = this.records.get(key);
    if (record === undefined) return { status: 'absent' };
    const position = record.waiters.findIndex((waiter) => waiter.waiterId === waiterId);
    if (position >= 0) {
      const [waiter] = record.waiters.splice(position, 1);
      if (waiter?.lease !== undefined) this.leaseRefs.remove(waiter.lease, key);
      this.noteIdle(record);
      return { status: 'withdrawn' };
    }
    const holder = record.holder;
    if (holder === null || holder.waiterId !== waiterId) return { status: 'absent' };
    if (!releaseIfHolding) return { status: 'holding', holder };
    this.end(record, 'released', env);
    this.settle(record, env);
    return { status: 'released', ended: holder };
  }

  /** Elections: the leader holding `token` publishes a new value. */
  proclaim(kind: LockKind, name: string, token: number, value: string, env: LockEnv): ProclaimOutcome {
    const record = this.records.get(recordKey(kind, name));
    const holder = record?.holder ?? null;
    if (record === undefined || holder === null || holder.token !== token) return { status: 'stale', holder };
    const updated: LockHolder = { ...holder, value };
    record.holder = updated;
    env.emit({ type: 'proclaimed', kind, name, holder: updated });
    return { status: 'proclaimed', holder: updated };
  }

  /**
   * A lease ended (revoked or expired; the lease table no longer has it). In this one entry:
   * its waiters leave every queue, its holdings end (starting their lock-delays), and each lock
   * it held goes to the next waiter, whose lease is alive by construction.
   */
  leaseEnded(leaseId: string, reason: LeaseEndReason, env: LockEnv): void {
    if (!this.leaseRefs.has(leaseId)) return;
    for (const key of this.leaseRefs.keysOf(leaseId)) {
      const record = this.records.get(key);
      assert(record !== undefined, () => `lease ${leaseId} refers to a forgotten lock ${key}`);
      for (let i = record.waiters.length - 1; i >= 0; i--) {
        const waiter = record.waiters[i];
        if (waiter?.lease !== leaseId) continue;
        record.waiters.splice(i, 1);
        this.leaseRefs.remove(leaseId, key);
        env.emit({ type: 'waiterRemoved', kind: record.kind, name: record.name, waiterId: waiter.waiterId, lease: leaseId });
      }
      if (record.holder?.lease === leaseId) this.end(record, reason, env);
      this.settle(record, env);
    }
    assert(!this.leaseRefs.has(leaseId), () => `lease ${leaseId} still referenced after it ended`);
  }

  /** The leader's countdown for a lock-delay ran out. A stale end (another holding's) does nothing. */
  endDelay(kind: LockKind, name: string, token: number, env: LockEnv): boolean {
    const record = this.records.get(recordKey(kind, name));
    if (record?.delay?.token !== token) return false;
    const delay = record.delay;
    record.delay = null;
    env.emit({ type: 'delayEnded', delay: { kind, name, token, delayMs: delay.delayMs } });
    this.settle(record, env);
    return true;
  }

  holder(kind: LockKind, name: string): LockHolder | null {
    return this.records.get(recordKey(kind, name))?.holder ?? null;
  }

  /** Whether `waiterId` is in the queue of this lock. */
  isWaiting(kind: LockKind, name: string, waiterId: string): boolean {
    return this.records.get(recordKey(kind, name))?.waiters.some((waiter) => waiter.waiterId === waiterId) ?? false;
  }

  view(kind: LockKind, name: string): LockView | null {
    const record = this.records.get(recordKey(kind, name));
    return record === undefined ? null : viewOf(record);
  }

  /** Held locks (or elections with a leader) whose name starts with `prefix`, sorted by name. */
  listHeld(kind: LockKind, prefix: string): LockView[] {
    const held: LockRecord[] = [];
    for (const record of this.records.values()) {
      if (record.kind === kind && record.holder !== null && record.name.startsWith(prefix)) held.push(record);
    }
    return held.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map(viewOf);
  }

  electionLeader(name: string): ElectionLeader | null {
    const holder = this.holder('election', name);
    return holder === null ? null : { value: holder.value ?? '', token: holder.token, lease: holder.lease };
  }

  /** Lock-delays in force, for a new leader to count down (from full length). */
  delays(): LockDelayCountdown[] {
    const delays: LockDelayCountdown[] = [];
    for (const record of this.records.values()) {
      if (record.delay !== null) delays.push({ kind: record.kind, name: record.name, ...record.delay });
    }
    return delays;
  }

  exportState(): LockTableState {
    const active = [...this.records.entries()]
      .filter(([key]) => !this.idle.has(key))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, record]) => record);
    const idle = [...this.idle].map((key) => this.records.get(key) as LockRecord);
    return { nextToken: this.nextToken, records: [...active, ...idle].map(copyOf) };
  }

  /**
   * Replaces the table. Throws an AssertionError on a state no table could have reached, such
   * as a holder or waiter whose lease `leaseExists` does not know.
   */
  load(state: LockTableState, leaseExists: (id: string) => boolean): void {
    this.records.clear();
    this.idle.clear();
    this.leaseRefs.clear();
    assert(Number.isSafeInteger(state.nextToken) && state.nextToken >= 1, () => `lock nextToken ${state.nextToken}`);
    this.nextToken = state.nextToken;
    for (const saved of state.records) {
      const key = recordKey(saved.kind, saved.name);
      assert(!this.records.has(key), () => `lock ${key} twice in a snapshot`);
      const record = copyOf(saved);
      assert(record.holder === null || record.holder.token < this.nextToken, () => `lock ${key} token beyond the counter`);
      assert(record.holder === null || record.delay === null, () => `lock ${key} held while delayed`);
      assert(
        record.holder !== null || record.delay !== null || record.waiters.length === 0,
        () => `lock ${key} free with waiters`,
      );
      const leases = [record.holder?.lease, ...record.waiters.map((waiter) => waiter.lease)];
      for (const lease of leases) assert(lease === undefined || leaseExists(lease), () => `lock ${key} on missing lease ${lease}`);
      this.records.set(key, record);
      if (record.holder !== null) this.leaseRefs.add(record.holder.lease, key);
      for (const waiter of record.waiters) if (waiter.lease !== undefined) this.leaseRefs.add(waiter.lease, key);
      if (isIdle(record)) this.idle.add(key);
    }
  }

  // ---- Internals ------------------------------------------------------------------------------

  private create(kind: LockKind, name: string): LockRecord {
    const record: LockRecord = { kind, name, holder: null, waiters: [], recent: [], delay: null };
    this.records.set(recordKey(kind, name), record);
    return record;
  }

  /** The lease that holds the lock acquires again: same token; an election's value is updated. */
  private reacquire(record: LockRecord, holder: LockHolder, request: AcquireRequest, env: LockEnv): LockHolder {
    if (request.value === undefined || request.value === holder.value) return holder;
    const updated: LockHolder = { ...holder, value: request.value };
    record.holder = updated;
    env.emit({ type: 'proclaimed', kind: record.kind, name: record.name, holder: updated });
    return updated;
  }

  private grant(record: LockRecord, waiter: LockWaiter, env: LockEnv): LockHolder {
    assert(record.holder === null && record.delay === null, () => `grant of busy lock ${record.name}`);
    let lease = waiter.lease;
    if (lease === undefined) {
      assert(waiter.ttlMs !== undefined, 'a waiter without lease or ttlMs');
      lease = env.grantLease(waiter.ttlMs);
    }
    assert(env.leaseExists(lease), () => `lock ${record.name} granted to ended lease ${lease}`);
    const holder: LockHolder = {
      owner: waiter.owner,
      token: this.nextToken++,
      lease,
      leaseOwned: waiter.lease === undefined,
      lockDelayMs: waiter.lockDelayMs,
      ...(waiter.value === undefined ? {} : { value: waiter.value }),
      ...(waiter.waiterId === '' ? {} : { waiterId: waiter.waiterId }),
    };
    record.holder = holder;
    const key = recordKey(record.kind, record.name);
    this.leaseRefs.add(lease, key);
    this.idle.delete(key);
    env.emit({ type: 'granted', kind: record.kind, name: record.name, holder });
    return holder;
  }

  private end(record: LockRecord, reason: LockEndReason, env: LockEnv): void {
    const holder = record.holder;
    assert(holder !== null, () => `end of free lock ${record.name}`);
    record.holder = null;
    this.leaseRefs.remove(holder.lease, recordKey(record.kind, record.name));
    const end: LockEnd = { owner: holder.owner, token: holder.token, endedRevision: env.revision, reason };
    record.recent.push(end);
    if (record.recent.length > RECENT_HOLDERS) record.recent.shift();
    env.emit({ type: 'ended', kind: record.kind, name: record.name, end });
    if (reason !== 'released' && holder.lockDelayMs > 0) {
      record.delay = { token: holder.token, delayMs: holder.lockDelayMs };
      env.emit({ type: 'delayStarted', delay: { kind: record.kind, name: record.name, token: holder.token, delayMs: holder.lockDelayMs } });
    }
  }

  /** A free lock that may be granted goes to the first waiter; else it may have become idle. */
  private settle(record: LockRecord, env: LockEnv): void {
    if (record.holder === null && record.delay === null) {
      const next = record.waiters.shift();
      if (next !== undefined) {
        if (next.lease !== undefined) this.leaseRefs.remove(next.lease, recordKey(record.kind, record.name));
        this.grant(record, next, env);
      }
    }
    this.noteIdle(record);
  }

  private noteIdle(record: LockRecord): void {
    if (!isIdle(record)) return;
    const key = recordKey(record.kind, record.name);
    this.idle.delete(key); // to the back: it is the most recently idle
    this.idle.add(key);
    for (const oldest of this.idle) {
      if (this.idle.size <= MAX_IDLE_LOCKS) break;
      this.idle.delete(oldest);
      this.records.delete(oldest);
    }
  }
}

function waiterOf(request: AcquireRequest): LockWaiter {
  return {
    waiterId: request.waiterId ?? '',
    owner: request.owner,
    ...(request.lease === undefined ? {} : { lease: request.lease }),
    ...(request.ttlMs === undefined ? {} : { ttlMs: request.ttlMs }),
    lockDelayMs: request.lockDelayMs,
    ...(request.value === undefined ? {} : { value: request.value }),
  };
}
