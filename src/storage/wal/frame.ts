/**
 * The write-ahead log's framing: how records sit in a segment file, and how a segment is read
 * back, telling a torn last write (a crash mid-write: expected, repaired) from damage to
 * anything that was durable (refused).
 *
 * A frame is an 8-byte header — the payload's length and its CRC32, both little-endian u32 —
 * then the payload, then zeros up to the next multiple of 8. Segments are preallocated with
 * zeros, so the first header whose length is 0 ends the segment's records.
 *
 * A crash can tear only the last write, and every write is one frame. So where the records stop
 * short of zeros, the stop is a torn last write only if nothing after it is a whole frame (a
 * torn write leaves nothing behind itself); a whole frame further on means a durable record
 * was damaged — a flipped bit in a payload or a length, a zeroed header — and the segment is
 * refused. For the very last record, which nothing follows, etcd's rule decides: a failed
 * checksum is a torn write if the frame covers a 512-byte sector of the file holding only zeros
 * (the device never wrote that sector), damage otherwise. A last record damaged so that it
 * covers such a sector cannot be told from a torn write; that is the limit of this scheme. A
 * frame running past the end of the file is torn only where a write may extend the file: right
 * after a segment's base record (a record larger than a fresh segment's room).
 *
 * The search for a whole frame starts inside the stopped frame (its length may be the damaged
 * part), so a client's value that embeds a whole WAL frame, torn by a crash, can get a healthy
 * data dir refused: availability, never safety. Candidates must open like a record's payload
 * (a five-element msgpack array) before their checksum is computed, which keeps the search cheap.
 */
import { crc32 } from 'node:zlib';

export const FRAME_HEADER_BYTES = 8;
/** The first byte of every record's payload: a msgpack fixarray of 5 (wal-record.ts). */
const RECORD_PAYLOAD_HEAD = 0x95;
const FRAME_ALIGNMENT = 8;
const SECTOR_BYTES = 512;

/** Where the records of a segment end, and why. */
export type SegmentEnd =
  /** Zeros or the end of the file: every record written is here. */
  | { readonly kind: 'clean' }
  /** The last write was torn by a crash; it was never acknowledged and is dropped. */
  | { readonly kind: 'torn' }
  /** A durable record is damaged: its checksum fails and no part of it is unwritten. */
  | { readonly kind: 'corrupt' };

export interface ScannedSegment {
  /** Each record's payload, a view of the segment's bytes. */
  readonly payloads: Uint8Array[];
  /** Where the next frame goes: just past the last good frame. */
  readonly endOffset: number;
  readonly end: SegmentEnd;
  /** One past the last non-zero byte at or after endOffset (endOffset when there is none). */
  readonly garbageEnd: number;
}

export function alignedFrameBytes(payloadBytes: number): number {
  const bytes = FRAME_HEADER_BYTES + payloadBytes;
  return Math.ceil(bytes / FRAME_ALIGNMENT) * FRAME_ALIGNMENT;
}

/** Writes the frame of `payload` into `target` at `offset`; returns the offset just past it. */
export function writeFrame(target: Buffer, offset: number, payload: Uint8Array): number {
  const end = offset + alignedFrameBytes(payload.length);
  target.writeUInt32LE(payload.length, offset);
  target.writeUInt32LE(crc32(payload) >>> 0, offset + 4);
  target.set(payload, offset + FRAME_HEADER_BYTES);
  target.fill(0, offset + FRAME_HEADER_BYTES + payload.length, end);
  return end;
}

function hasZeroSector(bytes: Uint8Array, start: number, end: number): boolean {
  let sectorStart = start;
  while (sectorStart < end) {
    const sectorEnd = Math.min(end, (Math.floor(sectorStart / SECTOR_BYTES) + 1) * SECTOR_BYTES);
    let zero = true;
    for (let i = sectorStart; i < sectorEnd && zero; i++) zero = bytes[i] === 0;
    if (zero) return true;
    sectorStart = sectorEnd;
  }
  return false;
}

const ZERO_CHUNK = Buffer.alloc(64 * 1024);

