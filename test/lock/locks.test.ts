// Locks in the state machine: grants and tokens, the FIFO queue and its handoff inside the
// ending entry, leases ending holdings and waits, lock-delay, recent holders, withdrawal.
import { describe, expect, it } from 'vitest';
import { KvStateMachine } from '../../src/kv/index.ts';
import { LockHarness, errorCode } from './lock-harness.ts';

describe('acquire and release', () => {
  it('grants a free lock with a lease of its own, and refuses a try-once while held (423 with the holder)', () => {
    const h = new LockHarness();
    const outcome = h.acquireOutcome('db', { owner: 'a', ttlMs: 2000 });
    const granted = outcome.result as unknown as Record<string, unknown>;
    expect(granted).toMatchObject({ status: 'held', name: 'db', owner: 'a', token: 1 });
    expect(outcome.leasesGranted).toEqual([{ id: granted['lease'], ttlMs: 2000 }]);
    const refused = h.acquire('db', { owner: 'b' });
    expect(errorCode(refused)).toBe('locked');
    expect(refused['error']).toMatchObject({ holder: { owner: 'a', token: 1, lease: granted['lease'] } });
    expect(h.machine.leases()).toHaveLength(1); // the refused try-once granted no lease
  });

  it('returns the same token to the lease that already holds the lock', () => {
    const h = new LockHarness();
    const lease = h.grant(5000);
    const first = h.token('db', { lease });
    expect(h.acquire('db', { lease, waiterId: 'w-again' })).toMatchObject({ status: 'held', token: first });
    expect(h.token('db', { lease })).toBe(first);
  });

  it('release needs the holding token (409 stale_token otherwise) and revokes the lock-owned lease with its keys', () => {
    const h = new LockHarness();
    const granted = h.acquire('db', { ttlMs: 1000 });
    const lease = granted['lease'] as string;
    h.put('owned-key', 'x', { lease });
    expect(errorCode(h.release('db', 999))).toBe('stale_token');
    expect(h.holderToken('db')).toBe(granted['token']);
    const released = h.apply({ type: 'lockRelease', kind: 'lock', name: 'db', token: granted['token'] as number });
    expect(released.leasesRemoved).toEqual([lease]);
    expect(h.machine.lease(lease)).toBeNull();
    expect(h.machine.get('owned-key').kv).toBeNull();
    expect(errorCode(h.release('db', granted['token'] as number))).toBe('stale_token');
  });

  it('release with an existing lease leaves the lease alone', () => {
    const h = new LockHarness();
    const lease = h.grant(5000);
    const token = h.token('db', { lease });
    h.release('db', token);
    expect(h.machine.lease(lease)).not.toBeNull();
  });

  it('refuses an acquire on a missing lease (404), and malformed acquires (400)', () => {
    const h = new LockHarness();
    expect(errorCode(h.acquire('db', { lease: '77' }))).toBe('not_found');
    // Commands every replica would refuse never reach the log: encoding throws the 400.
    const refused = (act: () => unknown): unknown => {
      try {
        act();
      } catch (error) {
        return (error as { code?: string }).code;
      }
      return 'accepted';
    };
    const lease = h.grant();
    expect(refused(() => h.acquire('db', { lease, ttlMs: 1000 }))).toBe('invalid_argument');
    expect(refused(() => h.acquire('', {}))).toBe('invalid_argument');
    expect(refused(() => h.acquire('db', { value: 'v' }))).toBe('invalid_argument'); // only campaigns carry values
    expect(refused(() => h.acquire('db', { lockDelayMs: 60_001 }))).toBe('invalid_argument');
    expect(refused(() => h.acquire('x'.repeat(513)))).toBe('invalid_argument');
    expect(refused(() => h.acquire('db', { kind: 'election' }))).toBe('invalid_argument'); // a campaign needs a value
    expect(refused(() => h.acquire('ok'))).toBe('accepted');
  });
});

