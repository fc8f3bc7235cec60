// Command encoding and validation: what decodes, what earns which error code, and that
// garbage never throws.
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { ConcordError } from '../../src/common/errors.ts';
import {
  DEFAULT_KV_LIMITS,
  type KvCommand,
  MAX_KEY_BYTES,
  decodeCommand,
  encodeCommand,
  isKvError,
  parseCommand,
  utf8ByteLength,
} from '../../src/kv/index.ts';

const packr = new Packr({ useRecords: false });
const raw = (value: unknown): Uint8Array => packr.pack(value);
const codeOf = (value: unknown): unknown => {
  const parsed = parseCommand(value, DEFAULT_KV_LIMITS);
  return isKvError(parsed) ? parsed.error.code : 'ok';
};
const envelope = (body: unknown): unknown => ({ proposedAtMs: 5, body });

describe('encodeCommand / decodeCommand', () => {
  it('round-trips every body type', () => {
    const commands: KvCommand[] = [
      { proposedAtMs: 1, idempotencyKey: 'k1', body: { type: 'put', key: 'a', value: 'v', lease: '1', ifRevision: 0, prevKv: true } },
      { proposedAtMs: 2, body: { type: 'delete', key: 'a', ifRevision: 3 } },
      { proposedAtMs: 3, body: { type: 'deletePrefix', prefix: 'a/' } },
      {
        proposedAtMs: 4,
        body: {
          type: 'txn',
          compare: [
            { key: 'a', target: 'value', op: '==', value: 'v' },
            { key: 'a', target: 'modRevision', op: '<', value: 9 },
          ],
          success: [{ put: { key: 'a', value: 'w', lease: 'x' } }, { get: { key: 'b' } }, { range: { prefix: '', limit: 2 } }],
          failure: [{ delete: { key: 'a' } }],
        },
      },
      { proposedAtMs: 5, body: { type: 'leaseGrant', ttlMs: 500, id: 'mine' } },
      { proposedAtMs: 6, body: { type: 'leaseRevoke', id: '1' } },
      { proposedAtMs: 7, body: { type: 'leaseExpire', id: '1' } },
      { proposedAtMs: 8, body: { type: 'compact', revision: 0 } },
    ];
    for (const command of commands) expect(decodeCommand(encodeCommand(command))).toEqual(command);
  });

  // The bytes decoded are a log entry's, kept until a snapshot covers them: decoding must not
  // hang anything on them (msgpackr caches a DataView on the array it decodes).
  it('adds no property to the bytes it decodes', () => {
    const data = encodeCommand({ proposedAtMs: 1, body: { type: 'put', key: 'a', value: 'v' } });
    const ownBefore = Reflect.ownKeys(data).length;
    expect(isKvError(decodeCommand(data))).toBe(false);
    expect(Reflect.ownKeys(data)).toHaveLength(ownBefore);
  });

  // msgpackr packs into one buffer shared by every Packr in the process; a log entry that is a
  // view of it keeps all of it alive (peer frames grow it to tens of KiB).
  it('encodes into bytes of their own, not a view of a shared buffer', () => {
    new Packr({ useRecords: false }).pack({ frame: new Uint8Array(100_000) });
    const data = encodeCommand({ proposedAtMs: 1, body: { type: 'put', key: 'a', value: 'v' } });
    expect(data.buffer.byteLength).toBe(data.byteLength);
  });

  it('gives invalid_argument for garbage bytes, never throwing', () => {
    for (const bytes of [[], [0xc1], [0xff, 0x00], [0x93, 1, 2], [0xd9]]) {
      const decoded = decodeCommand(new Uint8Array(bytes));
      expect(isKvError(decoded) && decoded.error.code).toBe('invalid_argument');
    }
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const decoded = decodeCommand(bytes);
        return isKvError(decoded) || typeof decoded.proposedAtMs === 'number';
      }),
      { numRuns: 2000 },
    );
  });

  it('rejects wrong shapes, unknown fields and unknown bodies', () => {
    expect(codeOf(envelope({ type: 'put', key: 'a', value: 'v' }))).toBe('ok');
    expect(codeOf(envelope({ type: 'put', key: 'a', value: 'v', extra: 1 }))).toBe('invalid_argument');
    expect(codeOf(envelope({ type: 'put', key: 'a', value: 7 }))).toBe('invalid_argument');
    expect(codeOf(envelope({ type: 'lock', name: 'x' }))).toBe('invalid_argument');
    expect(codeOf(envelope({ type: 'toString' }))).toBe('invalid_argument');
    expect(codeOf({ proposedAtMs: -1, body: { type: 'delete', key: 'a' } })).toBe('invalid_argument');
    expect(codeOf({ proposedAtMs: 1.5, body: { type: 'delete', key: 'a' } })).toBe('invalid_argument');
    expect(codeOf({ proposedAtMs: 1, idempotencyKey: '', body: { type: 'delete', key: 'a' } })).toBe('invalid_argument');
    expect(codeOf(envelope({ type: 'delete', key: 'a', ifRevision: -1 }))).toBe('invalid_argument');
    expect(codeOf(envelope(new Map([['type', 'put']])))).toBe('invalid_argument');
    expect(codeOf([1, 2])).toBe('invalid_argument');
    expect(decodeCommand(raw({ proposedAtMs: 1n, body: { type: 'delete', key: 'a' } }))).toHaveProperty('error.code', 'invalid_argument');
  });

  it('enforces key limits: non-empty, at most 1024 bytes (413 beyond)', () => {
    expect(codeOf(envelope({ type: 'put', key: '', value: 'v' }))).toBe('invalid_argument');
    expect(codeOf(envelope({ type: 'put', key: 'k'.repeat(MAX_KEY_BYTES), value: 'v' }))).toBe('ok');
    expect(codeOf(envelope({ type: 'put', key: 'k'.repeat(MAX_KEY_BYTES + 1), value: 'v' }))).toBe('payload_too_large');
    // 342 three-byte characters are 1026 bytes though only 342 UTF-16 units.
    expect(codeOf(envelope({ type: 'put', key: '€'.repeat(342), value: 'v' }))).toBe('payload_too_large');
    expect(codeOf(envelope({ type: 'deletePrefix', prefix: '' }))).toBe('invalid_argument');
  });

  it('enforces the configured value limit', () => {
    const limits = { maxValueBytes: 10 };
    const code = (value: string): unknown => {
      const parsed = parseCommand(envelope({ type: 'put', key: 'a', value }), limits);
      return isKvError(parsed) ? parsed.error.code : 'ok';
    };
    expect(code('x'.repeat(10))).toBe('ok');
    expect(code('x'.repeat(11))).toBe('payload_too_large');
    expect(code('é'.repeat(6))).toBe('payload_too_large');
    const txn = parseCommand(envelope({ type: 'txn', compare: [], success: [{ put: { key: 'a', value: 'x'.repeat(11) } }], failure: [] }), limits);
    expect(isKvError(txn) && txn.error.code).toBe('payload_too_large');
  });

  it('enforces txn limits: 128 ops in all, one write per key per branch, exactly one op kind', () => {
    const op = (i: number): unknown => ({ get: { key: `k${i}` } });
    const txn = (success: number, failure: number): unknown =>
      envelope({ type: 'txn', compare: [], success: Array.from({ length: success }, (_, i) => op(i)), failure: Array.from({ length: failure }, (_, i) => op(i)) });
    expect(codeOf(txn(64, 64))).toBe('ok');
    expect(codeOf(txn(64, 65))).toBe('invalid_argument');
    expect(codeOf(txn(129, 0))).toBe('invalid_argument');
    const twice = envelope({ type: 'txn', compare: [], success: [{ put: { key: 'a', value: '1' } }, { delete: { key: 'a' } }], failure: [] });
    expect(codeOf(twice)).toBe('invalid_argument');
    const twoKinds = envelope({ type: 'txn', compare: [], success: [{ get: { key: 'a' }, delete: { key: 'a' } }], failure: [] });
    expect(codeOf(twoKinds)).toBe('invalid_argument');
    const badTarget = envelope({ type: 'txn', compare: [{ key: 'a', target: 'size', op: '==', value: 1 }], success: [], failure: [] });
    expect(codeOf(badTarget)).toBe('invalid_argument');
    const badValue = envelope({ type: 'txn', compare: [{ key: 'a', target: 'version', op: '==', value: '1' }], success: [], failure: [] });
    expect(codeOf(badValue)).toBe('invalid_argument');
  });

  it('enforces lease limits: ttlMs from 500, ids 1..128 bytes', () => {
    expect(codeOf(envelope({ type: 'leaseGrant', ttlMs: 499 }))).toBe('invalid_argument');
    expect(codeOf(envelope({ type: 'leaseGrant', ttlMs: 500 }))).toBe('ok');
    expect(codeOf(envelope({ type: 'leaseGrant', ttlMs: 500.5 }))).toBe('invalid_argument');
    expect(codeOf(envelope({ type: 'leaseGrant', ttlMs: 2 ** 31 }))).toBe('invalid_argument');
    expect(codeOf(envelope({ type: 'leaseGrant', ttlMs: 500, id: '' }))).toBe('invalid_argument');
    expect(codeOf(envelope({ type: 'leaseRevoke', id: 'x'.repeat(129) }))).toBe('invalid_argument');
  });

  it('refuses strings that are not well-formed Unicode, which replicas might decode differently', () => {
    expect(codeOf(envelope({ type: 'put', key: 'a\uD800', value: 'v' }))).toBe('invalid_argument');
    expect(codeOf(envelope({ type: 'put', key: 'a', value: '\uDC00x' }))).toBe('invalid_argument');
    expect(codeOf(envelope({ type: 'put', key: 'a\uD83D\uDE00', value: 'v' }))).toBe('ok');
  });

  it('encodeCommand throws a ConcordError for a command apply would reject', () => {
    const bad = { proposedAtMs: 1, body: { type: 'put', key: '', value: 'v' } } as const;
    expect(() => encodeCommand(bad)).toThrow(ConcordError);
    expect(() => encodeCommand(bad)).toThrow(expect.objectContaining({ code: 'invalid_argument' }) as Error);
  });

  it('utf8ByteLength agrees with TextEncoder on well-formed strings', () => {
    const encoder = new TextEncoder();
    fc.assert(fc.property(fc.string({ unit: 'grapheme' }), (text) => utf8ByteLength(text) === encoder.encode(text).length), { numRuns: 300 });
    fc.assert(fc.property(fc.string({ unit: 'binary' }), (text) => utf8ByteLength(text) === encoder.encode(text).length));
  });
});