/** One past the last non-zero byte of `bytes` at or after `from` (`from` when there is none). */
function nonZeroEnd(bytes: Buffer, from: number): number {
  let lastDirtyChunk = -1;
  // Chunk by chunk with a native compare: a segment is mostly preallocated zeros.
  for (let start = from; start < bytes.length; start += ZERO_CHUNK.length) {
    const chunk = bytes.subarray(start, Math.min(bytes.length, start + ZERO_CHUNK.length));
    if (!chunk.equals(ZERO_CHUNK.subarray(0, chunk.length))) lastDirtyChunk = start;
  }
  if (lastDirtyChunk < 0) return from;
  const chunkEnd = Math.min(bytes.length, lastDirtyChunk + ZERO_CHUNK.length);
  for (let i = chunkEnd - 1; i >= lastDirtyChunk; i--) if (bytes[i] !== 0) return i + 1;
  return from;
}

/** Whether a whole frame (a non-zero length that fits, and its checksum) starts anywhere at or after `from`. */
function hasWholeFrameFrom(view: Buffer, from: number): boolean {
  let offset = Math.ceil(from / FRAME_ALIGNMENT) * FRAME_ALIGNMENT;
  while (offset + FRAME_HEADER_BYTES <= view.length) {
    // Preallocated zeros are most of a segment: skip them a chunk at a time with a native compare.
    const chunkEnd = offset + ZERO_CHUNK.length;
    if (offset % ZERO_CHUNK.length === 0 && chunkEnd <= view.length && view.subarray(offset, chunkEnd).equals(ZERO_CHUNK)) {
      offset = chunkEnd;
      continue;
    }
    const length = view.readUInt32LE(offset);
    const payloadStart = offset + FRAME_HEADER_BYTES;
    if (length > 0 && payloadStart + length <= view.length && view[payloadStart] === RECORD_PAYLOAD_HEAD) {
      if (crc32(view.subarray(payloadStart, payloadStart + length)) >>> 0 === view.readUInt32LE(offset + 4)) return true;
    }
    offset += FRAME_ALIGNMENT;
  }
  return false;
}

/** Reads the frames of one segment file's bytes, stopping at the first that is not whole. */
export function scanSegment(bytes: Uint8Array): ScannedSegment {
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const payloads: Uint8Array[] = [];
  let offset = 0;
  /** Why the frames stopped short, when they did: the frame at `offset` failed its checksum or ran off the file. */
  let failure: 'checksum' | 'past-end' | null = null;
  while (offset + FRAME_HEADER_BYTES <= view.length) {
    const length = view.readUInt32LE(offset);
    if (length === 0) break;
    const payloadStart = offset + FRAME_HEADER_BYTES;
    if (payloadStart + length > view.length) {
      failure = 'past-end';
      break;
    }
    const payload = view.subarray(payloadStart, payloadStart + length);
    if (crc32(payload) >>> 0 !== view.readUInt32LE(offset + 4)) {
      failure = 'checksum';
      break;
    }
    payloads.push(payload);
    offset += alignedFrameBytes(length);
  }
  const garbageEnd = nonZeroEnd(view, offset);
  const end = judgeStop(view, offset, failure, garbageEnd, payloads.length);
  return { payloads, endOffset: offset, end, garbageEnd };
}

function judgeStop(
  view: Buffer,
  offset: number,
  failure: 'checksum' | 'past-end' | null,
  garbageEnd: number,
  framesBefore: number,
): SegmentEnd {
  if (failure === null && garbageEnd === offset) return { kind: 'clean' };
  if (hasWholeFrameFrom(view, offset + FRAME_ALIGNMENT)) return { kind: 'corrupt' };
  if (failure === 'checksum') {
    const frameEnd = offset + FRAME_HEADER_BYTES + view.readUInt32LE(offset);
    return hasZeroSector(view, offset, frameEnd) ? { kind: 'torn' } : { kind: 'corrupt' };
  }
  // Only a write right after the base record can have extended the file.
  if (failure === 'past-end') return framesBefore === 1 ? { kind: 'torn' } : { kind: 'corrupt' };
  // A header that never reached the disk: zeros, with what landed of the write after them.
  return { kind: 'torn' };
}
