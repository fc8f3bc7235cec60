/**
 * Linearizability of the chaos lock workload's history against a model of one lock with TTL
 * holdings and fencing tokens (chaos/wgl.ts does the search, one lock name at a time):
 *
 * - acquire answered with token t: the lock was free (never held, released, or its holder's
 *   TTL had run out) and t is greater than every token granted before — tokens strictly grow;
 * - try-acquire (waitMs 0) answered 423 locked: the lock was held at that point;
 * - release(t) answered 200: t was the holder, and the lock is free after; 409 stale_token: t
 *   was not the holder (released, expired, or another's turn);
 * - fenced write with t answered 200: t held the lock at that point; 409 stale_token: it did not.
 *
 * A holding may expire only once its TTL has passed since its acquire was *sent* (the leader
 * starts the countdown when it applies the grant, never earlier; a new leader restarts it at
 * full TTL, which only makes it later), so an expiry is allowed before an operation only if
 * that operation completed at least TTL after the holder's acquire was invoked.
 *
 * Outcomes nobody saw are indeterminate: an unknown acquire may have granted an unknown token
 * at any later point, or nothing; an unknown release may have freed the lock or not; a waiting
 * acquire (waitMs > 0) answered 423 is treated as unknown too, because the server answers 423
 * even when it could not withdraw the waiter in time, which may then be granted later. Refused
 * connections and validation errors had no effect and are dropped; unknown fenced writes
 * observe nothing.
 */
import type { Operation } from './history.ts';
import type { CheckResult } from './checks.ts';
import { searchLinearizable, type PowerModel, type SearchOp } from './wgl.ts';

export type LockOp =
  | { readonly f: 'acquire'; readonly token: number | null; readonly ttlMs: number }
  | { readonly f: 'locked' }
  | { readonly f: 'release'; readonly token: number; readonly outcome: 'ok' | 'stale' | 'unknown' }
  | { readonly f: 'fenced'; readonly token: number; readonly outcome: 'ok' | 'stale' };

/** An unknown grant's holder: a token nobody learned. */
const UNKNOWN_HOLDER = -1;

interface LockState {
  /** The holder's token (UNKNOWN_HOLDER for an unknown grant) or null when free. */
  readonly holder: number | null;
  /** When the holder's acquire was sent, and its TTL: it cannot expire before since + ttl. */
  readonly since: number;
  readonly ttlMs: number;
  /** The greatest token granted so far. */
  readonly last: number;
}

const FREE_SINCE = 0;

export const LOCK_MODEL: PowerModel<LockState, LockOp> = {
  init: [{ holder: null, since: FREE_SINCE, ttlMs: 0, last: 0 }],
  key: (state) => (state.holder === null ? `free/${state.last}` : `${state.holder}@${state.since}+${state.ttlMs}/${state.last}`),
  step(state, op) {
    // Before the operation takes effect the holder may have expired, once its TTL is surely over.
    const completed = op.completeMs ?? Infinity;
    const before: LockState[] = [state];
    if (state.holder !== null && completed >= state.since + state.ttlMs) before.push({ ...state, holder: null, since: FREE_SINCE, ttlMs: 0 });
    const after: LockState[] = [];
    for (const s of before) after.push(...apply(s, op));
    return after;
  },
};

function apply(state: LockState, { op, invokeMs }: SearchOp<LockOp>): LockState[] {
  switch (op.f) {
    case 'acquire':
      if (state.holder !== null) return [];
      if (op.token === null) return [{ holder: UNKNOWN_HOLDER, since: invokeMs, ttlMs: op.ttlMs, last: state.last }];
      return op.token > state.last ? [{ holder: op.token, since: invokeMs, ttlMs: op.ttlMs, last: op.token }] : [];
    case 'locked':
      return state.holder === null ? [] : [state];
    case 'release': {
      const holds = state.holder === op.token;
      if (op.outcome === 'ok') return holds ? [{ ...state, holder: null, since: FREE_SINCE, ttlMs: 0 }] : [];
      if (op.outcome === 'stale') return holds ? [] : [state];
      return holds ? [state, { ...state, holder: null, since: FREE_SINCE, ttlMs: 0 }] : [state];
    }
    case 'fenced':
      return (state.holder === op.token) === (op.outcome === 'ok') ? [state] : [];
  }
}

