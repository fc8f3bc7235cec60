/**
 * Msgpack read and written piece by piece, so that a large document (a KV snapshot) can be
 * encoded or decoded a slice at a time between turns of the event loop: map and array headers
 * by hand, values by msgpackr. A long list is its header and then its elements back to back, so
 * it can be written as slices packed by msgpackr under one header for the whole length, and read
 * as a run of values after that header. The bytes are those of one whole msgpackr encoding.
 */
import type { Packr } from 'msgpackr';
import { assert } from '../common/assert.ts';
import type { Slices } from '../common/slices.ts';

export class MsgpackWriter {
  private readonly pieces: Uint8Array[] = [];
  private length = 0;

  constructor(private readonly packr: Packr) {}

  /** Appends a copy: msgpackr may reuse the buffer it packed into. */
  raw(bytes: Uint8Array): void {
    this.pieces.push(bytes.slice());
    this.length += bytes.length;
  }

  mapHeader(size: number): void {
    if (size < 16) this.raw(Uint8Array.of(0x80 | size));
    else this.raw(Uint8Array.of(0xde, size >> 8, size & 0xff));
  }

  key(name: string): void {
    this.raw(this.packr.pack(name));
  }

  field(name: string, value: unknown): void {
    this.key(name);
    this.raw(this.packr.pack(value));
  }

  /** Writes `items` as one list, packing `perSlice` of them per slice. */
  *list<T>(items: readonly T[], toWire: (item: T) => unknown, perSlice: number): Slices<void> {
    this.arrayHeader(items.length);
    for (let start = 0; start < items.length; start += perSlice) {
      const packed = this.packr.pack(items.slice(start, start + perSlice).map(toWire));
      this.raw(packed.subarray(arrayHeaderBytes(packed)));
      if (start + perSlice < items.length) yield;
    }
  }

  finish(): Uint8Array {
    const data = new Uint8Array(this.length);
    let offset = 0;
    for (const piece of this.pieces) {
      data.set(piece, offset);
      offset += piece.length;
    }
    return data;
  }

  private arrayHeader(size: number): void {
    if (size < 16) this.raw(Uint8Array.of(0x90 | size));
    else if (size < 0x10000) this.raw(Uint8Array.of(0xdc, size >> 8, size & 0xff));
    else this.raw(Uint8Array.of(0xdd, (size >>> 24) & 0xff, (size >> 16) & 0xff, (size >> 8) & 0xff, size & 0xff));
  }
}

/** The length of the array header msgpackr wrote at the start of `packed`. */
function arrayHeaderBytes(packed: Uint8Array): number {
  const first = packed[0] ?? 0;
  if (first >= 0x90 && first <= 0x9f) return 1;
  if (first === 0xdc) return 3;
  assert(first === 0xdd, () => `msgpack writer: msgpackr packed a list with header byte 0x${first.toString(16)}`);
  return 5;
}

/**
 * Reads what MsgpackWriter (or one msgpackr pack) wrote, from `start` on. Every malformed input
 * ends in `fail` (which throws): a header of the wrong kind, a truncated value, bytes msgpackr
 * rejects.
 */
export class MsgpackReader {
  private position: number;

  constructor(
    private readonly packr: Packr,
    private readonly data: Uint8Array,
    start: number,
    private readonly fail: (message: string, cause?: unknown) => never,
  ) {
    this.position = start;
  }

  get atEnd(): boolean {
    return this.position === this.data.length;
  }

  /** The size of the map that starts here (its keys and values follow). */
  mapHeader(path: string): number {
    const first = this.byte(path);
    if (first >= 0x80 && first <= 0x8f) return first & 0x0f;
    if (first === 0xde) return this.bigEndian(2, path);
    if (first === 0xdf) return this.bigEndian(4, path);
    return this.fail(`${path} is not a map`);
  }

  /** The next value, whole. */
  value(path: string): unknown {
    return this.values(1, path)[0];
  }

  /** The list that starts here, `perSlice` elements per slice, each through `fromWire`. */
  *list<T>(path: string, fromWire: (value: unknown, index: number) => T, perSlice: number): Slices<T[]> {
    const size = this.arrayHeader(path);
    const items: T[] = [];
    while (items.length < size) {
      for (const value of this.values(Math.min(perSlice, size - items.length), path)) items.push(fromWire(value, items.length));
      if (items.length < size) yield;
    }
    return items;
  }

  private arrayHeader(path: string): number {
    const first = this.byte(path);
    if (first >= 0x90 && first <= 0x9f) return first & 0x0f;
    if (first === 0xdc) return this.bigEndian(2, path);
    if (first === 0xdd) return this.bigEndian(4, path);
    return this.fail(`${path} is not a list`);
  }

  /** `count` consecutive values from here (msgpackr's sequential mode, stopped after `count`). */
  private values(count: number, path: string): unknown[] {
    const values: unknown[] = [];
    let consumed = 0;
    if (this.atEnd) this.fail(`${path} is missing (the data ends)`);
    try {
      this.packr.unpackMultiple(this.data.subarray(this.position), (value: unknown, _start?: number, end?: number) => {
        values.push(value);
        consumed = end ?? consumed;
        return values.length < count;
      });
    } catch (error) {
      this.fail(`${path} is not valid msgpack`, error);
    }
    if (values.length < count) this.fail(`${path} is truncated`);
    this.position += consumed;
    return values;
  }

  private byte(path: string): number {
    const value = this.data[this.position];
    if (value === undefined) return this.fail(`${path} is missing (the data ends)`);
    this.position++;
    return value;
  }

  private bigEndian(bytes: 2 | 4, path: string): number {
    let value = 0;
    for (let i = 0; i < bytes; i++) value = value * 256 + this.byte(path);
    return value;
  }
}
