/**
 * The wire validator: every valid message survives it unchanged, every kind of corruption is
 * rejected, and what comes out holds only the known fields.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Message } from '../../src/raft/messages.ts';
import {
  MAX_NODE_ID_LENGTH,
  MAX_READ_CONTEXT_LENGTH,
  MAX_CLIENT_URL_LENGTH,
  parseHandshake,
  parseMessage,
  parseMessageBatch,
} from '../../src/rpc/message-schema.ts';
import { ALL_SAMPLES, SAMPLE_MESSAGES, messageArb, normalize } from './message-fixtures.ts';

type Loose = Record<string, unknown>;

function mutate(message: object, change: (copy: Loose) => void): unknown {
  const copy = structuredClone(message) as Loose;
  change(copy);
  return copy;
}

function expectRejected(value: unknown): void {
  const result = parseMessage(value);
  const shown = JSON.stringify(normalize(value), (_key, field: unknown) =>
    typeof field === 'bigint' ? `${field}n` : field);
  expect(result.ok, shown).toBe(false);
}

/** Values of the wrong kind for a field currently holding `current`. */
function wrongValuesFor(current: unknown): unknown[] {
  const always = [null, undefined, {}, [1], new Map(), new Date(0)];
  if (typeof current === 'number') return [...always, -1, 1.5, Number.NaN, Infinity, 2 ** 53, 3n, '1', true];
  if (typeof current === 'boolean') return [...always, 0, 1, 'true'];
  if (typeof current === 'string') return [...always, 5, false, new Uint8Array([97])];
  if (current instanceof Uint8Array) return [...always.filter((value) => value !== undefined), [1, 2], 'ab', 3];
  return [...always.filter((value) => typeof value !== 'object' || value === null), 'x', 7];
}

describe('parseMessage', () => {
  it.each(ALL_SAMPLES.map((message) => [message.type, message] as const))(
    'accepts a valid %s message unchanged',
    (_type, message) => {
      const result = parseMessage(structuredClone(message));
      expect(result.ok).toBe(true);
      if (result.ok) expect(normalize(result.value)).toEqual(normalize(message));
    },
  );

  it('accepts every generated message and returns an equal copy', () => {
    fc.assert(
      fc.property(messageArb(), (message) => {
        const result = parseMessage(message);
        expect(result.ok).toBe(true);
        if (result.ok) {
          expect(normalize(result.value)).toEqual(normalize(message));
          expect(result.value).not.toBe(message);
        }
      }),
    );
  });

  it('strips unknown fields rather than passing them to the core', () => {
    const result = parseMessage({ ...SAMPLE_MESSAGES.heartbeat, injected: { deep: true } });
    expect(result.ok).toBe(true);
    if (result.ok) expect(result.value).not.toHaveProperty('injected');
  });

  it('rejects values that are not message objects', () => {
    for (const value of [null, undefined, 42, 'append', [], [SAMPLE_MESSAGES.vote], new Uint8Array(3), new Map()]) {
      expectRejected(value);
    }
  });

  it('rejects unknown or missing types', () => {
    expectRejected(mutate(SAMPLE_MESSAGES.vote, (copy) => (copy['type'] = 'install-virus')));
    expectRejected(mutate(SAMPLE_MESSAGES.vote, (copy) => delete copy['type']));
    expectRejected(mutate(SAMPLE_MESSAGES.vote, (copy) => (copy['type'] = 3)));
  });

  it('rejects every missing field of every message type', () => {
    for (const message of ALL_SAMPLES) {
      for (const key of Object.keys(message)) {
        expectRejected(mutate(message, (copy) => delete copy[key]));
      }
    }
  });

  it('rejects a wrongly typed value in every field of every message type', () => {
    for (const message of ALL_SAMPLES) {
      for (const [key, current] of Object.entries(message)) {
        if (key === 'type') continue;
        for (const wrong of wrongValuesFor(current)) {
          expectRejected({ ...message, [key]: wrong });
        }
      }
    }
  });

  it('rejects empty and overlong ids and overlong read contexts', () => {
    expectRejected({ ...SAMPLE_MESSAGES.vote, from: '' });
    expectRejected({ ...SAMPLE_MESSAGES.vote, to: 'x'.repeat(MAX_NODE_ID_LENGTH + 1) });
    expectRejected({ ...SAMPLE_MESSAGES.heartbeat, readContext: 'x'.repeat(MAX_READ_CONTEXT_LENGTH + 1) });
  });

  it('rejects ids that are not member ids, such as a configuration endpoint keyed __proto__', () => {
    // Found by the generated-message property: the key vanished into the prototype, so the
    // parsed configuration silently lost that member's endpoints.
    expectRejected({ ...SAMPLE_MESSAGES.vote, from: ' ' });
    expectRejected({ ...SAMPLE_MESSAGES.vote, to: '-n1' });
    const snapshot = SAMPLE_MESSAGES.snapshot;
    if (snapshot.type !== 'snapshot') throw new Error('fixture');
    const endpoints = JSON.parse('{"__proto__": {"peerAddress": "h:1", "clientUrl": ""}}') as Record<string, unknown>;
    expect(Object.keys(endpoints)).toEqual(['__proto__']); // an own key, as msgpackr decodes it
    expectRejected({ ...snapshot, meta: { ...snapshot.meta, config: { voters: ['n1'], learners: [], endpoints } } } as unknown as Message);
  });

  it('rejects malformed entries', () => {
    const append = SAMPLE_MESSAGES.append;
    if (append.type !== 'append') throw new Error('fixture');
    const entry = append.entries[1];
    const withEntry = (bad: unknown): unknown => ({ ...append, entries: [append.entries[0], bad] });
    expectRejected(withEntry(null));
    expectRejected(withEntry({ ...entry, type: 'weird' }));
    expectRejected(withEntry({ ...entry, data: [1, 2, 3] }));
    expectRejected(withEntry({ ...entry, data: 'abc' }));
    expectRejected(withEntry({ ...entry, term: -1 }));
    expectRejected(withEntry({ ...entry, index: undefined }));
    expectRejected({ ...append, entries: { 0: entry, length: 1 } });
    // A config entry the core could not decode is refused here, not thrown inside the core.
    expectRejected(withEntry({ ...entry, type: 'config', data: new Uint8Array([1, 2, 3]) }));
    expectRejected(withEntry({ ...entry, type: 'config', data: new TextEncoder().encode('{"config":{"voters":[1]}}') }));
  });

  it('rejects malformed snapshot metadata', () => {
    const snapshot = SAMPLE_MESSAGES.snapshot;
    if (snapshot.type !== 'snapshot') throw new Error('fixture');
    const config = snapshot.meta.config;
    const withMeta = (meta: unknown): unknown => ({ ...snapshot, meta });
    expectRejected(withMeta(null));
    expectRejected(withMeta({ ...snapshot.meta, index: '40' }));
    expectRejected(withMeta({ ...snapshot.meta, config: null }));
    expectRejected(withMeta({ ...snapshot.meta, config: { ...config, voters: 'a,b' } }));
    expectRejected(withMeta({ ...snapshot.meta, config: { ...config, learners: [1] } }));
    expectRejected(withMeta({ ...snapshot.meta, config: { voters: config.voters } }));
  });
});

