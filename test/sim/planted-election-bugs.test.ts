// The election checkers must catch real bugs too. Each test plants one bug in a test subclass of
// the lock table (src/lock's LockTable, through KvStateMachine's newLockTable seam), runs KV seeds
// with the lock workload and its election clients until a checker reports it, and then runs the
// same seeds without the plant: they pass. Production code is not bent: the plants live only here.
import { describe, expect, it } from 'vitest';
import { LockTable, type AcquireRequest, type LockEnv, type LockEvent, type LockKind } from '../../src/lock/index.ts';
import { withLockTable } from './plants.ts';
import { caughtOnLockSeeds } from './seed-batch.ts';

/** An env whose events are held back (the plant rewrites them before they go out). */
function buffering(env: LockEnv, events: LockEvent[]): LockEnv {
  return {
    get revision() {
      return env.revision;
    },
    leaseExists: (id) => env.leaseExists(id),
    grantLease: (ttlMs) => env.grantLease(ttlMs),
    emit: (event) => events.push(event),
  };
}

/**
 * Plant: a new leader of an election is given the token of the leader before it (as if the token
 * were the election's, carried over at each change of leader), not a fresh one.
 */
class ReusesElectionToken extends LockTable {
  private reusing<T>(env: LockEnv, run: (env: LockEnv) => T): { result: T; token: (name: string, token: number) => number } {
    const events: LockEvent[] = [];
    const result = run(buffering(env, events));
    const reused = new Map<string, { from: number; to: number }>();
    const state = this.exportState();
    const records = state.records.map((record) => {
      const holder = record.holder;
      const previous = record.recent.at(-1);
      if (record.kind !== 'election' || holder === null || previous === undefined) return record;
      const grantedNow = events.some((event) => event.type === 'granted' && event.kind === 'election' && event.name === record.name && event.holder.token === holder.token);
      if (!grantedNow) return record;
      reused.set(record.name, { from: holder.token, to: previous.token });
      return { ...record, holder: { ...holder, token: previous.token } };
    });
    if (reused.size > 0) this.load({ ...state, records }, (id) => env.leaseExists(id));
    const token = (name: string, value: number): number => (reused.get(name)?.from === value ? (reused.get(name)?.to ?? value) : value);
    for (const event of events) {
      if (event.type === 'granted' && event.kind === 'election') env.emit({ ...event, holder: { ...event.holder, token: token(event.name, event.holder.token) } });
      else env.emit(event);
    }
    return { result, token };
  }

  override acquire(request: AcquireRequest, env: LockEnv): ReturnType<LockTable['acquire']> {
    const { result, token } = this.reusing(env, (inner) => super.acquire(request, inner));
    return result.status === 'held' ? { ...result, holder: { ...result.holder, token: token(request.name, result.holder.token) } } : result;
  }
  override release(kind: LockKind, name: string, token: number, env: LockEnv): ReturnType<LockTable['release']> {
    return this.reusing(env, (inner) => super.release(kind, name, token, inner)).result;
  }
  override withdraw(kind: LockKind, name: string, waiterId: string, releaseIfHolding: boolean, env: LockEnv): ReturnType<LockTable['withdraw']> {
    return this.reusing(env, (inner) => super.withdraw(kind, name, waiterId, releaseIfHolding, inner)).result;
  }
  override leaseEnded(leaseId: string, reason: Parameters<LockTable['leaseEnded']>[1], env: LockEnv): void {
    this.reusing(env, (inner) => super.leaseEnded(leaseId, reason, inner));
  }
  override endDelay(kind: LockKind, name: string, token: number, env: LockEnv): boolean {
    return this.reusing(env, (inner) => super.endDelay(kind, name, token, inner)).result;
  }
}

/** Plant: a proclaim is applied to whoever leads now, whatever token it names. */
class AcceptsStaleProclaim extends LockTable {
  override proclaim(kind: LockKind, name: string, token: number, value: string, env: LockEnv): ReturnType<LockTable['proclaim']> {
    return super.proclaim(kind, name, this.holder(kind, name)?.token ?? token, value, env);
  }
}

/**
 * Plant: a campaign that tries once against a led election takes the leadership over (the
 * leader's holding ends as if it had resigned), instead of being refused as locked. The leader is
 * not told, and keeps believing it leads while its lease lives.
 */
class CampaignTakesOver extends LockTable {
  override acquire(request: AcquireRequest, env: LockEnv): ReturnType<LockTable['acquire']> {
    const holder = this.holder(request.kind, request.name);
    if (request.kind === 'election' && request.waiterId === undefined && holder !== null && holder.lease !== request.lease) {
      super.release(request.kind, request.name, holder.token, env);
    }
    return super.acquire(request, env);
  }
}

const by = (pattern: RegExp) => (violations: readonly string[]): string[] => violations.filter((violation) => pattern.test(violation));

describe('planted election bugs are caught', () => {
  it('an election token reused after a change of leader: tokens and observers', async () => {
    const found = await caughtOnLockSeeds({}, withLockTable(() => new ReusesElectionToken()), 10);
    expect(by(/^election tokens: /)(found.violations), found.violations.join('\n')).not.toEqual([]);
    expect(by(/^election \S+: observer of election .* went back/)(found.violations), found.violations.join('\n')).not.toEqual([]);
  });

  it('a proclaim accepted with a stale token', async () => {
    const found = await caughtOnLockSeeds({}, withLockTable(() => new AcceptsStaleProclaim()), 10);
    expect(by(/^election \S+: proclaim of .* with stale token \d+ accepted/)(found.violations), found.violations.join('\n')).not.toEqual([]);
    expect(by(/^election \S+: observer of election .* neither its campaign's .* nor proclaimed with its token/)(found.violations), found.violations.join('\n')).not.toEqual([]);
  });

  it('a campaign that takes over a led election: two leaders at once', async () => {
    const found = await caughtOnLockSeeds({}, withLockTable(() => new CampaignTakesOver()), 10, [/^election \S+: two leaders at once/]);
    expect(by(/^election \S+: two leaders at once/)(found.violations), found.violations.join('\n')).not.toEqual([]);
  });
});
