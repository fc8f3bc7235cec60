/**
 * LevelStorage loads a data dir chunk by chunk as LevelDB yields it (ImageLoader.add per chunk,
 * decoding entries as they arrive), MemoryStorage in one go (loadImage). Property: however the
 * records are cut into chunks, the verdict is the same — the same state, or the same error —
 * for intact images and for images damaged in every way load() must refuse (flipped bits,
 * torn or missing records, unexpected or malformed keys, a foreign version), including images
 * damaged in several ways at once, where the error reported must not depend on the chunking.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConcordError } from '../../src/common/errors.ts';
import {
  encodeEntry,
  encodeHardState,
  encodeSnapshotMeta,
  encodeVersion,
  entryKey,
  FORMAT_VERSION,
  HARD_STATE_KEY,
  SNAPSHOT_DATA_KEY,
  SNAPSHOT_META_KEY,
  VERSION_KEY,
} from '../../src/storage/codec.ts';
import { ImageLoader, loadImage } from '../../src/storage/load-image.ts';
import { entry, hardState, snapshot } from './helpers.ts';

type StoredRecord = readonly [string, Uint8Array];

const DATA_DIR = '/data/n1';

/** A data dir's records in key order: a snapshot at `snapshotIndex` (0: none) and `logLength` entries after it. */
function image(snapshotIndex: number, logLength: number, commitBack: number): StoredRecord[] {
  const records: StoredRecord[] = [[VERSION_KEY, encodeVersion(FORMAT_VERSION)]];
  const lastIndex = snapshotIndex + logLength;
  records.push([HARD_STATE_KEY, encodeHardState(hardState(3, 'n2', Math.max(0, lastIndex - commitBack)))]);
  if (snapshotIndex > 0) {
    const snap = snapshot(snapshotIndex, 1);
    records.push([SNAPSHOT_META_KEY, encodeSnapshotMeta(snap.meta, snap.data)], [SNAPSHOT_DATA_KEY, snap.data]);
  }
  for (let index = snapshotIndex + 1; index <= lastIndex; index++) {
    records.push([entryKey(index), encodeEntry(entry(index, index < snapshotIndex + logLength / 2 ? 1 : 2))]);
  }
  return records.sort(([left], [right]) => (left < right ? -1 : left > right ? 1 : 0));
}

type Damage =
  | { readonly kind: 'flip'; readonly at: number; readonly bit: number }
  | { readonly kind: 'tear'; readonly at: number }
  | { readonly kind: 'drop'; readonly at: number }
  | { readonly kind: 'unexpectedKey'; readonly key: string }
  | { readonly kind: 'malformedEntryKey'; readonly suffix: string }
  | { readonly kind: 'foreignVersion' }
  | { readonly kind: 'swapValues'; readonly at: number; readonly other: number };

const damageArbitrary: fc.Arbitrary<Damage> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat() }),
  fc.record({ kind: fc.constant('tear' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('drop' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('unexpectedKey' as const), key: fc.constantFrom('a', 'm:other', 'x:', 'z') }),
  fc.record({ kind: fc.constant('malformedEntryKey' as const), suffix: fc.constantFrom('1', 'zz', '00000000000000ZZ', '') }),
  fc.record({ kind: fc.constant('foreignVersion' as const) }),
  fc.record({ kind: fc.constant('swapValues' as const), at: fc.nat(), other: fc.nat() }),
);

function damage(records: StoredRecord[], harm: Damage): StoredRecord[] {
  const copy = records.map(([key, value]): StoredRecord => [key, new Uint8Array(value)]);
  if (copy.length === 0) return copy;
  const pick = (at: number): number => at % copy.length;
  switch (harm.kind) {
    case 'flip': {
      const [key, value] = copy[pick(harm.at)]!;
      if (value.length > 0) value[(harm.bit >> 3) % value.length]! ^= 1 << (harm.bit & 7);
      copy[pick(harm.at)] = [key, value];
      return copy;
    }
    case 'tear': {
      const [key, value] = copy[pick(harm.at)]!;
      copy[pick(harm.at)] = [key, value.slice(0, value.length >> 1)];
      return copy;
    }
    case 'drop':
      copy.splice(pick(harm.at), 1);
      return copy;
    case 'unexpectedKey':
      return sorted([...copy, [harm.key, new Uint8Array([1])]]);
    case 'malformedEntryKey':
      return sorted([...copy, [`e:${harm.suffix}`, encodeEntry(entry(1, 1))]]);
    case 'foreignVersion':
      return copy.map(([key, value]): StoredRecord => [key, key === VERSION_KEY ? encodeVersion(FORMAT_VERSION + 1) : value]);
    case 'swapValues': {
      const a = pick(harm.at);
      const b = pick(harm.other);
      const valueA = copy[a]![1];
      copy[a] = [copy[a]![0], copy[b]![1]];
      copy[b] = [copy[b]![0], valueA];
      return copy;
    }
  }
}

function sorted(records: StoredRecord[]): StoredRecord[] {
  return records.sort(([left], [right]) => (left < right ? -1 : left > right ? 1 : 0));
}

/** What a load concluded, comparable with toEqual: the state, or the error's message and details. */
function verdict(load: () => unknown): unknown {
  try {
    return { ok: load() };
  } catch (error) {
    if (!(error instanceof ConcordError)) throw error;
    return { error: error.message, details: error.details };
  }
}

/** Loads `records` cut at `cuts` (positions, any order), as LevelStorage feeds its chunks. */
function loadInChunks(records: readonly StoredRecord[], cuts: readonly number[]): unknown {
  const loader = new ImageLoader(DATA_DIR);
  const at = [...new Set(cuts.map((cut) => cut % (records.length + 1)))].sort((a, b) => a - b);
  let start = 0;
  for (const cut of [...at, records.length]) {
    loader.add(records.slice(start, cut));
    start = Math.max(start, cut);
  }
  return loader.finish();
}

describe('ImageLoader', () => {
  it('reaches the same verdict however the records are chunked, intact or damaged', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 40 }),
        fc.integer({ min: 0, max: 3000 }),
        fc.integer({ min: 0, max: 5 }),
        fc.array(damageArbitrary, { maxLength: 3 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        (snapshotIndex, logLength, commitBack, harms, cuts) => {
          const records = harms.reduce(damage, image(snapshotIndex, logLength, commitBack));
          const whole = verdict(() => loadImage(DATA_DIR, records));
          expect(verdict(() => loadInChunks(records, cuts))).toEqual(whole);
          if (harms.length === 0) expect(whole).toHaveProperty('ok');
        },
      ),
      { numRuns: 150 },
    );
  });

  it('reports the first problem in key order, after an unexpected key and the version', () => {
    const records = image(5, 2000, 0);
    const corruptEntry = damage(records, { kind: 'flip', at: 1500, bit: 200 });
    const both = damage(corruptEntry, { kind: 'foreignVersion' });
    expect(verdict(() => loadInChunks(both, [100, 1024, 1800]))).toMatchObject({ error: expect.stringContaining('unknown format version') });
    const withStranger = damage(both, { kind: 'unexpectedKey', key: 'z' });
    expect(verdict(() => loadInChunks(withStranger, [7]))).toMatchObject({ error: expect.stringContaining('unexpected key "z"') });
    expect(verdict(() => loadInChunks(corruptEntry, [1024, 1501]))).toMatchObject({ details: { index: expect.any(Number) } });
  });
});
