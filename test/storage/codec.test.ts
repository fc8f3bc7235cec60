/**
 * The load path's batched decoder (decodeEntries) against the one-record decoder it shortcuts
 * (decodeEntry): the same entry or the same null for every record, well-formed or damaged, at
 * every integer and bin width msgpack has; and data that is a private copy.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Entry, EntryType } from '../../src/raft/types.ts';
import { decodeEntries, decodeEntry, encodeEntry, entryKey, parseEntryKey } from '../../src/storage/codec.ts';

const TYPES: readonly EntryType[] = ['normal', 'noop', 'config'];

/** Integers at and around every msgpack width boundary, up to beyond 2^32 (float64 in msgpackr). */
const boundaryInt = fc.oneof(
  fc.constantFrom(0, 1, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0xffffffff, 0x100000000, Number.MAX_SAFE_INTEGER),
  fc.nat(),
  fc.integer({ min: 0, max: 2 ** 40 }),
);

const arbitraryEntry: fc.Arbitrary<Entry> = fc.record({
  term: boundaryInt,
  index: boundaryInt,
  type: fc.constantFrom(...TYPES),
  data: fc.oneof(
    fc.uint8Array({ maxLength: 300 }),
    // bin8/bin16/bin32 edges; one large one is enough, and cheap to compare.
    fc.constantFrom(255, 256, 65_536).map((length) => new Uint8Array(length).fill(7)),
  ),
});

/** A record, possibly damaged: a flipped bit, a cut, or bytes appended. */
const arbitraryRecord = fc
  .tuple(arbitraryEntry, fc.oneof(fc.constant('none'), fc.constant('flip'), fc.constant('cut'), fc.constant('append')), fc.nat())
  .map(([entry, damage, where]) => {
    const record = new Uint8Array(encodeEntry(entry));
    if (damage === 'flip') record[where % record.length]! ^= 1 << (where % 8);
    if (damage === 'cut') return record.subarray(0, where % record.length);
    if (damage === 'append') {
      const longer = new Uint8Array(record.length + 1);
      longer.set(record);
      longer[record.length] = where % 256;
      return longer;
    }
    return record;
  });

describe('decodeEntries', () => {
  it('decodes every record as decodeEntry does', () => {
    fc.assert(
      fc.property(fc.array(arbitraryRecord, { maxLength: 20 }), (records) => {
        expect(decodeEntries(records)).toEqual(records.map((record) => decodeEntry(record)));
      }),
      { numRuns: 100 },
    );
  });

  it('gives data that aliases no record', () => {
    const records = [encodeEntry({ term: 1, index: 1, type: 'normal', data: Uint8Array.of(1, 2, 3) })];
    const [entry] = decodeEntries(records);
    records[0]!.fill(0);
    expect(entry?.data).toEqual(Uint8Array.of(1, 2, 3));
  });
});

describe('parseEntryKey', () => {
  it('reads back every key entryKey writes, and nothing else', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (index) => parseEntryKey(entryKey(index)) === index));
    for (const bad of ['e:', 'e:000000000000000g', 'e:000000000000000A', 'x:0000000000000001', 'e:00000000000000001', 'e:ffffffffffffffff']) {
      expect(parseEntryKey(bad)).toBeNull();
    }
  });
});
