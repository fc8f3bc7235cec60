// Registry input rules: names, ids, address, port, tags, meta, note and the TTL floor, enforced
// by the parser every replica runs (a proposer is refused before the log; a log entry that
// breaks them anyway is an error result, never a crash).
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { Harness } from '../kv/harness.ts';
import { KvStateMachine } from '../../src/kv/index.ts';
import {
  MAX_META_ENTRIES,
  MAX_META_VALUE_BYTES,
  MAX_NOTE_BYTES,
  MAX_TAGS,
  type ServiceRegisterCommand,
} from '../../src/registry/index.ts';

const base: ServiceRegisterCommand = { type: 'serviceRegister', service: 'web', id: 'a', address: 'h', port: 80, tags: [], meta: {}, ttlMs: 500 };

function refusal(body: object): string {
  try {
    new Harness().run(body as ServiceRegisterCommand);
  } catch (error) {
    return (error as Error).message;
  }
  return 'accepted';
}

describe('registration limits', () => {
  it('accepts the largest valid registration', () => {
    const h = new Harness();
    const meta = Object.fromEntries(Array.from({ length: MAX_META_ENTRIES }, (_, i) => [`k${i}`, 'v'.repeat(100)]));
    const tags = Array.from({ length: MAX_TAGS }, (_, i) => `t${i}`);
    const result = h.run({ ...base, service: 's'.repeat(64), id: `i:${'x'.repeat(126)}`, tags, meta, port: 65_535 });
    expect(result).toMatchObject({ revision: 1 });
  });

  it.each([
    ['an empty service name', { service: '' }, /body.service/],
    ['a service name with a slash', { service: 'a/b' }, /body.service/],
    ['a service name of 65 characters', { service: 's'.repeat(65) }, /body.service/],
    ['a service name starting with a dot', { service: '.web' }, /body.service/],
    ['an id with a space', { id: 'a b' }, /body.id/],
    ['an id of 129 characters', { id: 'i'.repeat(129) }, /body.id/],
    ['an empty address', { address: '' }, /body.address/],
    ['port 0', { port: 0 }, /body.port/],
    ['port 65536', { port: 65_536 }, /body.port/],
    ['a fractional port', { port: 80.5 }, /body.port/],
    ['too many tags', { tags: Array.from({ length: MAX_TAGS + 1 }, (_, i) => `t${i}`) }, /at most 32 tags/],
    ['a duplicate tag', { tags: ['x', 'x'] }, /duplicate tag/],
    ['an empty tag', { tags: [''] }, /body.tags\[0\]/],
    ['too many meta entries', { meta: Object.fromEntries(Array.from({ length: MAX_META_ENTRIES + 1 }, (_, i) => [`k${i}`, ''])) }, /at most 64 entries/],
    ['a meta key with a space', { meta: { 'a b': 'x' } }, /meta key/],
    ['a meta value too long', { meta: { k: 'v'.repeat(MAX_META_VALUE_BYTES + 1) } }, /body.meta.k/],
    ['a meta value that is not a string', { meta: { k: 1 } }, /expected a string/],
    ['a TTL below the 500 ms floor', { ttlMs: 499 }, /body.ttlMs/],
    ['both ttlMs and lease', { lease: '1' }, /exactly one of ttlMs and lease/],
    ['an unknown field', { weight: 3 }, /unknown field/],
  ])('refuses %s', (_what, change, message) => {
    expect(refusal({ ...base, ...change })).toMatch(message);
  });

  it('refuses neither ttlMs nor lease', () => {
    const { ttlMs: _ttlMs, ...withoutTtl } = base;
    expect(refusal(withoutTtl)).toMatch(/exactly one of ttlMs and lease/);
  });

  it('refuses an unknown status and a note that is too long', () => {
    const h = new Harness();
    h.run(base);
    expect(() => h.run({ type: 'serviceStatus', service: 'web', id: 'a', status: 'sick' as 'passing', note: '' })).toThrow(/body.status/);
    expect(() => h.run({ type: 'serviceStatus', service: 'web', id: 'a', status: 'warning', note: 'n'.repeat(MAX_NOTE_BYTES + 1) })).toThrow(/body.note/);
  });

  it('a malformed registration that reached the log is an error result on every replica, not a crash', () => {
    const packr = new Packr({ useRecords: false, mapsAsObjects: true });
    const machine = new KvStateMachine();
    const entry = packr.pack({ proposedAtMs: 1, body: { ...base, port: 'eighty' } });
    const outcome = machine.apply(1, entry);
    expect(outcome.result).toEqual({ error: expect.objectContaining({ code: 'invalid_argument' }) as unknown });
    expect(machine.revision).toBe(0);
  });
});
