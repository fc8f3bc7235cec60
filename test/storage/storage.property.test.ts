/**
 * Property: any sequence of well-formed persist batches (appends that truncate a conflicting
 * suffix, compactions, snapshot installs, hard-state updates, mixed within one batch) leaves
 * LevelStorage, WalStorage, MemoryStorage and a ten-line reference model loading the same state.
 *
 * fast-check generates abstract intents (how far back to truncate, how far to compact) that
 * are turned into batches against the model (both in storage-model.ts), so every batch is one
 * a Raft node could write and a failure shrinks to a short list of intents.
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { LevelStorage } from '../../src/storage/level-storage.ts';
import { MemoryStorage } from '../../src/storage/memory-storage.ts';
import type { PersistBatch } from '../../src/storage/storage.ts';
import { WalStorage } from '../../src/storage/wal-storage.ts';
import { entry, makeTempDir, persist, removeTempDirs } from './helpers.ts';
import type { BatchIntent, ModelState } from './storage-model.ts';
import { applyToModel, batchFor as planBatch, EMPTY_STATE, unitArbitrary } from './storage-model.ts';

/** A batch of helpers.ts's entries; rewrites in the same term and unwritten new terms allowed. */
const batchFor = (state: ModelState, intent: BatchIntent): PersistBatch =>
  planBatch(state, intent, { makeEntry: (index, term) => entry(index, term), strictTerms: false });

const intentArbitrary: fc.Arbitrary<BatchIntent> = fc.record({
  // A compaction in three batches in four (where there is a commit to compact), a snapshot from
  // the leader in one in ten (each clears the log).
  compactFraction: fc.option(unitArbitrary, { freq: 4 }),
  installAhead: fc.oneof({ weight: 9, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.integer({ min: -5, max: 8 }) }),
  truncateFraction: unitArbitrary,
  appendCount: fc.integer({ min: 0, max: 5 }),
  newTerm: fc.boolean(),
  commitAdvance: fc.integer({ min: 0, max: 4 }),
  writeHardState: fc.boolean(),
  sync: fc.boolean(),
});

describe('Storage implementations against a reference model', () => {
  afterAll(removeTempDirs);

  it('load the same state after any sequence of batches, before and after a reopen', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(intentArbitrary, { minLength: 1, maxLength: 25 }), async (intents) => {
        let model = EMPTY_STATE;
        const memory = new MemoryStorage();
        const dataDir = await makeTempDir();
        const walDir = await makeTempDir();
        let level = await LevelStorage.open(dataDir);
        // Segments of 2 KiB: a few batches each, so sequences cross segments and delete old ones.
        const openWal = (): Promise<WalStorage> => WalStorage.open(walDir, { segmentBytes: 2048 });
        let wal = await openWal();
        try {
          await level.load();
          await wal.load();
          for (const intent of intents) {
            const write = batchFor(model, intent);
            model = applyToModel(model, write);
            await persist(memory, write);
            await persist(level, write);
            await persist(wal, write);
          }
          const expected = { hardState: model.hardState, snapshot: model.snapshot, entries: model.entries };
          expect(memory.loadNow()).toEqual(expected);
          expect(await level.load()).toEqual(expected);
          expect(await wal.load()).toEqual(expected);
          await level.close();
          await wal.close();
          level = await LevelStorage.open(dataDir);
          wal = await openWal();
          expect(await level.load()).toEqual(expected);
          expect(await wal.load()).toEqual(expected);
        } finally {
          await level.close();
          await wal.close();
        }
      }),
      { numRuns: 60 },
    );
  });

  it('MemoryStorage keeps exactly what was synced across random crashes', () => {
    const step = fc.record({ intent: intentArbitrary, crash: fc.boolean() });
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 40 }), (steps) => {
        let model = EMPTY_STATE;
        let durable = model;
        const memory = new MemoryStorage();
        for (const { intent, crash } of steps) {
          const write = batchFor(model, intent);
          model = applyToModel(model, write);
          memory.persist(write, (error) => expect(error).toBeNull());
          // A sync flushes every earlier write too: the durable image becomes the whole model.
          if (write.sync) durable = model;
          if (crash) {
            memory.crash();
            model = durable;
          }
          expect(memory.loadNow()).toEqual({ hardState: model.hardState, snapshot: model.snapshot, entries: model.entries });
        }
      }),
      { numRuns: 200 },
    );
  });
});
