// Idempotency: a retry with the same key applies once and gets the first result, within a
// window measured on the proposers' clocks, in a bounded table that survives snapshot/restore.
import { describe, expect, it } from 'vitest';
import { DedupTable } from '../../src/kv/dedup.ts';
import { KvStateMachine, encodeCommand } from '../../src/kv/index.ts';
import { Harness } from './harness.ts';

describe('dedup in the state machine', () => {
  it('applies a retried command once and returns the first result, marked deduplicated', () => {
    const h = new Harness();
    const first = h.apply({ type: 'put', key: 'a', value: '1' }, { idempotencyKey: 'req-1' });
    expect(first).toMatchObject({ result: { revision: 1 }, deduplicated: false, commandType: 'put' });
    h.put('b', '1');
    const retry = h.apply({ type: 'put', key: 'a', value: '1' }, { idempotencyKey: 'req-1' });
    expect(retry).toMatchObject({ result: { revision: 1 }, deduplicated: true, commandType: 'put', revision: 2 });
    expect(h.machine.get('a').kv?.version).toBe(1);
    expect(h.machine.revision).toBe(2);
  });

  it('returns a first error result again, and tells no lease effects on a retry', () => {
    const h = new Harness();
    h.put('a', '1');
    const failed = h.apply({ type: 'put', key: 'a', value: '2', ifRevision: 0 }, { idempotencyKey: 'k' });
    expect(failed.result).toHaveProperty('error.code', 'compare_failed');
    h.run({ type: 'delete', key: 'a' }); // now the guard would hold
    const retry = h.apply({ type: 'put', key: 'a', value: '2', ifRevision: 0 }, { idempotencyKey: 'k' });
    expect(retry.deduplicated).toBe(true);
    expect(retry.result).toEqual(failed.result);
    expect(h.machine.get('a').kv).toBeNull();

    const grant = h.apply({ type: 'leaseGrant', ttlMs: 1000 }, { idempotencyKey: 'g' });
    const regrant = h.apply({ type: 'leaseGrant', ttlMs: 1000 }, { idempotencyKey: 'g' });
    expect(regrant.result).toEqual(grant.result);
    expect(grant.leasesGranted).toHaveLength(1);
    expect(regrant.leasesGranted).toEqual([]);
    expect(h.machine.leases()).toHaveLength(1);
  });

  it('forgets a key once the max proposer clock is past the window', () => {
    const h = new Harness({ dedupWindowMs: 1000 });
    h.apply({ type: 'put', key: 'a', value: '1' }, { idempotencyKey: 'k', proposedAtMs: 10_000 });
    h.apply({ type: 'put', key: 'x', value: '1' }, { proposedAtMs: 11_000 }); // exactly at the window edge
    expect(h.apply({ type: 'put', key: 'a', value: '1' }, { idempotencyKey: 'k', proposedAtMs: 11_000 }).deduplicated).toBe(true);
    h.apply({ type: 'put', key: 'x', value: '2' }, { proposedAtMs: 11_001 });
    // A lagging proposer cannot revive it: the max seen only grows.
    const late = h.apply({ type: 'put', key: 'a', value: '1' }, { idempotencyKey: 'k', proposedAtMs: 10_500 });
    expect(late.deduplicated).toBe(false);
    expect(h.machine.get('a').kv?.version).toBe(2);
  });

  it('survives snapshot and restore (the table is replicated state)', () => {
    const h = new Harness();
    const body = { type: 'put', key: 'a', value: '1', prevKv: true } as const;
    const first = h.apply(body, { idempotencyKey: 'k' });
    const snapshot = h.machine.snapshot();
    const restored = new KvStateMachine();
    restored.restore(snapshot);
    const retry = restored.apply(h.index + 1, encodeCommand({ proposedAtMs: h.nowMs, idempotencyKey: 'k', body }));
    expect(retry.deduplicated).toBe(true);
    expect(retry.result).toEqual(first.result);
    expect(restored.get('a').kv?.version).toBe(1);
  });
});

describe('DedupTable', () => {
  const result = (revision: number) => ({ revision });

  it('prunes expired entries from the oldest as the clock advances', () => {
    const table = new DedupTable(100, 1000);
    table.observe(1000);
    table.record('a', 1000, result(1));
    table.observe(1050);
    table.record('b', 1050, result(2));
    table.observe(1100);
    expect(table.size).toBe(2);
    table.observe(1101);
    expect(table.size).toBe(1);
    expect(table.lookup('a')).toBeUndefined();
    expect(table.lookup('b')).toEqual(result(2));
    table.observe(5000);
    expect(table.size).toBe(0);
  });

  it('ignores an expired entry stuck behind a younger one, and re-records a key at the back', () => {
    const table = new DedupTable(100, 1000);
    table.observe(1000);
    table.record('young', 1000, result(1));
    table.record('old', 850, result(2)); // a lagging proposer: already outside the window
    expect(table.lookup('old')).toBeUndefined();
    expect(table.size).toBe(2);
    table.record('old', 1000, result(3));
    expect(table.lookup('old')).toEqual(result(3));
    expect(table.exportState().entries.map((e) => e.key)).toEqual(['young', 'old']);
  });

  it('is bounded in size, evicting the oldest first', () => {
    const table = new DedupTable(1_000_000, 3);
    for (const key of ['a', 'b', 'c', 'd', 'e']) table.record(key, 1, result(1));
    expect(table.exportState().entries.map((e) => e.key)).toEqual(['c', 'd', 'e']);
  });
});