describe('fencing tokens', () => {
  it('grow for every later holder, also after the lock was freed and re-taken', () => {
    const h = new LockHarness();
    const tokens: number[] = [];
    for (let i = 0; i < 5; i++) {
      const token = h.token('db');
      tokens.push(token);
      h.release('db', token);
    }
    h.token('other');
    tokens.push(h.token('db'));
    expect(tokens).toEqual([...tokens].sort((a, b) => a - b));
    expect(new Set(tokens).size).toBe(tokens.length);
  });

  it('keep growing after a snapshot is restored on another replica', () => {
    const h = new LockHarness();
    const before = h.token('db');
    h.release('db', before);
    const restored = new KvStateMachine();
    restored.restore(h.machine.snapshot());
    const other = new LockHarness(restored);
    expect(other.token('db')).toBeGreaterThan(before);
  });
});

describe('the FIFO queue', () => {
  it('serves waiters in arrival order, each handoff inside the releasing entry, waking only that waiter', () => {
    const h = new LockHarness();
    let token = h.token('db', { owner: 'holder' });
    for (const id of ['w1', 'w2', 'w3']) {
      expect(h.acquire('db', { owner: id, waiterId: id })).toMatchObject({ status: 'queued' });
    }
    expect(h.machine.locks.view('lock', 'db')?.waiters).toBe(3);
    for (const id of ['w1', 'w2', 'w3']) {
      const released = h.apply({ type: 'lockRelease', kind: 'lock', name: 'db', token });
      const grants = released.lockEvents.filter((event) => event.type === 'granted');
      expect(grants).toHaveLength(1);
      expect(grants[0]).toMatchObject({ name: 'db', holder: { owner: id, waiterId: id } });
      expect(h.holderOwner('db')).toBe(id);
      const next = h.holderToken('db');
      expect(next).toBeGreaterThan(token);
      token = next as number;
    }
    h.release('db', token);
    expect(h.machine.locks.view('lock', 'db')).toMatchObject({ held: false, waiters: 0 });
  });

  it('a waiter that withdraws leaves the queue at once; one granted meanwhile is told, or released on request', () => {
    const h = new LockHarness();
    const token = h.token('db');
    h.acquire('db', { owner: 'w1', waiterId: 'w1' });
    h.acquire('db', { owner: 'w2', waiterId: 'w2' });
    h.acquire('db', { owner: 'w3', waiterId: 'w3' });
    expect(h.withdraw('db', 'w1')).toMatchObject({ status: 'withdrawn' });
    h.release('db', token);
    expect(h.holderOwner('db')).toBe('w2');
    expect(h.withdraw('db', 'w2')).toMatchObject({ status: 'holding', owner: 'w2' });
    expect(h.holderOwner('db')).toBe('w2');
    expect(h.withdraw('db', 'w2', true)).toMatchObject({ status: 'released' });
    expect(h.holderOwner('db')).toBe('w3');
    expect(h.withdraw('db', 'nobody')).toMatchObject({ status: 'absent' });
  });

  it('a ttlMs waiter holds no lease while waiting; its lease is granted with the lock', () => {
    const h = new LockHarness();
    const token = h.token('db');
    h.acquire('db', { waiterId: 'w1', ttlMs: 3000 });
    expect(h.machine.leases()).toHaveLength(1);
    const released = h.apply({ type: 'lockRelease', kind: 'lock', name: 'db', token });
    expect(released.leasesGranted).toEqual([{ id: expect.any(String) as unknown, ttlMs: 3000 }]);
    expect(h.machine.locks.holder('lock', 'db')?.lease).toBe(released.leasesGranted[0]?.id);
  });
});

