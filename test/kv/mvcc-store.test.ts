// MvccStore's two indexes (a hash map for point lookups, a B+ tree for ranges, one cell per key,
// a memo of the last key looked up) against a plain sorted-array model: any mix of puts,
// deletes, gets and ranges, and loads from sorted input (the bulk build) or from any order.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type LeaseAttachments, MvccStore } from '../../src/kv/mvcc-store.ts';
import type { KeyValue } from '../../src/kv/types.ts';
import { allSlices } from '../../src/common/slices.ts';

const noLeases: LeaseAttachments = { attach: () => {}, detach: () => {} };

type Op =
  | { readonly kind: 'put'; readonly key: string; readonly value: string }
  | { readonly kind: 'delete'; readonly key: string }
  | { readonly kind: 'get'; readonly key: string }
  | { readonly kind: 'range'; readonly prefix: string; readonly limit: number }
  | { readonly kind: 'reload'; readonly shuffle: number };

const keyArbitrary = fc.constantFrom('a', 'ab', 'abc', 'b', 'ba', 'c', 'x/1', 'x/2', 'x/10', '\uFFFFsys');
const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('put' as const), key: keyArbitrary, value: fc.string({ maxLength: 3 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), key: keyArbitrary }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('get' as const), key: keyArbitrary }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('range' as const), prefix: fc.constantFrom('', 'a', 'ab', 'x/', 'z'), limit: fc.nat(3) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('reload' as const), shuffle: fc.nat() }) },
);

/** A deterministic reordering of `items` (identity when `seed` is 0). */
function reorder<T>(items: readonly T[], seed: number): T[] {
  const copy = [...items];
  let state = seed;
  for (let i = copy.length - 1; i > 0 && seed !== 0; i--) {
    state = (state * 1103515245 + 12345) >>> 0;
    const j = state % (i + 1);
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

describe('MvccStore indexes', () => {
  it('agree with a sorted model through puts, deletes, ranges and reloads in any order', () => {
    fc.assert(
      fc.property(fc.array(opArbitrary, { maxLength: 60 }), (ops) => {
        let store = new MvccStore(noLeases);
        const model = new Map<string, KeyValue>();
        const sortedModel = (): KeyValue[] => [...model.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
        for (const op of ops) {
          switch (op.kind) {
            case 'put': {
              const write = store.beginWrite();
              const prev = write.put(op.key, op.value);
              expect(prev).toEqual(model.get(op.key));
              model.set(op.key, { key: op.key, value: op.value, createRevision: prev?.createRevision ?? write.revision, modRevision: write.revision, version: (prev?.version ?? 0) + 1 });
              write.commit();
              break;
            }
            case 'delete': {
              const write = store.beginWrite();
              expect(write.delete(op.key)).toEqual(model.get(op.key));
              model.delete(op.key);
              write.commit();
              break;
            }
            case 'get':
              expect(store.get(op.key)).toEqual(model.get(op.key));
              break;
            case 'range': {
              const matching = sortedModel().filter((kv) => kv.key.startsWith(op.prefix));
              const expected = op.limit > 0 && matching.length > op.limit ? { items: matching.slice(0, op.limit), more: true } : { items: matching, more: false };
              expect(store.range(op.prefix, op.limit)).toEqual(expected);
              break;
            }
            case 'reload': {
              const reloaded = new MvccStore(noLeases);
              allSlices(reloaded.loadInSlices(store.revision, reorder([...store.all()], op.shuffle), 3)); // 3 keys per slice: the slicing too
              store = reloaded;
              break;
            }
          }
          expect(store.size).toBe(model.size);
        }
        expect([...store.all()]).toEqual(sortedModel());
      }),
      { numRuns: 300 },
    );
  });

  it('refuses a load with a key twice, sorted or not', () => {
    const kv = (key: string): KeyValue => ({ key, value: '', createRevision: 1, modRevision: 1, version: 1 });
    expect(() => allSlices(new MvccStore(noLeases).loadInSlices(1, [kv('a'), kv('a')], 1))).toThrow(/inconsistent/);
    expect(() => allSlices(new MvccStore(noLeases).loadInSlices(1, [kv('b'), kv('a'), kv('b')], 2))).toThrow(/inconsistent/);
  });
});
