// A txn's compare on a lock's holder token: it reads the holder when the txn applies (0 when
// free) and picks the branch, where a fence would refuse the whole txn; strict validation.
import { describe, expect, it } from 'vitest';
import { encodeCommand, type TxnCommand, type TxnCompare, type TxnCompareOp } from '../../src/kv/index.ts';
import type { LockKind } from '../../src/lock/index.ts';
import { LockHarness } from './lock-harness.ts';

const tokenIs = (name: string, op: TxnCompareOp, value: number, kind: LockKind = 'lock'): TxnCompare => ({
  kind,
  name,
  target: 'token',
  op,
  value,
});

/** A txn that writes `key` = "mine" while the compares hold, and reads it back otherwise. */
const guarded = (compare: TxnCompare[], key = 'resource'): TxnCommand => ({
  type: 'txn',
  compare,
  success: [{ put: { key, value: 'mine' } }],
  failure: [{ get: { key } }],
});

describe('txn compare on a lock token', () => {
  it("runs the success branch while the token holds the lock, the failure branch once another holder's token does", () => {
    const h = new LockHarness();
    const first = h.token('db', { owner: 'a' });
    expect(h.run(guarded([tokenIs('db', '==', first)]))).toMatchObject({ succeeded: true, revision: 1, results: [{ put: { revision: 1 } }] });
    h.release('db', first);
    const second = h.token('db', { owner: 'b' });
    expect(second).toBeGreaterThan(first);
    const late = h.run(guarded([tokenIs('db', '==', first)]));
    expect(late).toMatchObject({ succeeded: false, revision: 1 });
    expect(late['results']).toEqual([{ get: { kv: expect.objectContaining({ value: 'mine', modRevision: 1 }) } }]);
    expect(h.run(guarded([tokenIs('db', '==', second)]))).toMatchObject({ succeeded: true, revision: 2 });
  });

  it('sees the next holder after the first one’s lease expired (handoff in the expiry entry)', () => {
    const h = new LockHarness();
    const lease = h.grant(1000);
    const first = h.token('db', { lease });
    h.acquire('db', { ttlMs: 1000, waiterId: 'w2', owner: 'next' });
    h.expire(lease);
    const next = h.holderToken('db');
    expect(next).toBeGreaterThan(first);
    expect(h.run(guarded([tokenIs('db', '==', first)]))['succeeded']).toBe(false);
    expect(h.run(guarded([tokenIs('db', '==', next as number)]))['succeeded']).toBe(true);
  });

  it('reads 0 for a free lock: one never taken, one released, one in its lock-delay', () => {
    const h = new LockHarness();
    expect(h.run(guarded([tokenIs('never', '==', 0)]))['succeeded']).toBe(true);
    const token = h.token('db');
    expect(h.run(guarded([tokenIs('db', '==', 0)], 'a'))['succeeded']).toBe(false);
    h.release('db', token);
    expect(h.run(guarded([tokenIs('db', '==', 0)], 'b'))['succeeded']).toBe(true);
    const lease = h.grant(1000);
    h.token('delayed', { lease, lockDelayMs: 5000 });
    h.expire(lease);
    expect(h.machine.locks.view('lock', 'delayed')?.lockDelayed).toBe(true);
    expect(h.run(guarded([tokenIs('delayed', '==', 0)], 'c'))['succeeded']).toBe(true);
  });

  it('compares with == != < >, on elections too (their own namespace)', () => {
    const h = new LockHarness();
    h.token('other'); // token 1: the lock and the election below get different tokens
    const token = h.token('svc', { kind: 'election', value: 'http://a' });
    const holds = (compare: TxnCompare): unknown => h.run({ type: 'txn', compare: [compare], success: [], failure: [] })['succeeded'];
    expect(holds(tokenIs('svc', '==', token, 'election'))).toBe(true);
    expect(holds(tokenIs('svc', '!=', token, 'election'))).toBe(false);
    expect(holds(tokenIs('svc', '!=', token + 1, 'election'))).toBe(true);
    expect(holds(tokenIs('svc', '<', token + 1, 'election'))).toBe(true);
    expect(holds(tokenIs('svc', '<', token, 'election'))).toBe(false);
    expect(holds(tokenIs('svc', '>', token - 1, 'election'))).toBe(true);
    expect(holds(tokenIs('svc', '>', token, 'election'))).toBe(false);
    // A lock named like the election is another thing, and free.
    expect(holds(tokenIs('svc', '==', 0, 'lock'))).toBe(true);
  });

  it('mixes with key compares: every compare must hold', () => {
    const h = new LockHarness();
    const token = h.token('db');
    const absent: TxnCompare = { key: 'resource', target: 'version', op: '==', value: 0 };
    expect(h.run(guarded([tokenIs('db', '==', token), absent]))['succeeded']).toBe(true);
    expect(h.run(guarded([tokenIs('db', '==', token), absent]))['succeeded']).toBe(false); // the key exists now
  });

  it('is decided at the apply point: a txn proposed while holding, applied after the release, runs its failure branch', () => {
    const h = new LockHarness();
    const token = h.token('db');
    const proposed = encodeCommand({ proposedAtMs: h.nowMs, body: guarded([tokenIs('db', '==', token)]) });
    h.release('db', token);
    const outcome = h.machine.apply(++h.index, proposed);
    expect(outcome.result).toMatchObject({ succeeded: false });
    expect(h.machine.get('resource').kv).toBeNull();
  });

  it('refuses malformed lock compares before they reach the log (invalid_argument)', () => {
    const h = new LockHarness();
    const codeOf = (compare: unknown): unknown => {
      try {
        h.run({ type: 'txn', compare: [compare as TxnCompare], success: [], failure: [] });
      } catch (error) {
        return (error as { code?: string }).code;
      }
      return 'accepted';
    };
    const valid = { kind: 'lock', name: 'db', target: 'token', op: '==', value: 0 };
    expect(codeOf(valid)).toBe('accepted');
    expect(codeOf({ ...valid, key: 'k' })).toBe('invalid_argument'); // a key and a lock at once
    expect(codeOf({ target: 'token', op: '==', value: 0 })).toBe('invalid_argument'); // neither
    expect(codeOf({ ...valid, target: 'version' })).toBe('invalid_argument');
    expect(codeOf({ key: 'k', target: 'token', op: '==', value: 0 })).toBe('invalid_argument'); // token is a lock's
    expect(codeOf({ ...valid, kind: 'mutex' })).toBe('invalid_argument');
    expect(codeOf({ ...valid, name: '' })).toBe('invalid_argument');
    expect(codeOf({ ...valid, value: -1 })).toBe('invalid_argument');
    expect(codeOf({ ...valid, value: '1' })).toBe('invalid_argument');
    expect(codeOf({ ...valid, op: '>=' })).toBe('invalid_argument');
    expect(codeOf({ ...valid, holder: 'a' })).toBe('invalid_argument');
    expect(h.machine.revision).toBe(0);
  });
});
