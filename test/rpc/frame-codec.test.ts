/**
 * The frame codec: round-trips of every message type, frames split across and merged into
 * chunks, batching under the size limit, and refusal of oversized or malformed frames.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Message } from '../../src/raft/messages.ts';
import {
  FRAME_HEADER_BYTES,
  FRAME_VERSION,
  type Frame,
  FrameDecoder,
  encodeHandshakeFrame,
  encodeMessageFrame,
  encodeMessageFrames,
} from '../../src/rpc/frame-codec.ts';
import { ALL_SAMPLES, SAMPLE_MESSAGES, messageArb, normalize } from './message-fixtures.ts';

function decodeAll(bytes: Uint8Array, decoder = new FrameDecoder()): Frame[] {
  const { frames, error } = decoder.push(bytes);
  expect(error).toBeNull();
  return [...frames];
}

function messagesOf(frames: readonly Frame[]): Message[][] {
  return frames.map((frame) => {
    if (frame.kind !== 'messages') throw new Error(`expected a messages frame, got ${frame.kind}`);
    return [...frame.messages];
  });
}

function header(length: number, version = FRAME_VERSION, kind = 2): Buffer {
  const buffer = Buffer.alloc(FRAME_HEADER_BYTES);
  buffer.writeUInt32BE(length, 0);
  buffer.writeUInt8(version, 4);
  buffer.writeUInt8(kind, 5);
  return buffer;
}

/** Splits bytes at the given (unsorted, possibly repeated) cut points. */
function split(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const point of [...points, bytes.length]) {
    chunks.push(bytes.subarray(start, point));
    start = point;
  }
  return chunks;
}

describe('frame codec round-trips', () => {
  it('round-trips one batch holding every message type', () => {
    const frames = decodeAll(encodeMessageFrame(ALL_SAMPLES));
    expect(normalize(messagesOf(frames))).toEqual(normalize([ALL_SAMPLES]));
  });

  it('round-trips any generated batch', () => {
    fc.assert(
      fc.property(fc.array(messageArb(), { minLength: 1, maxLength: 20 }), (batch) => {
        const frames = decodeAll(encodeMessageFrame(batch));
        expect(normalize(messagesOf(frames))).toEqual(normalize([batch]));
      }),
    );
  });

  it('round-trips the handshake', () => {
    const frames = decodeAll(encodeHandshakeFrame({ clusterId: 'prod-1', nodeId: 'n2' }));
    expect(frames).toEqual([{ kind: 'handshake', handshake: { clusterId: 'prod-1', nodeId: 'n2' } }]);
    const withUrl = { clusterId: 'prod-1', nodeId: 'n2', clientUrl: 'http://10.0.0.2:7001' };
    expect(decodeAll(encodeHandshakeFrame(withUrl))).toEqual([{ kind: 'handshake', handshake: withUrl }]);
  });

  it('lays out [u32 length][version][kind][payload]', () => {
    const frame = encodeMessageFrame([SAMPLE_MESSAGES['timeout-now']]);
    expect(frame.readUInt32BE(0)).toBe(frame.length - 4);
    expect(frame[4]).toBe(FRAME_VERSION);
    expect(frame[5]).toBe(2);
  });
});

describe('streaming decoder', () => {
  it('decodes frames split across chunks and merged into chunks, in order', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(messageArb(), { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 6 }),
        fc.array(fc.nat(), { maxLength: 30 }),
        (batches, cuts) => {
          const stream = Buffer.concat(batches.map((batch) => encodeMessageFrame(batch)));
          const decoder = new FrameDecoder();
          const frames = split(stream, cuts).flatMap((chunk) => decodeAll(chunk, decoder));
          expect(normalize(messagesOf(frames))).toEqual(normalize(batches));
          expect(decoder.buffered).toBe(0);
        },
      ),
    );
  });

  it('decodes byte by byte', () => {
    const stream = Buffer.concat([encodeHandshakeFrame({ clusterId: 'c', nodeId: 'a' }), encodeMessageFrame(ALL_SAMPLES)]);
    const decoder = new FrameDecoder();
    const frames = [...stream].flatMap((byte) => decodeAll(Uint8Array.of(byte), decoder));
    expect(frames.map((frame) => frame.kind)).toEqual(['handshake', 'messages']);
  });

  it('refuses an oversized frame from its length field alone, before buffering it', () => {
    const decoder = new FrameDecoder(1024);
    const result = decoder.push(header(1024));
    expect(result.error).toMatch(/exceeds the 1024 byte limit/);
    expect(decoder.buffered).toBe(0);
    expect(new FrameDecoder().push(Buffer.from([0xff, 0xff, 0xff, 0xff])).error).toMatch(/exceeds/);
  });

  it('accepts a frame of exactly the limit', () => {
    const frame = encodeMessageFrame([{ ...SAMPLE_MESSAGES['timeout-now'] }]);
    expect(decodeAll(frame, new FrameDecoder(frame.length))).toHaveLength(1);
    expect(new FrameDecoder(frame.length - 1).push(frame).error).toMatch(/exceeds/);
  });

  it('reports frames completed before an error, then refuses everything', () => {
    const good = encodeMessageFrame([SAMPLE_MESSAGES.vote]);
    const decoder = new FrameDecoder();
    const result = decoder.push(Buffer.concat([good, header(2, 9)]));
    expect(result.frames).toHaveLength(1);
    expect(result.error).toMatch(/unsupported frame version 9/);
    expect(decoder.push(good)).toEqual({ frames: [], error: result.error });
  });

  it.each([
    ['a length too short for version and kind', header(1).subarray(0, 5), /too short/],
    ['an unknown kind', Buffer.concat([header(3, FRAME_VERSION, 7), Buffer.from([0x90])]), /unknown frame kind 7/],
    ['a truncated msgpack payload', Buffer.concat([header(3), Buffer.from([0x92])]), /malformed msgpack/],
    ['trailing bytes after the payload', Buffer.concat([header(4), Buffer.from([0x90, 0x01])]), /malformed msgpack/],
    ['a payload that is not an array', Buffer.concat([header(3), Buffer.from([0x2a])]), /batch: expected an array/],
    ['an invalid message', encodeMessageFrame([{ ...SAMPLE_MESSAGES.vote, term: -1 }]), /term/],
    ['an invalid handshake', Buffer.concat([header(3, FRAME_VERSION, 1), Buffer.from([0x80])]), /handshake/],
  ])('rejects %s', (_name, bytes, expected) => {
    const { frames, error } = new FrameDecoder().push(bytes);
    expect(frames).toEqual([]);
    expect(error).toMatch(expected);
  });
});