describe('parseMessageBatch', () => {
  it('accepts an array of valid messages', () => {
    const result = parseMessageBatch(structuredClone(ALL_SAMPLES));
    expect(result.ok).toBe(true);
    if (result.ok) expect(result.value).toHaveLength(ALL_SAMPLES.length);
  });

  it('rejects a non-array, and a whole batch with one bad message', () => {
    expect(parseMessageBatch(SAMPLE_MESSAGES.vote).ok).toBe(false);
    expect(parseMessageBatch({ 0: SAMPLE_MESSAGES.vote }).ok).toBe(false);
    const result = parseMessageBatch([SAMPLE_MESSAGES.vote, { ...SAMPLE_MESSAGES.vote, term: -3 }]);
    expect(result).toEqual({ ok: false, error: expect.stringContaining('batch[1].term') });
  });

  it('names the item refused inside a message: an entry, a forwarded proposal, an answer', () => {
    const append = SAMPLE_MESSAGES.append;
    if (append.type !== 'append') throw new Error('fixture');
    const badEntry = { ...append, entries: [append.entries[0], { ...append.entries[0], index: -1 }] };
    expect(parseMessageBatch([SAMPLE_MESSAGES.vote, badEntry])).toEqual({
      ok: false,
      error: 'batch[1].entries[1].index: expected a non-negative safe integer',
    });
    const forward = SAMPLE_MESSAGES['forward-proposals'];
    if (forward.type !== 'forward-proposals') throw new Error('fixture');
    const badProposal = { ...forward, proposals: [forward.proposals[0], { id: 'x', data: new Uint8Array() }] };
    expect(parseMessageBatch([badProposal])).toEqual({ ok: false, error: 'batch[0].proposals[1].id: expected a non-negative safe integer' });
    const answers = { ...SAMPLE_MESSAGES['forward-proposals-response'], ids: [1, 2], indexes: [3, 'y'] };
    expect(parseMessageBatch([answers])).toEqual({ ok: false, error: 'batch[0].indexes[1]: expected a non-negative safe integer' });
  });
});

describe('parseHandshake', () => {
  it('accepts a cluster id and node id, and nothing less', () => {
    expect(parseHandshake({ clusterId: 'c1', nodeId: 'a', extra: 1 })).toEqual({
      ok: true,
      value: { clusterId: 'c1', nodeId: 'a' },
    });
    expect(parseHandshake({ clusterId: 'c1' }).ok).toBe(false);
    expect(parseHandshake({ clusterId: 1, nodeId: 'a' }).ok).toBe(false);
    expect(parseHandshake({ clusterId: 'c1', nodeId: '' }).ok).toBe(false);
    expect(parseHandshake(['c1', 'a']).ok).toBe(false);
  });

  it('carries an optional advertised client URL: an http(s) URL of bounded length', () => {
    expect(parseHandshake({ clusterId: 'c1', nodeId: 'a', clientUrl: 'http://127.0.0.1:7001' })).toEqual({
      ok: true,
      value: { clusterId: 'c1', nodeId: 'a', clientUrl: 'http://127.0.0.1:7001' },
    });
    expect(parseHandshake({ clusterId: 'c1', nodeId: 'a', clientUrl: null })).toEqual({
      ok: true,
      value: { clusterId: 'c1', nodeId: 'a' },
    });
    const long = `http://example.com/${'x'.repeat(MAX_CLIENT_URL_LENGTH)}`;
    for (const clientUrl of [7001, '', 'not a url', 'ftp://example.com', long, { href: 'http://a' }]) {
      expect(parseHandshake({ clusterId: 'c1', nodeId: 'a', clientUrl })).toEqual({
        ok: false,
        error: expect.stringContaining('handshake.clientUrl'),
      });
    }
  });
});
