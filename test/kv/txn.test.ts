// Transactions: compares on each target with each op, absent-key semantics, branch atomicity
// at one revision, reads inside a branch, and no revision bump without a change.
import { describe, expect, it } from 'vitest';
import type { TxnCommand, TxnCompare, TxnOp } from '../../src/kv/index.ts';
import { Harness } from './harness.ts';

const txn = (compare: TxnCompare[], success: TxnOp[] = [], failure: TxnOp[] = []): TxnCommand => ({ type: 'txn', compare, success, failure });

/** A machine with key `k` = "m" at createRevision 2, modRevision 3, version 2, on lease "L". */
function setup(): Harness {
  const h = new Harness();
  h.grant(1000, 'L');
  h.put('other', 'x'); // revision 1
  h.put('k', 'a', { lease: 'L' }); // revision 2
  h.put('k', 'm', { lease: 'L' }); // revision 3
  return h;
}

function succeeded(h: Harness, compare: TxnCompare): unknown {
  return h.run(txn([compare]))['succeeded'];
}

describe('txn compares', () => {
  const cases: [TxnCompare['target'], string | number, string | number, string | number][] = [
    // target, equal value, a smaller value, a larger value
    ['value', 'm', 'a', 'z'],
    ['version', 2, 1, 3],
    ['createRevision', 2, 1, 3],
    ['modRevision', 3, 2, 4],
    ['lease', 'L', 'A', 'Z'],
  ];
  for (const [target, equal, smaller, larger] of cases) {
    it(`compares ${target} with == != < >`, () => {
      const h = setup();
      const c = (op: TxnCompare['op'], value: string | number): TxnCompare => ({ key: 'k', target, op, value }) as TxnCompare;
      expect(succeeded(h, c('==', equal))).toBe(true);
      expect(succeeded(h, c('==', smaller))).toBe(false);
      expect(succeeded(h, c('!=', smaller))).toBe(true);
      expect(succeeded(h, c('!=', equal))).toBe(false);
      expect(succeeded(h, c('>', smaller))).toBe(true);
      expect(succeeded(h, c('>', equal))).toBe(false);
      expect(succeeded(h, c('<', larger))).toBe(true);
      expect(succeeded(h, c('<', equal))).toBe(false);
    });
  }

  it('treats an absent key as version/revisions 0 and lease "", and any value compare as false', () => {
    const h = setup();
    expect(succeeded(h, { key: 'none', target: 'version', op: '==', value: 0 })).toBe(true);
    expect(succeeded(h, { key: 'none', target: 'createRevision', op: '==', value: 0 })).toBe(true);
    expect(succeeded(h, { key: 'none', target: 'modRevision', op: '<', value: 1 })).toBe(true);
    expect(succeeded(h, { key: 'none', target: 'lease', op: '==', value: '' })).toBe(true);
    expect(succeeded(h, { key: 'other', target: 'lease', op: '==', value: '' })).toBe(true);
    expect(succeeded(h, { key: 'none', target: 'value', op: '==', value: '' })).toBe(false);
    expect(succeeded(h, { key: 'none', target: 'value', op: '!=', value: 'x' })).toBe(false);
  });

  it('needs every compare to hold; no compares means success', () => {
    const h = setup();
    const holds: TxnCompare = { key: 'k', target: 'value', op: '==', value: 'm' };
    const fails: TxnCompare = { key: 'k', target: 'version', op: '>', value: 5 };
    expect(succeeded(h, holds)).toBe(true);
    expect(h.run(txn([holds, fails]))['succeeded']).toBe(false);
    expect(h.run(txn([]))['succeeded']).toBe(true);
  });
});

describe('txn branches', () => {
  it('applies the whole branch at one revision and reports each op', () => {
    const h = setup();
    const result = h.run(
      txn(
        [{ key: 'k', target: 'value', op: '==', value: 'm' }],
        [{ put: { key: 'n', value: '1' } }, { delete: { key: 'other' } }, { delete: { key: 'ghost' } }, { get: { key: 'n' } }, { range: { prefix: '', limit: 1 } }],
        [{ put: { key: 'never', value: '1' } }],
      ),
    );
    const n = { key: 'n', value: '1', createRevision: 4, modRevision: 4, version: 1 };
    expect(result).toEqual({
      succeeded: true,
      revision: 4,
      results: [
        { put: { revision: 4 } },
        { delete: { deleted: 1 } },
        { delete: { deleted: 0 } },
        { get: { kv: n } }, // reads see the branch's earlier writes
        { range: { items: [expect.objectContaining({ key: 'k' })], more: true } },
      ],
    });
    expect(h.machine.get('never').kv).toBeNull();
    const events = h.machine.eventsSince(4, { prefix: '' });
    expect(events.compacted === false && events.events.map((e) => [e.type, e.key, e.modRevision])).toEqual([
      ['put', 'n', 4],
      ['delete', 'other', 4],
    ]);
  });

  it('runs the failure branch when a compare fails', () => {
    const h = setup();
    const result = h.run(txn([{ key: 'k', target: 'value', op: '==', value: 'no' }], [{ put: { key: 'a', value: '1' } }], [{ put: { key: 'b', value: '1' } }]));
    expect(result).toEqual({ succeeded: false, revision: 4, results: [{ put: { revision: 4 } }] });
    expect(h.machine.get('a').kv).toBeNull();
    expect(h.machine.get('b').kv?.modRevision).toBe(4);
  });

  it('does not bump the revision for reads only or deletes of missing keys', () => {
    const h = setup();
    expect(h.run(txn([], [{ get: { key: 'k' } }, { delete: { key: 'ghost' } }, { range: { prefix: 'k' } }]))).toMatchObject({ succeeded: true, revision: 3 });
    expect(h.run(txn([]))).toEqual({ succeeded: true, revision: 3, results: [] });
    expect(h.machine.revision).toBe(3);
  });

  it('applies nothing when a put names a missing lease (not_found)', () => {
    const h = setup();
    const result = h.run(txn([], [{ put: { key: 'a', value: '1' } }, { put: { key: 'b', value: '1', lease: 'nope' } }]));
    expect(result).toEqual({ error: expect.objectContaining({ code: 'not_found', lease: 'nope' }) as unknown });
    expect(h.machine.get('a').kv).toBeNull();
    expect(h.machine.revision).toBe(3);
  });

  it('attaches and detaches leases from txn puts', () => {
    const h = setup();
    h.run(txn([], [{ put: { key: 'k', value: 'plain' } }, { put: { key: 'z', value: '1', lease: 'L' } }]));
    expect(h.machine.lease('L')?.keys).toEqual(['z']);
  });
});
