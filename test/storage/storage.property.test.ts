/**
 * Property: any sequence of well-formed persist batches (appends that truncate a conflicting
 * suffix, compactions, snapshot installs, hard-state updates, mixed within one batch) leaves
 * LevelStorage, WalStorage, MemoryStorage and a ten-line reference model loading the same state.
 *
 * fast-check generates abstract intents (how far back to truncate, how far to compact) that
 * are turned into batches against the model, so every batch is one a Raft node could write
 * and a failure shrinks to a short list of intents.
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import type { Entry, HardState, Snapshot } from '../../src/raft/types.ts';
import { EMPTY_HARD_STATE } from '../../src/raft/types.ts';
import { LevelStorage } from '../../src/storage/level-storage.ts';
import { MemoryStorage } from '../../src/storage/memory-storage.ts';
import type { PersistBatch } from '../../src/storage/storage.ts';
import { WalStorage } from '../../src/storage/wal-storage.ts';
import { batch, entry, makeTempDir, persist, removeTempDirs, snapshot } from './helpers.ts';

interface ModelState {
  hardState: HardState;
  snapshot: Snapshot | null;
  entries: Entry[];
}

/** The contract's order of effects, written as plainly as possible. */
function applyToModel(state: ModelState, write: PersistBatch): void {
  if (write.snapshot !== null) {
    state.snapshot = write.snapshot;
    state.entries = [];
  }
  const compaction = write.compaction;
  if (compaction !== null && compaction.meta.index > (state.snapshot?.meta.index ?? 0)) {
    state.snapshot = compaction;
    state.entries = state.entries.filter((stored) => stored.index > compaction.meta.index);
  }
  const first = write.entries[0];
  if (first !== undefined) state.entries = [...state.entries.filter((stored) => stored.index < first.index), ...write.entries];
  if (write.hardState !== null) state.hardState = write.hardState;
}

/** One step of a node's life, in terms that stay valid whatever the log looks like. */
interface Intent {
  readonly compactFraction: number | null;
  readonly installAhead: number | null;
  readonly truncateFraction: number;
  readonly appendCount: number;
  readonly newTerm: boolean;
  readonly commitAdvance: number;
  readonly writeHardState: boolean;
  readonly sync: boolean;
}

const intentArbitrary: fc.Arbitrary<Intent> = fc.record({
  compactFraction: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { freq: 4 }),
  installAhead: fc.option(fc.integer({ min: -5, max: 8 }), { freq: 6 }),
  truncateFraction: fc.double({ min: 0, max: 1, noNaN: true }),
  appendCount: fc.integer({ min: 0, max: 5 }),
  newTerm: fc.boolean(),
  commitAdvance: fc.integer({ min: 0, max: 4 }),
  writeHardState: fc.boolean(),
  sync: fc.boolean(),
});

const lastIndexOf = (state: ModelState): number => state.entries.at(-1)?.index ?? state.snapshot?.meta.index ?? 0;

function termAt(state: ModelState, index: number): number {
  if (index === (state.snapshot?.meta.index ?? 0)) return state.snapshot?.meta.term ?? 0;
  return state.entries.find((stored) => stored.index === index)?.term ?? 0;
}

/** A batch a node could write in `state`: committed entries are never truncated. */
function batchFor(state: ModelState, intent: Intent): PersistBatch {
  const snapshotIndex = state.snapshot?.meta.index ?? 0;
  let { term, vote, commit } = state.hardState;
  let snapshotToInstall: Snapshot | null = null;
  let compaction: Snapshot | null = null;
  let lastIndex = lastIndexOf(state);
  let floorIndex = Math.max(commit, snapshotIndex);
  if (intent.installAhead !== null) {
    // From the leader: covers at least our commit, may end before or beyond our log.
    const index = Math.max(floorIndex + 1, lastIndex + intent.installAhead);
    term = Math.max(term, termAt(state, lastIndex)) + 1;
    snapshotToInstall = snapshot(index, term);
    commit = index;
    lastIndex = floorIndex = index;
  } else if (intent.compactFraction !== null && commit > snapshotIndex) {
    const index = snapshotIndex + 1 + Math.floor(intent.compactFraction * (commit - snapshotIndex - 1));
    compaction = snapshot(index, termAt(state, index));
  }
  const from = floorIndex + 1 + Math.floor(intent.truncateFraction * (lastIndex - floorIndex));
  const previousTerm = snapshotToInstall !== null ? term : termAt(state, from - 1);
  term = Math.max(term, previousTerm) + (intent.newTerm ? 1 : 0);
  const appended: Entry[] = [];
  for (let offset = 0; offset < intent.appendCount; offset++) appended.push(entry(from + offset, term));
  const newLastIndex = appended.length > 0 ? from + appended.length - 1 : lastIndex;
  commit = Math.min(commit + intent.commitAdvance, newLastIndex);
  if (intent.newTerm) vote = `node-${term % 3}`;
  const writeHardState = intent.writeHardState || snapshotToInstall !== null || appended.length > 0;
  return batch({
    snapshot: snapshotToInstall,
    compaction,
    entries: appended,
    hardState: writeHardState ? { term, vote, commit } : null,
    sync: intent.sync,
  });
}

describe('Storage implementations against a reference model', () => {
  afterAll(removeTempDirs);

  it('load the same state after any sequence of batches, before and after a reopen', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(intentArbitrary, { minLength: 1, maxLength: 25 }), async (intents) => {
        const model: ModelState = { hardState: EMPTY_HARD_STATE, snapshot: null, entries: [] };
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
            applyToModel(model, write);
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
        const copy = (state: ModelState): ModelState => ({ ...state, entries: state.entries.slice() });
        let model: ModelState = { hardState: EMPTY_HARD_STATE, snapshot: null, entries: [] };
        let durable = copy(model);
        const memory = new MemoryStorage();
        for (const { intent, crash } of steps) {
          const write = batchFor(model, intent);
          applyToModel(model, write);
          memory.persist(write, (error) => expect(error).toBeNull());
          // A sync flushes every earlier write too: the durable image becomes the whole model.
          if (write.sync) durable = copy(model);
          if (crash) {
            memory.crash();
            model = copy(durable);
          }
          expect(memory.loadNow()).toEqual({ hardState: model.hardState, snapshot: model.snapshot, entries: model.entries });
        }
      }),
      { numRuns: 200 },
    );
  });
});
