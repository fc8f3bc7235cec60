// The MVCC key space through the state machine: revisions, versions, ifRevision, deletes,
// prefix deletes and ranges, as the contract defines them.
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { Harness } from './harness.ts';

const packr = new Packr({ useRecords: false });

describe('put and get', () => {
  it('tracks createRevision, modRevision and version; each put bumps the revision once', () => {
    const h = new Harness();
    expect(h.machine.revision).toBe(0);
    expect(h.put('a', '1')).toEqual({ revision: 1 });
    expect(h.put('b', '1')).toEqual({ revision: 2 });
    expect(h.put('a', '2')).toEqual({ revision: 3 });
    expect(h.machine.get('a')).toEqual({ revision: 3, kv: { key: 'a', value: '2', createRevision: 1, modRevision: 3, version: 2 } });
    expect(h.machine.get('missing')).toEqual({ revision: 3, kv: null });
  });

  it('returns prev only when asked and when the key existed', () => {
    const h = new Harness();
    expect(h.put('a', '1', { prevKv: true })).toEqual({ revision: 1 });
    expect(h.put('a', '2', { prevKv: true })).toEqual({
      revision: 2,
      prev: { key: 'a', value: '1', createRevision: 1, modRevision: 1, version: 1 },
    });
    expect(h.put('a', '3')).toEqual({ revision: 3 });
  });

  it('restarts version and createRevision after a delete', () => {
    const h = new Harness();
    h.put('a', '1');
    h.put('a', '2');
    h.run({ type: 'delete', key: 'a' });
    h.put('a', '3');
    expect(h.machine.get('a').kv).toMatchObject({ createRevision: 4, modRevision: 4, version: 1 });
  });

  it('accepts an empty value', () => {
    const h = new Harness();
    h.put('a', '');
    expect(h.machine.get('a').kv?.value).toBe('');
  });
});

describe('ifRevision', () => {
  it('0 means only if absent', () => {
    const h = new Harness();
    expect(h.put('a', '1', { ifRevision: 0 })).toEqual({ revision: 1 });
    const failed = h.put('a', '2', { ifRevision: 0 });
    expect(failed).toEqual({
      error: expect.objectContaining({
        code: 'compare_failed',
        current: { key: 'a', value: '1', createRevision: 1, modRevision: 1, version: 1 },
      }) as unknown,
    });
    expect(h.machine.revision).toBe(1);
    expect(h.machine.get('a').kv?.value).toBe('1');
  });

  it('compares the modRevision and reports current (null when absent)', () => {
    const h = new Harness();
    h.put('a', '1');
    h.put('b', '1');
    expect(h.put('a', '2', { ifRevision: 2 })).toHaveProperty('error.code', 'compare_failed');
    expect(h.put('a', '2', { ifRevision: 1 })).toEqual({ revision: 3 });
    expect(h.put('nope', 'x', { ifRevision: 3 })).toEqual({
      error: expect.objectContaining({ code: 'compare_failed', current: null }) as unknown,
    });
    expect(h.run({ type: 'delete', key: 'a', ifRevision: 1 })).toHaveProperty('error.current.modRevision', 3);
    expect(h.run({ type: 'delete', key: 'a', ifRevision: 3 })).toEqual({ revision: 4, deleted: 1 });
    expect(h.run({ type: 'delete', key: 'a', ifRevision: 0 })).toEqual({ revision: 4, deleted: 0 });
    expect(h.run({ type: 'delete', key: 'a', ifRevision: 4 })).toHaveProperty('error.code', 'compare_failed');
  });
});

describe('delete', () => {
  it('deleting a missing key does not bump the revision', () => {
    const h = new Harness();
    h.put('a', '1');
    expect(h.run({ type: 'delete', key: 'zzz' })).toEqual({ revision: 1, deleted: 0 });
    expect(h.run({ type: 'delete', key: 'a' })).toEqual({ revision: 2, deleted: 1 });
    expect(h.run({ type: 'delete', key: 'a' })).toEqual({ revision: 2, deleted: 0 });
    expect(h.machine.revision).toBe(2);
  });

  it('deletes a prefix at one revision, and nothing else', () => {
    const h = new Harness();
    for (const key of ['a/1', 'a/2', 'a/3', 'a', 'ab', 'b/1']) h.put(key, 'v');
    expect(h.run({ type: 'deletePrefix', prefix: 'a/' })).toEqual({ revision: 7, deleted: 3 });
    expect(h.machine.range('').items.map((kv) => kv.key)).toEqual(['a', 'ab', 'b/1']);
    expect(h.run({ type: 'deletePrefix', prefix: 'zz' })).toEqual({ revision: 7, deleted: 0 });
    const events = h.machine.eventsSince(7, { prefix: '' });
    expect(events.compacted === false && events.events.map((e) => [e.type, e.key, e.modRevision])).toEqual([
      ['delete', 'a/1', 7],
      ['delete', 'a/2', 7],
      ['delete', 'a/3', 7],
    ]);
  });
});

describe('range', () => {
  const keys = ['b', 'a/2', 'a/10', 'a/1', 'c', 'a'];

  it('lists a prefix sorted by key, with limit and more', () => {
    const h = new Harness();
    for (const key of keys) h.put(key, key);
    const names = (prefix: string, limit?: number): unknown => {
      const result = h.machine.range(prefix, limit);
      return [result.items.map((kv) => kv.key), result.more, result.revision];
    };
    expect(names('a/')).toEqual([['a/1', 'a/10', 'a/2'], false, 6]);
    expect(names('a/', 2)).toEqual([['a/1', 'a/10'], true, 6]);
    expect(names('a/', 3)).toEqual([['a/1', 'a/10', 'a/2'], false, 6]);
    expect(names('')).toEqual([['a', 'a/1', 'a/10', 'a/2', 'b', 'c'], false, 6]);
    expect(names('', 1)).toEqual([['a'], true, 6]);
    expect(names('zz')).toEqual([[], false, 6]);
  });

  it('orders by UTF-16 code units, the same on every replica', () => {
    const h = new Harness();
    for (const key of ['é', 'z', 'Z', '\uD83D\uDE00', '0']) h.put(key, 'v');
    expect(h.machine.range('').items.map((kv) => kv.key)).toEqual(['0', 'Z', 'z', 'é', '\uD83D\uDE00']);
  });
});

describe('limits at apply', () => {
  it('rejects an oversized value with payload_too_large and changes nothing', () => {
    const h = new Harness({ maxValueBytes: 4 });
    // Bypasses encodeCommand (which refuses it at the proposer): the state machine must refuse it too.
    const entry = (value: string): Uint8Array => packr.pack({ proposedAtMs: 1, body: { type: 'put', key: 'a', value } });
    expect(h.machine.apply(1, entry('12345')).result).toHaveProperty('error.code', 'payload_too_large');
    expect(h.machine.revision).toBe(0);
    expect(h.machine.apply(2, entry('1234')).result).toEqual({ revision: 1 });
  });

  it('answers a non-command entry with invalid_argument', () => {
    const h = new Harness();
    const outcome = h.machine.apply(1, packr.pack('x'));
    expect(outcome.result).toHaveProperty('error.code', 'invalid_argument');
    expect(outcome.commandType).toBeNull();
    expect(h.machine.appliedIndex).toBe(1);
  });

  it('asserts that indexes move forward', () => {
    const h = new Harness();
    h.put('a', '1');
    expect(() => h.machine.apply(1, new Uint8Array())).toThrow(/apply index/);
    expect(h.machine.appliedIndex).toBe(1);
  });
});