describe('leases ending holdings and waits', () => {
  it("the holder's lease expiry hands the lock to the next waiter in the expiry entry", () => {
    const h = new LockHarness();
    const holderLease = h.grant(1000);
    const waiterLease = h.grant(1000);
    const first = h.token('db', { lease: holderLease, owner: 'a' });
    h.acquire('db', { lease: waiterLease, owner: 'b', waiterId: 'wb' });
    const expired = h.expire(holderLease);
    expect(expired.lockEvents.map((event) => event.type)).toEqual(['ended', 'granted']);
    expect(h.holderOwner('db')).toBe('b');
    expect(h.holderToken('db')).toBeGreaterThan(first);
    expect(h.machine.locks.view('lock', 'db')?.recent[0]).toMatchObject({ owner: 'a', token: first, reason: 'lease_expired' });
  });

  it('a waiter whose lease ends leaves every queue in that entry and is never granted', () => {
    const h = new LockHarness();
    const doomed = h.grant(1000);
    const alive = h.grant(1000);
    const holderLease = h.grant(1000);
    const token = h.token('db', { lease: holderLease });
    h.acquire('db', { lease: doomed, owner: 'doomed', waiterId: 'wd' });
    h.acquire('db', { lease: alive, owner: 'alive', waiterId: 'wa' });
    const revoked = h.apply({ type: 'leaseRevoke', id: doomed });
    expect(revoked.lockEvents).toEqual([{ type: 'waiterRemoved', kind: 'lock', name: 'db', waiterId: 'wd', lease: doomed }]);
    h.release('db', token);
    expect(h.holderOwner('db')).toBe('alive');
  });

  it('when the holder and the first waiter share the ending lease, the lock skips to a live waiter', () => {
    const h = new LockHarness();
    const shared = h.grant(1000);
    const other = h.grant(1000);
    h.token('a', { lease: shared });
    h.token('b', { lease: other });
    h.acquire('b', { lease: shared, owner: 'shared-waiter', waiterId: 'ws' });
    const third = h.grant(1000);
    h.acquire('a', { lease: shared === third ? other : third, owner: 'live', waiterId: 'wl' });
    h.expire(shared);
    expect(h.holderOwner('a')).toBe('live');
    expect(h.machine.locks.isWaiting('lock', 'b', 'ws')).toBe(false);
  });

  it('a revoked holder is recorded as lease_revoked; a lease ending several holdings ends all of them', () => {
    const h = new LockHarness();
    const lease = h.grant(1000);
    h.token('x', { lease, owner: 'o' });
    h.token('y', { lease, owner: 'o' });
    h.apply({ type: 'leaseRevoke', id: lease });
    for (const name of ['x', 'y']) {
      expect(h.machine.locks.view('lock', name)).toMatchObject({ held: false, recent: [{ reason: 'lease_revoked' }] });
    }
  });
});

describe('lock-delay', () => {
  it('after an involuntary loss nobody gets the lock until the delay ends by its entry', () => {
    const h = new LockHarness();
    const holderLease = h.grant(1000);
    const waiterLease = h.grant(1000);
    const token = h.token('db', { lease: holderLease, lockDelayMs: 5000 });
    h.acquire('db', { lease: waiterLease, owner: 'w', waiterId: 'w' });
    const expired = h.expire(holderLease);
    expect(expired.lockEvents.map((event) => event.type)).toEqual(['ended', 'delayStarted']);
    expect(h.holderOwner('db')).toBeNull();
    expect(h.machine.locks.delays()).toEqual([{ kind: 'lock', name: 'db', token, delayMs: 5000 }]);
    const tryOnce = h.acquire('db', { owner: 'late' });
    expect(errorCode(tryOnce)).toBe('locked');
    expect(tryOnce['error']).toMatchObject({ holder: null, lockDelayed: true });
    expect(h.run({ type: 'lockDelayEnd', kind: 'lock', name: 'db', token: token + 100 })).toMatchObject({ ended: false });
    expect(h.holderOwner('db')).toBeNull();
    expect(h.run({ type: 'lockDelayEnd', kind: 'lock', name: 'db', token })).toMatchObject({ ended: true });
    expect(h.holderOwner('db')).toBe('w');
  });

  it('a release is not a loss: no delay', () => {
    const h = new LockHarness();
    const token = h.token('db', { lockDelayMs: 5000 });
    h.release('db', token);
    expect(h.acquire('db', { owner: 'next' })).toMatchObject({ status: 'held' });
  });
});

