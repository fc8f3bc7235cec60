// Elections in the state machine: a lock with a value. Campaign, queue, proclaim, resign, and
// the token that fences like a lock's.
import { describe, expect, it } from 'vitest';
import { LockHarness, errorCode } from './lock-harness.ts';

describe('elections', () => {
  it('campaign elects the first candidate; the next one waits and is elected on resign, with its value', () => {
    const h = new LockHarness();
    const first = h.acquire('svc', { kind: 'election', value: 'http://a', waiterId: 'ca' });
    expect(first).toMatchObject({ status: 'held', value: 'http://a', token: 1 });
    expect(h.acquire('svc', { kind: 'election', value: 'http://b', waiterId: 'cb' })).toMatchObject({ status: 'queued', position: 1 });
    expect(h.machine.locks.electionLeader('svc')).toEqual({ value: 'http://a', token: 1, lease: first['lease'] });
    const resigned = h.apply({ type: 'lockRelease', kind: 'election', name: 'svc', token: 1 });
    expect(resigned.lockEvents.map((event) => event.type)).toEqual(['ended', 'granted']);
    expect(h.machine.locks.electionLeader('svc')).toMatchObject({ value: 'http://b', token: 2 });
  });

  it('proclaim needs the leader token (stale_token otherwise) and changes the value in place', () => {
    const h = new LockHarness();
    const lease = h.grant(2000);
    const token = h.token('svc', { kind: 'election', value: 'v1', lease });
    expect(errorCode(h.run({ type: 'electionProclaim', name: 'svc', token: token + 1, value: 'evil' }))).toBe('stale_token');
    const proclaimed = h.apply({ type: 'electionProclaim', name: 'svc', token, value: 'v2' });
    expect(proclaimed.result).toMatchObject({ leader: { value: 'v2', token, lease } });
    expect(proclaimed.lockEvents).toEqual([expect.objectContaining({ type: 'proclaimed' }) as unknown]);
    // Campaigning again with the leader's lease keeps the token and proclaims the new value.
    expect(h.acquire('svc', { kind: 'election', value: 'v3', lease })).toMatchObject({ status: 'held', token, value: 'v3' });
  });

  it('elections and locks are separate namespaces, and an election token fences writes', () => {
    const h = new LockHarness();
    const token = h.token('same', { kind: 'election', value: 'leader-1' });
    expect(h.acquire('same', { owner: 'a lock' })).toMatchObject({ status: 'held' });
    const fence = { kind: 'election' as const, name: 'same', token };
    expect(h.run({ type: 'put', key: 'config', value: 'x', fence })).toHaveProperty('revision', 1);
    h.run({ type: 'lockRelease', kind: 'election', name: 'same', token });
    expect(errorCode(h.run({ type: 'put', key: 'config', value: 'y', fence }))).toBe('stale_token');
    expect(h.machine.locks.electionLeader('same')).toBeNull();
  });
});
