/**
 * One lock's (or election's) record in the lock table, and the plain views of it: the contract's
 * view (GET /v1/locks/{name}) and the form a snapshot carries. The rules that change a record
 * are the table's (lock-table.ts).
 */
import type { LockDelay, LockEnd, LockHolder, LockKind, LockView, LockWaiter } from './types.ts';

export interface LockRecord {
  readonly kind: LockKind;
  readonly name: string;
  holder: LockHolder | null;
  readonly waiters: LockWaiter[];
  /** Oldest first, at most RECENT_HOLDERS. */
  readonly recent: LockEnd[];
  delay: LockDelay | null;
}

/** One record as a snapshot carries it. */
export interface LockRecordState {
  readonly kind: LockKind;
  readonly name: string;
  readonly holder: LockHolder | null;
  readonly waiters: readonly LockWaiter[];
  readonly recent: readonly LockEnd[];
  readonly delay: LockDelay | null;
}

/** The table's key of a record: a lock "a" and an election "a" are two things. */
export function recordKey(kind: LockKind, name: string): string {
  return `${kind}:${name}`;
}

/** Free, with nobody waiting and no lock-delay: kept only for its `recent` history. */
export function isIdle(record: LockRecord): boolean {
  return record.holder === null && record.waiters.length === 0 && record.delay === null;
}

/** The contract's view of a lock; `recent` newest first. */
export function viewOf(record: LockRecord): LockView {
  const holder = record.holder;
  return {
    name: record.name,
    held: holder !== null,
    ...(holder === null ? {} : { holder: { owner: holder.owner, token: holder.token, lease: holder.lease } }),
    waiters: record.waiters.length,
    recent: [...record.recent].reverse(),
    lockDelayed: record.delay !== null,
  };
}

/**
 * A copy of a record, either way between the table and a snapshot: neither sees the other's
 * later changes (the queue and the history are arrays the table edits in place).
 */
export function copyOf(record: LockRecordState): LockRecord {
  return {
    kind: record.kind,
    name: record.name,
    holder: record.holder,
    waiters: [...record.waiters],
    recent: [...record.recent],
    delay: record.delay,
  };
}
