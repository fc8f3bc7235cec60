// The leader's lease countdowns: never early, restarted at full TTL by a new leader and by
// keepalives, retried when an expiry proposal fails.
import { describe, expect, it } from 'vitest';
import { LeaseKeeper } from '../../src/node/lease-keeper.ts';
import { EventQueue } from '../sim/event-queue.ts';
import { SimClock } from '../sim/sim-clock.ts';

function setup(outcome: (id: string) => boolean = () => true) {
  const queue = new EventQueue();
  const clock = new SimClock(queue, 1);
  const proposals: { id: string; atMs: number }[] = [];
  const keeper = new LeaseKeeper({
    clock,
    retryMs: 100,
    proposeExpiry: (id, done) => {
      proposals.push({ id, atMs: queue.now });
      const applied = outcome(id);
      queue.schedule(5, () => {
        if (applied) keeper.removed(id);
        done(applied);
      });
    },
  });
  const runUntil = (ms: number): void => {
    while (queue.runNext(ms)) {
      // Runs every event due by `ms`.
    }
    queue.advanceTo(ms);
  };
  return { queue, keeper, proposals, runUntil };
}

describe('LeaseKeeper', () => {
  it('expires a lease at its TTL after the grant, not before', () => {
    const { keeper, proposals, runUntil } = setup();
    keeper.becameLeader([]);
    keeper.granted('a', 1000);
    runUntil(999);
    expect(proposals).toEqual([]);
    runUntil(1000);
    expect(proposals).toEqual([{ id: 'a', atMs: 1000 }]);
  });

  it('restarts the countdown on keepalive', () => {
    const { keeper, proposals, runUntil } = setup();
    keeper.becameLeader([]);
    keeper.granted('a', 1000);
    runUntil(800);
    expect(keeper.keepAlive('a')).toBe(1000);
    runUntil(1799);
    expect(proposals).toEqual([]);
    expect(keeper.remainingMs('a')).toBe(1);
    runUntil(1800);
    expect(proposals.map((p) => p.atMs)).toEqual([1800]);
  });

  it('a new leader restarts every countdown at full TTL', () => {
    const { keeper, proposals, runUntil } = setup();
    runUntil(5000);
    keeper.becameLeader([
      { id: 'a', ttlMs: 1000 },
      { id: 'b', ttlMs: 3000 },
    ]);
    runUntil(5999);
    expect(proposals).toEqual([]);
    runUntil(8000);
    expect(proposals).toEqual([
      { id: 'a', atMs: 6000 },
      { id: 'b', atMs: 8000 },
    ]);
  });

  it('a follower neither counts nor renews', () => {
    const { keeper, proposals, runUntil } = setup();
    keeper.granted('a', 1000);
    expect(keeper.keepAlive('a')).toBeNull();
    runUntil(10_000);
    expect(proposals).toEqual([]);
    keeper.becameLeader([{ id: 'a', ttlMs: 1000 }]);
    keeper.lostLeadership();
    runUntil(20_000);
    expect(proposals).toEqual([]);
  });

  it('retries a failed expiry proposal after retryMs, and refuses keepalives meanwhile', () => {
    let failures = 2;
    const { keeper, proposals, runUntil } = setup(() => failures-- <= 0);
    keeper.becameLeader([]);
    keeper.granted('a', 1000);
    runUntil(1001);
    expect(keeper.keepAlive('a')).toBeNull();
    runUntil(2000);
    expect(proposals.map((p) => p.atMs)).toEqual([1000, 1105, 1210]);
    expect(keeper.remainingMs('a')).toBeNull();
  });
});
