/**
 * The Storage contract, one suite run against every implementation (Hono's runTest style):
 * what a node relies on when it persists a Ready and later restarts from load().
 */
import { afterEach, describe, expect, it } from 'vitest';
import { AssertionError } from '../../src/common/assert.ts';
import { EMPTY_HARD_STATE } from '../../src/raft/types.ts';
import type { Storage } from '../../src/storage/storage.ts';
import { entries, entry, hardState, persist, snapshot } from './helpers.ts';

export interface StorageHarness {
  readonly name: string;
  /** A new, empty storage, already load()ed (a node always loads before it persists). */
  open(): Promise<Storage>;
  /** Closes `storage` and opens the same data again, as a clean restart does. */
  reopen(storage: Storage): Promise<Storage>;
}

export function runStorageContract(harness: StorageHarness): void {
  describe(`Storage contract: ${harness.name}`, () => {
    const opened: Storage[] = [];
    const open = async (): Promise<Storage> => {
      const storage = await harness.open();
      opened.push(storage);
      return storage;
    };
    const reopen = async (storage: Storage): Promise<Storage> => {
      const again = await harness.reopen(storage);
      opened.push(again);
      return again;
    };
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((storage) => storage.close()));
    });

    it('loads an empty state when nothing was written', async () => {
      const storage = await open();
      expect(await storage.load()).toEqual({ hardState: EMPTY_HARD_STATE, snapshot: null, entries: [] });
    });

    it('round-trips the hard state, the last write winning', async () => {
      const storage = await open();
      await persist(storage, { hardState: hardState(1, 'a', 0) });
      await persist(storage, { hardState: hardState(3, 'b', 0) });
      expect((await storage.load()).hardState).toEqual(hardState(3, 'b', 0));
      expect((await (await reopen(storage)).load()).hardState).toEqual(hardState(3, 'b', 0));
    });

    it('round-trips entries of every type with their data', async () => {
      const storage = await open();
      const written = [entry(1, 1, 'noop'), entry(2, 1, 'normal'), entry(3, 2, 'config')];
      await persist(storage, { entries: written, hardState: hardState(2, 'a', 2) });
      await persist(storage, { entries: [{ index: 4, term: 2, type: 'normal', data: new Uint8Array(0) }] });
      const loaded = await (await reopen(storage)).load();
      expect(loaded.entries).toEqual([...written, { index: 4, term: 2, type: 'normal', data: new Uint8Array(0) }]);
      expect(loaded.hardState).toEqual(hardState(2, 'a', 2));
    });

    it('makes unsynced writes visible to load() in the same process', async () => {
      const storage = await open();
      await persist(storage, { entries: entries(1, 3, 1), hardState: hardState(1, 'a', 1), sync: false });
      expect(await storage.load()).toEqual({ hardState: hardState(1, 'a', 1), snapshot: null, entries: entries(1, 3, 1) });
    });

    it('drops the conflicting suffix when entries overwrite the log', async () => {
      const storage = await open();
      await persist(storage, { entries: entries(1, 6, 1) });
      await persist(storage, { entries: entries(3, 4, 2) });
      expect((await storage.load()).entries).toEqual([...entries(1, 2, 1), ...entries(3, 4, 2)]);
      await persist(storage, { entries: entries(5, 5, 2) });
      const loaded = await (await reopen(storage)).load();
      expect(loaded.entries).toEqual([...entries(1, 2, 1), ...entries(3, 5, 2)]);
    });

    it('replaces the whole log when a snapshot is installed, behind or beyond its end', async () => {
      const storage = await open();
      await persist(storage, { entries: entries(1, 5, 1), hardState: hardState(1, 'a', 2) });
      await persist(storage, { snapshot: snapshot(10, 3), hardState: hardState(3, 'b', 10) });
      expect(await storage.load()).toEqual({ hardState: hardState(3, 'b', 10), snapshot: snapshot(10, 3), entries: [] });
      await persist(storage, { entries: entries(11, 13, 3) });
      await persist(storage, { snapshot: snapshot(12, 3, ['x']), hardState: hardState(3, 'b', 12) });
      const loaded = await (await reopen(storage)).load();
      expect(loaded).toEqual({ hardState: hardState(3, 'b', 12), snapshot: snapshot(12, 3, ['x']), entries: [] });
    });

    it('deletes the prefix a compaction covers and keeps the rest', async () => {
      const storage = await open();
      await persist(storage, { entries: entries(1, 8, 1), hardState: hardState(1, 'a', 6) });
      await persist(storage, { compaction: snapshot(4, 1) });
      expect(await storage.load()).toEqual({ hardState: hardState(1, 'a', 6), snapshot: snapshot(4, 1), entries: entries(5, 8, 1) });
      await persist(storage, { compaction: snapshot(3, 1) }); // older than what we hold: no effect
      await persist(storage, { compaction: snapshot(6, 1) });
      const loaded = await (await reopen(storage)).load();
      expect(loaded).toEqual({ hardState: hardState(1, 'a', 6), snapshot: snapshot(6, 1), entries: entries(7, 8, 1) });
    });

    it('applies snapshot, compaction, entries and hard state of one batch in that order', async () => {
      const storage = await open();
      await persist(storage, { entries: entries(1, 4, 1) });
      await persist(storage, {
        snapshot: snapshot(8, 2),
        compaction: snapshot(6, 2), // older than the installed snapshot: ignored
        entries: entries(9, 10, 2),
        hardState: hardState(2, 'c', 9),
      });
      const expected = { hardState: hardState(2, 'c', 9), snapshot: snapshot(8, 2), entries: entries(9, 10, 2) };
      expect(await storage.load()).toEqual(expected);
      expect(await (await reopen(storage)).load()).toEqual(expected);
    });

    it('lets entries after a compaction overwrite the remaining suffix in the same batch', async () => {
      const storage = await open();
      await persist(storage, { entries: entries(1, 6, 1) });
      await persist(storage, { compaction: snapshot(2, 1), entries: entries(4, 4, 2), hardState: hardState(2, 'a', 3) });
      const loaded = await (await reopen(storage)).load();
      expect(loaded.entries).toEqual([...entries(3, 3, 1), ...entries(4, 4, 2)]);
      expect(loaded.snapshot).toEqual(snapshot(2, 1));
    });

    it('writes nothing of a batch that breaks the log, and says so by assertion', async () => {
      const storage = await open();
      await persist(storage, { entries: entries(1, 2, 1), hardState: hardState(1, 'a', 1) });
      const before = await storage.load();
      // A gap after index 2: the caller's bug, refused before any byte of the batch is written.
      const broken = persist(storage, { entries: entries(4, 5, 1), hardState: hardState(5, 'z', 5) });
      await expect(broken).rejects.toBeInstanceOf(AssertionError);
      await expect(persist(storage, { entries: [entry(1, 1), entry(3, 1)] })).rejects.toBeInstanceOf(AssertionError);
      expect(await storage.load()).toEqual(before);
      expect(await (await reopen(storage)).load()).toEqual(before);
    });

    it('loads the same state after a reopen as before it', async () => {
      const storage = await open();
      await persist(storage, { entries: entries(1, 20, 1), hardState: hardState(1, 'a', 10) });
      await persist(storage, { compaction: snapshot(10, 1), entries: entries(15, 25, 2), sync: false });
      const before = await storage.load();
      expect(await (await reopen(storage)).load()).toEqual(before);
    });
  });
}
