/**
 * The wire format between Concord peers, and a streaming decoder for it.
 *
 * A frame is `[u32 length, big-endian][u8 version][u8 kind][msgpack payload]`, where `length`
 * counts every byte after the length field (version + kind + payload). Kinds:
 *   - 1, handshake: `{ clusterId, nodeId, clientUrl? }`, the first frame each side sends on a
 *     connection (`clientUrl` was added later; peers without it omit it, and older peers ignore it);
 *   - 2, messages: an array of Raft messages, a whole batch of one flush.
 * msgpackr runs with `useRecords: false`, so every frame decodes on its own, with no shared
 * structure state between frames or connections.
 *
 * Limits: a frame longer than `maxFrameBytes` (default {@link DEFAULT_MAX_FRAME_BYTES}) is refused
 * by the decoder as soon as its length field is read, before any of it is buffered; the encoder
 * splits batches so no frame exceeds it, and reports single messages that cannot fit. Payloads
 * are validated by message-schema.ts; any violation is a {@link DecodeResult} error after which
 * the decoder refuses all further input (the caller closes the connection).
 */
import { Packr } from 'msgpackr';
import type { Message } from '../raft/messages.ts';
import { assert } from '../common/assert.ts';
import { type Handshake, parseHandshake, parseMessageBatch } from './message-schema.ts';

/** The only version this build speaks; a peer on another version is refused, not guessed at. */
export const FRAME_VERSION = 1;
/** Bytes before the payload: length (4), version (1), kind (1). */
export const FRAME_HEADER_BYTES = 6;
/** 64 MiB: room for a snapshot chunk or a large append, far below what would hurt the heap. */
export const DEFAULT_MAX_FRAME_BYTES = 64 * 1024 * 1024;
/** The u32 length field's ceiling. */
const MAX_LENGTH_FIELD = 0xffff_ffff;

const KIND_HANDSHAKE = 1;
const KIND_MESSAGES = 2;

export type Frame =
  | { readonly kind: 'handshake'; readonly handshake: Handshake }
  | { readonly kind: 'messages'; readonly messages: readonly Message[] };

/** Frames decoded from a chunk, and the error that stopped decoding, if any. */
export interface DecodeResult {
  readonly frames: readonly Frame[];
  readonly error: string | null;
}

// Decoded byte fields (entry data, snapshot chunks) outlive the frame: the log keeps entries
// until a snapshot covers them, up to 100,000 of them. They must not alias the socket's chunk,
// which may hold other frames. A payload up to COPY_WHOLE_MAX_BYTES is copied once, exactly, and
// its fields alias that copy (`packr`): its entries all live in the log together anyway, and
// a copy per field cost each entry an ArrayBuffer of its own, its backing store and (msgpackr's
// cache) a DataView (heap snapshots: 15.3 objects retained per put on a follower, 11.9 since;
// docs/performance.md). A larger payload (a snapshot chunk with little else) copies each field
// (`copyingPackr`), so nothing retained keeps up to 64 MiB of frame alive.
const packr = new Packr({ useRecords: false, mapsAsObjects: true });
const copyingPackr = new Packr({ useRecords: false, copyBuffers: true, mapsAsObjects: true });
const COPY_WHOLE_MAX_BYTES = 1024 * 1024;

function frame(kind: number, payload: Uint8Array): Buffer {
  const buffer = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  buffer.writeUInt32BE(payload.length + 2, 0);
  buffer.writeUInt8(FRAME_VERSION, 4);
  buffer.writeUInt8(kind, 5);
  buffer.set(payload, FRAME_HEADER_BYTES);
  return buffer;
}

/** Encodes the handshake frame that opens a connection. */
export function encodeHandshakeFrame(handshake: Handshake): Buffer {
  const payload = packr.pack({
    clusterId: handshake.clusterId,
    nodeId: handshake.nodeId,
    ...(handshake.clientUrl === undefined ? {} : { clientUrl: handshake.clientUrl }),
  });
  return frame(KIND_HANDSHAKE, payload);
}

/** Encodes one batch as a single frame, whatever its size (see {@link encodeMessageFrames}). */
export function encodeMessageFrame(messages: readonly Message[]): Buffer {
  return frame(KIND_MESSAGES, packr.pack(messages));
}

/** The frames of one flush, and the messages that could not fit any frame. */
export interface EncodedBatch {
  readonly frames: Buffer[];
  readonly oversized: Message[];
}

/**
 * Encodes a batch into as few frames as fit `maxFrameBytes`: usually one. A batch too large is
 * split in halves (rare, so the re-encoding cost does not matter); a single message that alone
 * exceeds the limit is returned in `oversized`, for the caller to drop and count.
 */
