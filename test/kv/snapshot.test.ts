// Snapshots: a restored machine is indistinguishable from the original; the format is
// versioned, and an unreadable snapshot throws a clear error and changes nothing.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConcordError } from '../../src/common/errors.ts';
import { KvStateMachine, SNAPSHOT_FORMAT_VERSION } from '../../src/kv/index.ts';
import { Harness, digest } from './harness.ts';

function populated(): Harness {
  const h = new Harness({ historyMaxEvents: 5, dedupWindowMs: 60_000, maxValueBytes: 4096 });
  const lease = h.grant(700, 'L');
  h.grant(900);
  h.put('a', '1', { lease });
  h.put('b', '2');
  h.put('c', '3', { lease });
  h.apply({ type: 'put', key: 'a', value: '4', lease }, { idempotencyKey: 'once' });
  h.run({ type: 'delete', key: 'b' });
  h.run({ type: 'compact', revision: 2 });
  return h;
}

describe('snapshot and restore', () => {
  it('restores keys, leases, revision, history, compaction, dedup, config and applied index', () => {
    const h = populated();
    const restored = new KvStateMachine();
    restored.restore(h.machine.snapshot());
    expect(restored.appliedIndex).toBe(h.machine.appliedIndex);
    expect(restored.revision).toBe(5);
    expect(restored.compactRevision).toBe(h.machine.compactRevision);
    expect(restored.config).toEqual({ maxValueBytes: 4096, historyMaxEvents: 5, dedupWindowMs: 60_000, dedupMaxEntries: 100_000 });
    expect(restored.range('')).toEqual(h.machine.range(''));
    expect(restored.leases()).toEqual(h.machine.leases());
    expect(restored.lease('L')).toEqual({ id: 'L', ttlMs: 700, keys: ['a', 'c'] });
    expect(restored.eventsSince(3, { prefix: '' }, { prevValue: true })).toEqual(h.machine.eventsSince(3, { prefix: '' }, { prevValue: true }));
    expect(digest(restored.snapshot())).toBe(digest(h.machine.snapshot()));
  });

  it('keeps lease allocation, key detachment and revocation in step after restore', () => {
    const h = populated();
    const restored = new KvStateMachine();
    restored.restore(h.machine.snapshot());
    const twin = new Harness(restored);
    for (const harness of [h, twin]) {
      expect(harness.grant()).toBe('2');
      harness.put('c', 'detached');
      expect(harness.run({ type: 'leaseRevoke', id: 'L' })).toEqual({ revision: 7, deleted: 1 });
    }
    expect(digest(restored.snapshot())).toBe(digest(h.machine.snapshot()));
  });

  it('keeps listeners across restore and tells restore listeners', () => {
    const h = new Harness();
    const seen: number[] = [];
    let restores = 0;
    h.machine.onEvents((batch) => seen.push(batch.revision));
    h.machine.onRestore(() => restores++);
    h.machine.restore(populated().machine.snapshot());
    expect(restores).toBe(1);
    const after = new Harness(h.machine);
    after.put('z', '1');
    expect(seen).toEqual([6]);
  });

  it('refuses an unknown format version with a clear error, leaving the machine as it was', () => {
    const h = populated();
    const before = digest(h.machine.snapshot());
    const snapshot = h.machine.snapshot();
    snapshot[4] = SNAPSHOT_FORMAT_VERSION + 1;
    expect(() => h.machine.restore(snapshot)).toThrow(new RegExp(`unknown format version ${SNAPSHOT_FORMAT_VERSION + 1}`));
    expect(() => h.machine.restore(snapshot)).toThrow(ConcordError);
    expect(() => h.machine.restore(new Uint8Array([1, 2, 3]))).toThrow(/bad magic/);
    const truncated = h.machine.snapshot().subarray(0, 40);
    expect(() => h.machine.restore(truncated)).toThrow(expect.objectContaining({ code: 'storage_failure' }) as Error);
    expect(digest(h.machine.snapshot())).toBe(before);
  });

  it('refuses every truncation of a snapshot, and survives garbled bytes, whole or in slices, leaving the machine as it was', () => {
    const h = populated();
    const snapshot = h.machine.snapshot();
    const target = new Harness();
    target.put('x', '1');
    const before = digest(target.machine.snapshot());
    const restoreInSlices = (data: Uint8Array, perSlice: number): void => {
      const slices = target.machine.restoreInSlices(data, perSlice);
      while (slices.next().done !== true);
    };
    fc.assert(
      fc.property(fc.integer({ min: 0, max: snapshot.length - 1 }), fc.integer({ min: 1, max: 3 }), (end, perSlice) => {
        const truncated = snapshot.subarray(0, end);
        expect(() => target.machine.restore(truncated)).toThrow(expect.objectContaining({ code: 'storage_failure' }) as Error);
        expect(() => restoreInSlices(truncated, perSlice)).toThrow(expect.objectContaining({ code: 'storage_failure' }) as Error);
        expect(digest(target.machine.snapshot())).toBe(before);
      }),
      { numRuns: 300 },
    );
    // A garbled byte may still decode (a letter of a value changed); if it does not, the error is
    // the clear one, never another exception, and the machine is as it was.
    fc.assert(
      fc.property(fc.integer({ min: 5, max: snapshot.length - 1 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 1, max: 3 }), (at, byte, perSlice) => {
        const garbled = snapshot.slice();
        garbled[at] = byte;
        const fresh = new Harness();
        fresh.put('x', '1');
        try {
          const slices = fresh.machine.restoreInSlices(garbled, perSlice);
          while (slices.next().done !== true);
        } catch (error) {
          expect(error).toBeInstanceOf(ConcordError);
          expect((error as ConcordError).code).toBe('storage_failure');
          expect(digest(fresh.machine.snapshot())).toBe(before);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('refuses a snapshot whose parts disagree, leaving the machine as it was', () => {
    const h = new Harness();
    h.put('a', '1');
    const before = digest(h.machine.snapshot());
    const leased = populated().machine.snapshot();
    // Same shape, but a key names a lease the table lacks: find the lease list and blank it.
    const text = new TextDecoder('latin1').decode(leased);
    const at = text.indexOf('L', text.indexOf('leases'));
    expect(at).toBeGreaterThan(0);
    const broken = leased.slice();
    broken[at] = 'M'.charCodeAt(0);
    expect(() => h.machine.restore(broken)).toThrow(/inconsistent: .*unknown lease L/);
    expect(() => h.machine.restore(broken)).toThrow(expect.objectContaining({ code: 'storage_failure' }) as Error);
    expect(digest(h.machine.snapshot())).toBe(before);
  });

  it('an empty machine round-trips', () => {
    const machine = new KvStateMachine();
    const restored = new KvStateMachine({ historyMaxEvents: 1 });
    restored.restore(machine.snapshot());
    expect(restored.snapshot()).toEqual(machine.snapshot());
  });
});
