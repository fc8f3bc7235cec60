// The lock checkers must catch real bugs too. Each test plants one bug in a test subclass of the
// lock table (src/lock's LockTable, substituted through KvStateMachine's newLockTable seam), runs
// KV seeds until a checker reports it, and then runs the same seeds without the plant: they pass.
// Production code is not bent: the plants live only here. The last test is the lesson of
// Jepsen's etcd analysis: critical sections that write without a fence lose updates when their
// client pauses past its TTL, and the fenced ones never do.
import { describe, expect, it } from 'vitest';
import { LockTable, type LeaseEndReason, type LockEnv, type LockKind, type LockTableState } from '../../src/lock/index.ts';
import { firstFailingSeed, yieldToEventLoop } from './seed-batch.ts';
import { runSimulation, type SimulationOptions } from './simulation.ts';
import { withLockTable } from './plants.ts';
import type { SwarmOptions } from './swarm.ts';

/** Every seed runs the KV stack (and so the lock workload). */
const kv = (options: SwarmOptions): SwarmOptions => ({ ...options, application: 'kv' });

/** An env that answers yes for every lease: nothing checks a waiter's lease is alive. */
function trusting(env: LockEnv): LockEnv {
  return {
    get revision() {
      return env.revision;
    },
    leaseExists: () => true,
    grantLease: (ttlMs) => env.grantLease(ttlMs),
    emit: (event) => env.emit(event),
  };
}

/**
 * Plant: a lease's end leaves its waiters in line (they go to the back, as if they had asked
 * again), and nothing checks a waiter's lease before granting it the lock.
 */
class GrantsToExpiredWaiters extends LockTable {
  override leaseEnded(leaseId: string, reason: LeaseEndReason, env: LockEnv): void {
    const kept = this.exportState().records.flatMap((record) =>
      record.waiters.filter((waiter) => waiter.lease === leaseId).map((waiter) => ({ kind: record.kind, name: record.name, waiter })),
    );
    for (const { kind, name, waiter } of kept) super.withdraw(kind, name, waiter.waiterId, false, env);
    super.leaseEnded(leaseId, reason, trusting(env));
    for (const { kind, name, waiter } of kept) {
      super.acquire({ kind, name, owner: waiter.owner, lease: leaseId, lockDelayMs: waiter.lockDelayMs, waiterId: waiter.waiterId }, trusting(env));
    }
  }
  override release(kind: LockKind, name: string, token: number, env: LockEnv): ReturnType<LockTable['release']> {
    return super.release(kind, name, token, trusting(env));
  }
  override withdraw(kind: LockKind, name: string, waiterId: string, releaseIfHolding: boolean, env: LockEnv): ReturnType<LockTable['withdraw']> {
    return super.withdraw(kind, name, waiterId, releaseIfHolding, trusting(env));
  }
  override endDelay(kind: LockKind, name: string, token: number, env: LockEnv): boolean {
    return super.endDelay(kind, name, token, trusting(env));
  }
  override load(state: LockTableState): void {
    super.load(state, () => true);
  }
}

/**
 * Plant: the token counter is not trusted from the snapshot but rebuilt from the current holders
 * (one past the greatest token held), so after a restore a released holder's token is reused.
 */
class RebuildsTokenCounter extends LockTable {
  override load(state: LockTableState, leaseExists: (id: string) => boolean): void {
    const held = state.records.map((record) => record.holder?.token ?? 0);
    super.load({ ...state, nextToken: Math.max(0, ...held) + 1 }, leaseExists);
  }
}

/** Plant: a release wakes every waiter of the lock, each told it was granted the lock. */
class WakesEveryWaiter extends LockTable {
  override release(kind: LockKind, name: string, token: number, env: LockEnv): ReturnType<LockTable['release']> {
    const waiters = this.exportState().records.find((record) => record.kind === kind && record.name === name)?.waiters ?? [];
    const outcome = super.release(kind, name, token, env);
    const holder = this.holder(kind, name);
    if (outcome.status === 'released' && holder !== null) {
      for (const waiter of waiters) {
        if (waiter.waiterId !== holder.waiterId) env.emit({ type: 'granted', kind, name, holder: { ...holder, waiterId: waiter.waiterId } });
      }
    }
    return outcome;
  }
}

/**
 * Finds the first seed (of 1..maxSeeds) whose run reports a violation with the plant, then shows
 * seeds 1..that one pass without it. Returns that seed and all its violations (a divergence may
 * be reported by the KV checkers too, in the same apply, ahead of the lock checker's).
 */
async function caughtAndCleanWithout(options: Omit<SimulationOptions, 'seed'>, maxSeeds: number): Promise<{ seed: number; violations: readonly string[] }> {
  let found: { seed: number; violations: readonly string[] } | null = null;
  for (let seed = 1; seed <= maxSeeds && found === null; seed++) {
    const violations = runSimulation({ ...options, seed, tweak: kv }).violations;
    if (violations.length > 0) found = { seed, violations };
    await yieldToEventLoop();
  }
  expect(found, 'no seed caught the planted bug').not.toBeNull();
  const { kvPlants: _plant, ...withoutPlant } = options;
  for (let seed = 1; seed <= (found?.seed ?? 0); seed++) {
    expect(runSimulation({ ...withoutPlant, seed, tweak: kv }).violations, `seed ${seed} without the plant`).toEqual([]);
    await yieldToEventLoop();
  }
  return found ?? { seed: 0, violations: [] };
}

const byLockChecker = (violations: readonly string[]): string[] => violations.filter((violation) => /^lock/.test(violation));

describe('planted lock bugs are caught', () => {
  it('a grant to a waiter whose lease expired', async () => {
    // Lease-holding waiters that go away without withdrawing (their leases expire in line).
    const found = await caughtAndCleanWithout(
      {
        kvPlants: withLockTable(() => new GrantsToExpiredWaiters()),
        lockWorkload: { seedShare: 1, clients: 3, leaseChance: 1, waitChance: 1, disconnectChance: 0.4 },
      },
      20,
    );
    expect(byLockChecker(found.violations)).not.toEqual([]);
  });

  it('a token reused after a restore', async () => {
    const found = await caughtAndCleanWithout({ kvPlants: withLockTable(() => new RebuildsTokenCounter()), lockWorkload: { seedShare: 1 } }, 30);
    expect(byLockChecker(found.violations)).not.toEqual([]);
  });

  it('a release that wakes every waiter', async () => {
    const found = await caughtAndCleanWithout(
      { kvPlants: withLockTable(() => new WakesEveryWaiter()), lockWorkload: { seedShare: 1, clients: 3, waitChance: 1 } },
      20,
    );
    expect(byLockChecker(found.violations)).not.toEqual([]);
  });
});

describe("Jepsen's etcd lesson", () => {
  it('critical sections that write without a fence lose updates when paused past their TTL; fenced ones never do', async () => {
    const found = await firstFailingSeed({ tweak: kv, lockWorkload: { seedShare: 1, fenced: false } }, 10);
    expect(found, 'the unfenced variant never lost an update').not.toBeNull();
    expect(found?.violation).toMatch(/^resource res\/lk\d: accepted .* a lost update/);
    for (let seed = 1; seed <= (found?.seed ?? 0); seed++) {
      expect(runSimulation({ seed, tweak: kv, lockWorkload: { seedShare: 1, fenced: true } }).violations, `seed ${seed} fenced`).toEqual([]);
      await yieldToEventLoop();
    }
  });
});
