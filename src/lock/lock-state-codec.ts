/**
 * The lock table as a snapshot carries it: plain lists (tuples, like the KV snapshot's keys), in
 * the table's own order, so equal tables encode to equal bytes. Decoding checks every shape and
 * reports the first problem through `corrupt`, which the KV snapshot codec turns into its
 * storage_failure; the table's own invariants are checked again when it loads the state.
 */
import type { LockRecordState } from './lock-record.ts';
import type { LockTableState } from './lock-table.ts';
import type { LockDelay, LockEnd, LockEndReason, LockHolder, LockKind, LockWaiter } from './types.ts';

type HolderTuple = [string, number, string, boolean, number, string | null, string | null];
type WaiterTuple = [string, string, string | null, number | null, number, string | null];
type EndTuple = [string, number, number, LockEndReason];
type RecordTuple = [LockKind, string, HolderTuple | null, WaiterTuple[], EndTuple[], [number, number] | null];

export interface LockStateWire {
  readonly nextToken: number;
  readonly records: readonly RecordTuple[];
}

export function lockStateToWire(state: LockTableState): LockStateWire {
  return {
    nextToken: state.nextToken,
    records: state.records.map((record): RecordTuple => [
      record.kind,
      record.name,
      record.holder === null ? null : holderToTuple(record.holder),
      record.waiters.map(waiterToTuple),
      record.recent.map((end): EndTuple => [end.owner, end.token, end.endedRevision, end.reason]),
      record.delay === null ? null : [record.delay.token, record.delay.delayMs],
    ]),
  };
}

function holderToTuple(holder: LockHolder): HolderTuple {
  return [holder.owner, holder.token, holder.lease, holder.leaseOwned, holder.lockDelayMs, holder.waiterId ?? null, holder.value ?? null];
}

function waiterToTuple(waiter: LockWaiter): WaiterTuple {
  return [waiter.waiterId, waiter.owner, waiter.lease ?? null, waiter.ttlMs ?? null, waiter.lockDelayMs, waiter.value ?? null];
}

/** Reports a malformed snapshot; never returns. */
export type Corrupt = (message: string) => never;

const KINDS: readonly unknown[] = ['lock', 'election'];
const REASONS: readonly unknown[] = ['released', 'lease_expired', 'lease_revoked'];

/** `undefined` (a snapshot from before locks existed) decodes as the empty table. */
export function lockStateFromWire(value: unknown, corrupt: Corrupt): LockTableState {
  if (value === undefined) return { nextToken: 1, records: [] };
  const read = new Reader(corrupt);
  const root = read.object(value, 'locks');
  const records = read.list(root['records'], 'locks.records').map((item, i): LockRecordState => {
    const path = `locks.records[${i}]`;
    const [kind, name, holder, waiters, recent, delay] = read.list(item, path);
    if (!KINDS.includes(kind)) corrupt(`${path}.kind is ${String(kind)}`);
    return {
      kind: kind as LockKind,
      name: read.text(name, `${path}.name`),
      holder: holder === null ? null : read.holder(holder, `${path}.holder`),
      waiters: read.list(waiters, `${path}.waiters`).map((waiter, j) => read.waiter(waiter, `${path}.waiters[${j}]`)),
      recent: read.list(recent, `${path}.recent`).map((end, j) => read.end(end, `${path}.recent[${j}]`)),
      delay: delay === null ? null : read.delay(delay, `${path}.delay`),
    };
  });
  return { nextToken: read.count(root['nextToken'], 'locks.nextToken'), records };
}

class Reader {
  constructor(private readonly corrupt: Corrupt) {}

  object(value: unknown, path: string): Readonly<Record<string, unknown>> {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) this.corrupt(`${path} is not an object`);
    return value as Readonly<Record<string, unknown>>;
  }

  list(value: unknown, path: string): readonly unknown[] {
    if (!Array.isArray(value)) this.corrupt(`${path} is not a list`);
    return value;
  }

  count(value: unknown, path: string): number {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) this.corrupt(`${path} is not a count`);
    return value;
  }

  text(value: unknown, path: string): string {
    if (typeof value !== 'string') this.corrupt(`${path} is not a string`);
    return value;
  }

  optionalText(value: unknown, path: string): string | undefined {
    return value === null ? undefined : this.text(value, path);
  }

  holder(value: unknown, path: string): LockHolder {
    const [owner, token, lease, leaseOwned, lockDelayMs, waiterId, holderValue] = this.list(value, path);
    if (typeof leaseOwned !== 'boolean') this.corrupt(`${path}.leaseOwned is not a boolean`);
    const waiter = this.optionalText(waiterId, `${path}.waiterId`);
    const text = this.optionalText(holderValue, `${path}.value`);
    return {
      owner: this.text(owner, `${path}.owner`),
      token: this.count(token, `${path}.token`),
      lease: this.text(lease, `${path}.lease`),
      leaseOwned,
      lockDelayMs: this.count(lockDelayMs, `${path}.lockDelayMs`),
      ...(waiter === undefined ? {} : { waiterId: waiter }),
      ...(text === undefined ? {} : { value: text }),
    };
  }

  waiter(value: unknown, path: string): LockWaiter {
    const [waiterId, owner, lease, ttlMs, lockDelayMs, waiterValue] = this.list(value, path);
    const leaseId = this.optionalText(lease, `${path}.lease`);
    const ttl = ttlMs === null ? undefined : this.count(ttlMs, `${path}.ttlMs`);
    if ((leaseId === undefined) === (ttl === undefined)) this.corrupt(`${path} needs exactly one of lease and ttlMs`);
    const text = this.optionalText(waiterValue, `${path}.value`);
    return {
      waiterId: this.text(waiterId, `${path}.waiterId`),
      owner: this.text(owner, `${path}.owner`),
      ...(leaseId === undefined ? {} : { lease: leaseId }),
      ...(ttl === undefined ? {} : { ttlMs: ttl }),
      lockDelayMs: this.count(lockDelayMs, `${path}.lockDelayMs`),
      ...(text === undefined ? {} : { value: text }),
    };
  }

  end(value: unknown, path: string): LockEnd {
    const [owner, token, endedRevision, reason] = this.list(value, path);
    if (!REASONS.includes(reason)) this.corrupt(`${path}.reason is ${String(reason)}`);
    return {
      owner: this.text(owner, `${path}.owner`),
      token: this.count(token, `${path}.token`),
      endedRevision: this.count(endedRevision, `${path}.endedRevision`),
      reason: reason as LockEndReason,
    };
  }

  delay(value: unknown, path: string): LockDelay {
    const [token, delayMs] = this.list(value, path);
    return { token: this.count(token, `${path}.token`), delayMs: this.count(delayMs, `${path}.delayMs`) };
  }
}