describe('recent holders', () => {
  it('keeps the last ten, newest first, with why each ended', () => {
    const h = new LockHarness();
    const tokens: number[] = [];
    for (let i = 0; i < 12; i++) {
      const lease = h.grant(1000);
      const token = h.token('db', { lease, owner: `o${i}` });
      tokens.push(token);
      if (i % 2 === 0) h.release('db', token);
      else h.expire(lease);
    }
    const recent = h.machine.locks.view('lock', 'db')?.recent ?? [];
    expect(recent).toHaveLength(10);
    expect(recent.map((end) => end.token)).toEqual(tokens.slice(2).reverse());
    expect(recent[0]).toMatchObject({ owner: 'o11', reason: 'lease_expired', endedRevision: h.machine.revision });
    expect(recent[1]).toMatchObject({ owner: 'o10', reason: 'released' });
  });
});

describe('fenced writes', () => {
  it('a put with a fence applies only while the token holds the lock', () => {
    const h = new LockHarness();
    const token = h.token('db');
    const fence = { kind: 'lock' as const, name: 'db', token };
    expect(h.run({ type: 'put', key: 'resource', value: 'v1', fence })).toMatchObject({ revision: 1 });
    h.release('db', token);
    h.token('db');
    const stale = h.run({ type: 'put', key: 'resource', value: 'v2', fence });
    expect(errorCode(stale)).toBe('stale_token');
    expect(h.machine.get('resource').kv?.value).toBe('v1');
    expect(errorCode(h.run({ type: 'put', key: 'r', value: 'x', fence: { kind: 'lock', name: 'never', token: 1 } }))).toBe('stale_token');
  });

  it('a txn with a fence applies (either branch) only while the token holds the lock', () => {
    const h = new LockHarness();
    const token = h.token('db');
    const txn = { type: 'txn' as const, compare: [], success: [{ put: { key: 'k', value: '1' } }], failure: [] };
    expect(h.run({ ...txn, fence: { kind: 'lock', name: 'db', token } })).toMatchObject({ succeeded: true });
    expect(errorCode(h.run({ ...txn, fence: { kind: 'lock', name: 'db', token: token + 1 } }))).toBe('stale_token');
    expect(h.machine.revision).toBe(1);
  });
});

describe('snapshots', () => {
  it('restore reproduces the lock table exactly: holders, queues, delays, recent, the token counter', () => {
    const h = new LockHarness();
    const a = h.grant(1000);
    const b = h.grant(1000);
    const t1 = h.token('one', { lease: a, lockDelayMs: 100 });
    h.acquire('one', { lease: b, waiterId: 'wb', owner: 'b' });
    h.acquire('one', { ttlMs: 900, waiterId: 'wt', owner: 't' });
    h.token('two', { owner: 'x' });
    h.token('three', { lease: b });
    h.release('three', h.holderToken('three') as number);
    h.expire(a);
    h.token('e', { kind: 'election', value: 'addr', lease: b });
    expect(t1).toBe(1);
    const bytes = h.machine.snapshot();
    const copy = new KvStateMachine();
    copy.restore(bytes);
    expect(copy.snapshot()).toEqual(bytes);
    expect(copy.locks.view('lock', 'one')).toEqual(h.machine.locks.view('lock', 'one'));
    expect(copy.locks.delays()).toEqual(h.machine.locks.delays());
    // The two replicas go on identically.
    const twin = new LockHarness(copy);
    twin.index = h.index;
    for (const harness of [h, twin]) {
      harness.run({ type: 'lockDelayEnd', kind: 'lock', name: 'one', token: t1 });
      harness.apply({ type: 'leaseRevoke', id: b });
    }
    expect(twin.machine.snapshot()).toEqual(h.machine.snapshot());
    expect(twin.holderOwner('one')).toBe('t');
  });
});
