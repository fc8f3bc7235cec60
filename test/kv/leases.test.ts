// Leases in the state machine: grants and ids, attachment, revoke and expiry deleting the keys
// at one revision, and what the outcome tells the leader's countdowns.
import { describe, expect, it } from 'vitest';
import { Harness } from './harness.ts';

describe('lease grant', () => {
  it('allocates ids from a counter, and returns the ttl', () => {
    const h = new Harness();
    const outcome = h.apply({ type: 'leaseGrant', ttlMs: 500 });
    expect(outcome.result).toEqual({ id: '1', ttlMs: 500, revision: 0 });
    expect(outcome.leasesGranted).toEqual([{ id: '1', ttlMs: 500 }]);
    expect(h.grant(2000)).toBe('2');
    expect(h.machine.leases()).toEqual([
      { id: '1', ttlMs: 500 },
      { id: '2', ttlMs: 2000 },
    ]);
    expect(h.machine.revision).toBe(0); // a grant is not a key write
  });

  it('grants a requested id, refuses one in use, and never allocates an id a client requested', () => {
    const h = new Harness();
    expect(h.grant(1000, 'session-a')).toBe('session-a');
    expect(h.grant(1000, '3')).toBe('3');
    const taken = h.apply({ type: 'leaseGrant', ttlMs: 900, id: 'session-a' });
    expect(taken.result).toEqual({ error: expect.objectContaining({ code: 'compare_failed', current: { id: 'session-a', ttlMs: 1000 } }) as unknown });
    expect(taken.leasesGranted).toEqual([]);
    expect(h.grant()).toBe('4');
    h.run({ type: 'leaseRevoke', id: '3' });
    expect(h.grant()).toBe('5');
  });
});

describe('attachment', () => {
  it('attaches on put, moves to another lease, and detaches on a put without lease or a delete', () => {
    const h = new Harness();
    const a = h.grant();
    const b = h.grant();
    h.put('x', '1', { lease: a });
    h.put('y', '1', { lease: a });
    h.put('w', '1', { lease: a });
    expect(h.machine.lease(a)).toEqual({ id: a, ttlMs: 1000, keys: ['w', 'x', 'y'] });
    expect(h.machine.get('x').kv?.lease).toBe(a);
    h.put('x', '2', { lease: b });
    h.put('y', '2');
    h.run({ type: 'delete', key: 'w' });
    expect(h.machine.lease(a)?.keys).toEqual([]);
    expect(h.machine.lease(b)?.keys).toEqual(['x']);
    expect(h.machine.get('y').kv).not.toHaveProperty('lease');
  });

  it('refuses a put on a missing lease with not_found', () => {
    const h = new Harness();
    expect(h.put('x', '1', { lease: '42' })).toEqual({ error: expect.objectContaining({ code: 'not_found', lease: '42' }) as unknown });
    expect(h.machine.revision).toBe(0);
  });
});

describe('revoke and expiry', () => {
  it('revoke deletes every attached key at one revision', () => {
    const h = new Harness();
    const id = h.grant();
    h.put('b', '1', { lease: id });
    h.put('a', '1', { lease: id });
    h.put('c', '1');
    const outcome = h.apply({ type: 'leaseRevoke', id });
    expect(outcome.result).toEqual({ revision: 4, deleted: 2 });
    expect(outcome.leasesRemoved).toEqual([id]);
    expect(h.machine.lease(id)).toBeNull();
    expect(h.machine.range('').items.map((kv) => kv.key)).toEqual(['c']);
    const events = h.machine.eventsSince(4, { prefix: '' });
    expect(events.compacted === false && events.events.map((e) => [e.type, e.key, e.modRevision])).toEqual([
      ['delete', 'a', 4],
      ['delete', 'b', 4],
    ]);
  });

  it('revoking a lease without keys does not bump the revision', () => {
    const h = new Harness();
    const id = h.grant();
    h.put('a', '1');
    expect(h.run({ type: 'leaseRevoke', id })).toEqual({ revision: 1, deleted: 0 });
  });

  it('expiry deletes like revoke; an unknown lease is not_found and changes nothing', () => {
    const h = new Harness();
    const id = h.grant();
    h.put('a', '1', { lease: id });
    const expired = h.apply({ type: 'leaseExpire', id });
    expect(expired.result).toEqual({ revision: 2, deleted: 1 });
    expect(expired.leasesRemoved).toEqual([id]);
    const again = h.apply({ type: 'leaseExpire', id });
    expect(again.result).toEqual({ error: expect.objectContaining({ code: 'not_found', lease: id }) as unknown });
    expect(again.leasesRemoved).toEqual([]);
    expect(again.revision).toBe(2);
    expect(h.run({ type: 'leaseRevoke', id: 'never' })).toHaveProperty('error.code', 'not_found');
  });
});
