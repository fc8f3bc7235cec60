// The watch feed: events per change, eventsSince by key or prefix, prev on request, bounded
// history dropping whole revisions, explicit compaction, listeners and resync state.
import { describe, expect, it } from 'vitest';
import type { EventsSinceResult, WatchBatch } from '../../src/kv/index.ts';
import { Harness } from './harness.ts';

function eventsOf(result: EventsSinceResult): unknown[] {
  if (result.compacted) throw new Error(`compacted at ${result.compactRevision}`);
  return result.events.map((e) => [e.type, e.key, e.modRevision]);
}

describe('events', () => {
  it('records puts and deletes with the contract fields, prev only when asked', () => {
    const h = new Harness();
    const lease = h.grant();
    h.put('a', '1', { lease });
    h.put('a', '2');
    h.run({ type: 'delete', key: 'a' });
    const withPrev = h.machine.eventsSince(1, { key: 'a' }, { prevValue: true });
    expect(withPrev).toEqual({
      compacted: false,
      revision: 3,
      events: [
        { type: 'put', key: 'a', value: '1', createRevision: 1, modRevision: 1, version: 1, lease },
        {
          type: 'put',
          key: 'a',
          value: '2',
          createRevision: 1,
          modRevision: 2,
          version: 2,
          prev: { key: 'a', value: '1', createRevision: 1, modRevision: 1, version: 1, lease },
        },
        {
          type: 'delete',
          key: 'a',
          createRevision: 0,
          modRevision: 3,
          version: 0,
          prev: { key: 'a', value: '2', createRevision: 1, modRevision: 2, version: 2 },
        },
      ],
    });
    const plain = h.machine.eventsSince(1, { key: 'a' });
    expect(plain.compacted === false && plain.events.every((e) => e.prev === undefined)).toBe(true);
  });

  it('filters by key or prefix, from an inclusive revision', () => {
    const h = new Harness();
    for (const key of ['a/1', 'b', 'a/2', 'a', 'a/1']) h.put(key, 'v');
    expect(eventsOf(h.machine.eventsSince(1, { prefix: 'a/' }))).toEqual([
      ['put', 'a/1', 1],
      ['put', 'a/2', 3],
      ['put', 'a/1', 5],
    ]);
    expect(eventsOf(h.machine.eventsSince(3, { key: 'a/1' }))).toEqual([['put', 'a/1', 5]]);
    expect(eventsOf(h.machine.eventsSince(6, { prefix: '' }))).toEqual([]);
    expect(eventsOf(h.machine.eventsSince(1, { prefix: '' }))).toHaveLength(5);
  });
});

describe('retention', () => {
  it('bounds history by count, dropping whole revisions, and reports compacted', () => {
    const h = new Harness({ historyMaxEvents: 4 });
    h.put('a', '1'); // 1
    h.put('b', '1'); // 2
    h.run({ type: 'txn', compare: [], success: [{ put: { key: 'c', value: '1' } }, { put: { key: 'd', value: '1' } }], failure: [] }); // 3: two events
    expect(h.machine.compactRevision).toBe(0);
    h.put('e', '1'); // 4: five events retained would exceed 4 → revision 1 goes
    expect(h.machine.compactRevision).toBe(1);
    h.put('f', '1'); // 5 → revision 2 goes
    expect(h.machine.compactRevision).toBe(2);
    expect(h.machine.eventsSince(2, { prefix: '' })).toEqual({ compacted: true, compactRevision: 2 });
    expect(eventsOf(h.machine.eventsSince(3, { prefix: '' }))).toEqual([
      ['put', 'c', 3],
      ['put', 'd', 3],
      ['put', 'e', 4],
      ['put', 'f', 5],
    ]);
  });

  it('drops a revision larger than the whole bound at once', () => {
    const h = new Harness({ historyMaxEvents: 2 });
    for (const key of ['p/1', 'p/2', 'p/3']) h.put(key, 'v');
    h.run({ type: 'deletePrefix', prefix: 'p/' }); // 3 events at revision 4
    expect(h.machine.compactRevision).toBe(4);
    expect(eventsOf(h.machine.eventsSince(5, { prefix: '' }))).toEqual([]);
    h.put('q', 'v');
    expect(eventsOf(h.machine.eventsSince(5, { prefix: '' }))).toEqual([['put', 'q', 5]]);
  });

  it('compacts explicitly through a revision; a future revision is invalid', () => {
    const h = new Harness();
    for (const key of ['a', 'b', 'c', 'd']) h.put(key, 'v');
    expect(h.run({ type: 'compact', revision: 2 })).toEqual({ revision: 4, compactRevision: 2 });
    expect(h.machine.eventsSince(1, { prefix: '' })).toEqual({ compacted: true, compactRevision: 2 });
    expect(h.machine.eventsSince(2, { prefix: '' })).toEqual({ compacted: true, compactRevision: 2 });
    expect(eventsOf(h.machine.eventsSince(3, { prefix: '' }))).toEqual([
      ['put', 'c', 3],
      ['put', 'd', 4],
    ]);
    expect(h.run({ type: 'compact', revision: 1 })).toEqual({ revision: 4, compactRevision: 2 }); // never backwards
    expect(h.run({ type: 'compact', revision: 5 })).toHaveProperty('error.code', 'invalid_argument');
    expect(h.run({ type: 'compact', revision: 4 })).toEqual({ revision: 4, compactRevision: 4 });
    expect(eventsOf(h.machine.eventsSince(5, { prefix: '' }))).toEqual([]);
    expect(h.machine.revision).toBe(4); // compaction is not a write
  });

  it('keeps long runs bounded and answering', () => {
    const h = new Harness({ historyMaxEvents: 100 });
    for (let i = 0; i < 5000; i++) h.put(`k${i % 7}`, String(i));
    expect(h.machine.compactRevision).toBe(4900);
    expect(eventsOf(h.machine.eventsSince(4901, { key: 'k0' }))).toHaveLength(15); // i = 4900, 4907, …, 4998
  });
});

describe('listeners and resync', () => {
  it('calls listeners synchronously after each apply that changed something, with its events', () => {
    const h = new Harness();
    const batches: WatchBatch[] = [];
    const seen: number[] = [];
    const unsubscribe = h.machine.onEvents((batch) => {
      batches.push(batch);
      seen.push(h.machine.revision); // the state is complete when listeners run
    });
    h.put('a', '1');
    h.run({ type: 'delete', key: 'missing' });
    h.run({ type: 'txn', compare: [], success: [{ put: { key: 'b', value: '1' } }, { delete: { key: 'a' } }], failure: [] });
    expect(batches.map((b) => [b.revision, b.events.map((e) => `${e.type}:${e.key}`)])).toEqual([
      [1, ['put:a']],
      [2, ['put:b', 'delete:a']],
    ]);
    expect(seen).toEqual([1, 2]);
    unsubscribe();
    h.put('c', '1');
    expect(batches).toHaveLength(2);
  });

  it('gives the current state of a watched range for resync', () => {
    const h = new Harness();
    for (const key of ['a/2', 'a/1', 'b']) h.put(key, 'v');
    expect(h.machine.rangeState({ prefix: 'a/' })).toEqual({
      revision: 3,
      items: [expect.objectContaining({ key: 'a/1' }), expect.objectContaining({ key: 'a/2' })],
    });
    expect(h.machine.rangeState({ key: 'b' }).items).toHaveLength(1);
    expect(h.machine.rangeState({ key: 'zz' })).toEqual({ revision: 3, items: [] });
  });
});