/** The lock ops of one lock name from the workload's history, in the search's form. */
export function lockOpsFromHistory(operations: readonly Operation[]): Map<string, SearchOp<LockOp>[]> {
  const byLock = new Map<string, SearchOp<LockOp>[]>();
  for (const operation of operations) {
    if (operation.workload !== 'lock' || operation.status === 'pending') continue;
    const lock = String(operation.invoke.lock);
    const op = toLockOp(operation);
    if (op === null) continue;
    const completeMs = op.unknown ? null : operation.completeMs;
    const list = byLock.get(lock) ?? [];
    list.push({ id: operation.id, op: op.op, invokeMs: operation.invokeMs, completeMs });
    byLock.set(lock, list);
  }
  return byLock;
}

function toLockOp(operation: Operation): { readonly op: LockOp; readonly unknown: boolean } | null {
  const { invoke, status, result } = operation;
  const code = typeof result?.code === 'string' ? result.code : '';
  const token = Number(invoke.token);
  switch (invoke.f) {
    case 'acquire': {
      const ttlMs = Number(invoke.ttlMs);
      if (status === 'ok') return { op: { f: 'acquire', token: Number(result?.token), ttlMs }, unknown: false };
      if (status === 'fail' && code === 'locked') {
        return Number(invoke.waitMs) === 0 ? { op: { f: 'locked' }, unknown: false } : { op: { f: 'acquire', token: null, ttlMs }, unknown: true };
      }
      return status === 'unknown' ? { op: { f: 'acquire', token: null, ttlMs }, unknown: true } : null;
    }
    case 'release':
      if (status === 'ok') return { op: { f: 'release', token, outcome: 'ok' }, unknown: false };
      if (status === 'fail' && code === 'stale_token') return { op: { f: 'release', token, outcome: 'stale' }, unknown: false };
      return status === 'unknown' ? { op: { f: 'release', token, outcome: 'unknown' }, unknown: true } : null;
    case 'fenced-write':
      if (status === 'ok') return { op: { f: 'fenced', token, outcome: 'ok' }, unknown: false };
      if (status === 'fail' && code === 'stale_token') return { op: { f: 'fenced', token, outcome: 'stale' }, unknown: false };
      return null;
    default:
      return null;
  }
}

function describe(op: SearchOp<LockOp>): string {
  const span = `[${op.invokeMs.toFixed(0)}, ${op.completeMs === null ? '?' : op.completeMs.toFixed(0)}] ms`;
  const o = op.op;
  const what = o.f === 'acquire'
    ? `acquire -> ${o.token === null ? 'unknown' : `token ${o.token}`} (ttl ${o.ttlMs})`
    : o.f === 'locked'
      ? 'try-acquire -> 423 locked'
      : `${o.f === 'fenced' ? 'fenced write' : 'release'} token ${o.token} -> ${o.outcome}`;
  return `#${op.id} ${span} ${what}`;
}

export function checkLockLinearizable(operations: readonly Operation[], maxStatesPerLock: number): CheckResult {
  const name = 'lock history linearizable';
  const byLock = lockOpsFromHistory(operations);
  if (byLock.size === 0) return { name, verdict: 'skipped', detail: 'no lock operations' };
  let states = 0;
  let count = 0;
  for (const lock of [...byLock.keys()].sort()) {
    const ops = byLock.get(lock) ?? [];
    count += ops.length;
    const result = searchLinearizable(ops, LOCK_MODEL, maxStatesPerLock);
    states += result.statesExplored;
    if (result.ok === 'inconclusive') {
      return { name, verdict: 'violated', detail: `inconclusive on lock ${lock} after ${result.statesExplored} states` };
    }
    if (result.ok === false) {
      const detail = `lock ${lock} is not linearizable: ${describe(result.blocked)} cannot be placed`;
      const window = [...ops].sort((a, b) => a.invokeMs - b.invokeMs).filter((op) => Math.abs(op.invokeMs - result.blocked.invokeMs) < 5_000);
      const report = `${detail}\n\nlongest linearizable prefix found:\n${result.deepest.map(describe).join('\n')}\n\noperations within 5 s of it:\n${window.map(describe).join('\n')}\n`;
      return { name, verdict: 'violated', detail, report };
    }
  }
  return { name, verdict: 'ok', detail: `${count} ops on ${byLock.size} lock names, ${states} states` };
}