export function encodeMessageFrames(
  messages: readonly Message[],
  maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES,
): EncodedBatch {
  const result: EncodedBatch = { frames: [], oversized: [] };
  const encode = (slice: readonly Message[]): void => {
    if (slice.length === 0) return;
    const encoded = encodeMessageFrame(slice);
    if (encoded.length <= maxFrameBytes) {
      result.frames.push(encoded);
    } else if (slice.length === 1) {
      result.oversized.push(...slice);
    } else {
      const middle = Math.ceil(slice.length / 2);
      encode(slice.slice(0, middle));
      encode(slice.slice(middle));
    }
  };
  encode(messages);
  return result;
}

/** The payload's msgpack, decoded so that no byte field aliases `payload` itself (see above). */
function decodePayload(payload: Buffer): unknown {
  if (payload.length > COPY_WHOLE_MAX_BYTES) return copyingPackr.unpack(payload);
  return packr.unpack(new Uint8Array(payload));
}

/** Decodes and validates one frame body (version, kind, payload), header already stripped. */
function decodeBody(body: Buffer): Frame | string {
  const version = body.readUInt8(0);
  if (version !== FRAME_VERSION) return `unsupported frame version ${version}`;
  const kind = body.readUInt8(1);
  let payload: unknown;
  try {
    payload = decodePayload(body.subarray(2));
  } catch (error) {
    return `malformed msgpack payload: ${error instanceof Error ? error.message : String(error)}`;
  }
  if (kind === KIND_HANDSHAKE) {
    const handshake = parseHandshake(payload);
    return handshake.ok ? { kind: 'handshake', handshake: handshake.value } : handshake.error;
  }
  if (kind === KIND_MESSAGES) {
    const batch = parseMessageBatch(payload);
    return batch.ok ? { kind: 'messages', messages: batch.value } : batch.error;
  }
  return `unknown frame kind ${kind}`;
}

/**
 * Reassembles frames from a byte stream: frames split across chunks, several frames in one
 * chunk, or both. Chunks are kept as a list and joined once per frame, so a large frame that
 * arrives in many small chunks costs one copy, not one per chunk.
 */
export class FrameDecoder {
  private readonly chunks: Buffer[] = [];
  private bufferedBytes = 0;
  /** Body length of the frame being assembled, once its length field has been read. */
  private pendingBodyBytes: number | null = null;
  private failure: string | null = null;

  constructor(private readonly maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES) {
    assert(maxFrameBytes > FRAME_HEADER_BYTES, 'maxFrameBytes must exceed the header');
    assert(maxFrameBytes <= MAX_LENGTH_FIELD, 'maxFrameBytes must fit the u32 length field');
  }

  /** Bytes received but not yet part of a complete frame. */
  get buffered(): number {
    return this.bufferedBytes;
  }

  /** Feeds a chunk; returns every frame it completes. After an error, refuses everything. */
  push(chunk: Uint8Array): DecodeResult {
    if (this.failure !== null) return { frames: [], error: this.failure };
    if (chunk.length > 0) {
      this.chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
      this.bufferedBytes += chunk.length;
    }
    const frames: Frame[] = [];
    for (;;) {
      const next = this.next();
      if (next === null) return { frames, error: null };
      if (typeof next === 'string') {
        this.fail(next);
        return { frames, error: next };
      }
      frames.push(next);
    }
  }

  private fail(error: string): void {
    this.failure = error;
    this.chunks.length = 0;
    this.bufferedBytes = 0;
  }

  /** The next complete frame, null when more bytes are needed, or an error. */
  private next(): Frame | string | null {
    if (this.pendingBodyBytes === null) {
      if (this.bufferedBytes < 4) return null;
      const length = this.take(4).readUInt32BE(0);
      if (length + 4 > this.maxFrameBytes) {
        return `frame of ${length + 4} bytes exceeds the ${this.maxFrameBytes} byte limit`;
      }
      if (length < 2) return `frame length ${length} is too short for version and kind`;
      this.pendingBodyBytes = length;
    }
    if (this.bufferedBytes < this.pendingBodyBytes) return null;
    const body = this.take(this.pendingBodyBytes);
    this.pendingBodyBytes = null;
    return decodeBody(body);
  }

  /** Removes exactly `byteCount` buffered bytes from the front, copying only across chunks. */
  private take(byteCount: number): Buffer {
    assert(byteCount <= this.bufferedBytes, 'take beyond the buffered bytes');
    const first = this.chunks[0];
    assert(first !== undefined || byteCount === 0, 'buffered bytes without chunks');
    if (first !== undefined && first.length >= byteCount) {
      const taken = first.subarray(0, byteCount);
      if (first.length === byteCount) this.chunks.shift();
      else this.chunks[0] = first.subarray(byteCount);
      this.bufferedBytes -= byteCount;
      return taken;
    }
    const out = Buffer.allocUnsafe(byteCount);
    let written = 0;
    while (written < byteCount) {
      const chunk = this.chunks[0];
      assert(chunk !== undefined, 'ran out of chunks while taking');
      const wanted = Math.min(chunk.length, byteCount - written);
      chunk.copy(out, written, 0, wanted);
      written += wanted;
      if (wanted === chunk.length) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(wanted);
    }
    this.bufferedBytes -= byteCount;
    return out;
  }
}