describe('batch encoding under the frame limit', () => {
  it('uses one frame for a batch that fits', () => {
    const { frames, oversized } = encodeMessageFrames(ALL_SAMPLES);
    expect(frames).toHaveLength(1);
    expect(oversized).toEqual([]);
  });

  it('splits a large batch into frames that each fit, losing nothing', () => {
    fc.assert(
      fc.property(fc.array(messageArb(), { minLength: 1, maxLength: 60 }), (batch) => {
        const limit = 2048;
        const { frames, oversized } = encodeMessageFrames(batch, limit);
        for (const frame of frames) expect(frame.length).toBeLessThanOrEqual(limit);
        const decoder = new FrameDecoder(limit);
        const decoded = messagesOf(frames.flatMap((frame) => decodeAll(frame, decoder))).flat();
        expect(decoded.length + oversized.length).toBe(batch.length);
      }),
    );
  });

  it('reports a single message too large for any frame', () => {
    const huge = { ...SAMPLE_MESSAGES.snapshot, data: new Uint8Array(5000) } as Message;
    const { frames, oversized } = encodeMessageFrames([SAMPLE_MESSAGES.vote, huge], 1024);
    expect(oversized).toEqual([huge]);
    expect(messagesOf(frames.flatMap((frame) => decodeAll(frame)))).toHaveLength(1);
  });
});

describe('decoded bytes and the memory they keep', () => {
  /** An append of `count` entries of `size` bytes each, every byte of entry i equal to i + 1. */
  function appendOf(count: number, size: number): Message {
    const entries = Array.from({ length: count }, (_, i) => ({
      term: 7, index: 10 + i, type: 'normal' as const, data: new Uint8Array(size).fill(i + 1),
    }));
    return { ...SAMPLE_MESSAGES.append, entries } as Message;
  }

  /** Decodes the append in `frame` from inside a larger chunk, then overwrites the whole chunk. */
  function decodeThenClobber(frame: Buffer): Uint8Array[] {
    const chunk = Buffer.concat([frame, encodeMessageFrame([SAMPLE_MESSAGES.vote])]);
    const [decoded] = messagesOf(decodeAll(chunk))[0]!;
    chunk.fill(0xee);
    if (decoded?.type !== 'append') throw new Error('expected an append');
    return decoded.entries.map((entry) => entry.data);
  }

  // The log keeps entries until a snapshot covers them: a view of the socket's chunk would keep
  // the chunk (and the frames beside it) alive, and see it change if the buffer were reused.
  it('entry data never aliases the received chunk, in a small frame or a large one', () => {
    for (const [count, size] of [[3, 100], [3, 600_000]] as const) {
      const data = decodeThenClobber(encodeMessageFrame([appendOf(count, size)]));
      data.forEach((bytes, i) => {
        expect(bytes.length).toBe(size);
        expect(bytes.every((byte) => byte === i + 1)).toBe(true);
      });
    }
  });

  it('a small frame\'s entries share one exact copy of its payload; a large frame\'s are copied apart', () => {
    const smallFrame = encodeMessageFrame([appendOf(4, 100)]);
    const small = decodeThenClobber(smallFrame);
    expect(new Set(small.map((bytes) => bytes.buffer)).size).toBe(1);
    expect(small[0]!.buffer.byteLength).toBe(smallFrame.length - FRAME_HEADER_BYTES);
    const large = decodeThenClobber(encodeMessageFrame([appendOf(3, 600_000)]));
    expect(new Set(large.map((bytes) => bytes.buffer)).size).toBe(3);
    for (const bytes of large) expect(bytes.buffer.byteLength).toBe(600_000);
  });
});
