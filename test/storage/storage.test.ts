/**
 * Runs the Storage contract against every implementation, then what only one of them does:
 * LevelStorage's refusal of damaged, foreign or locked data dirs, and MemoryStorage's crash,
 * scheduling and fault injection.
 */
import { Level } from 'level';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { AssertionError } from '../../src/common/assert.ts';
import { ConcordError } from '../../src/common/errors.ts';
import { encodeVersion, entryKey, VERSION_KEY } from '../../src/storage/codec.ts';
import { LevelStorage } from '../../src/storage/level-storage.ts';
import { MemoryStorage } from '../../src/storage/memory-storage.ts';
import type { Storage } from '../../src/storage/storage.ts';
import { WalStorage } from '../../src/storage/wal-storage.ts';
import { batch, entries, hardState, makeTempDir, persist, removeTempDirs } from './helpers.ts';
import { runStorageContract } from './storage.contract.ts';

afterAll(removeTempDirs);

async function openLevel(dataDir?: string): Promise<LevelStorage> {
  const storage = await LevelStorage.open(dataDir ?? (await makeTempDir()));
  await storage.load();
  return storage;
}

runStorageContract({
  name: 'LevelStorage',
  open: () => openLevel(),
  reopen: async (storage: Storage) => {
    if (!(storage instanceof LevelStorage)) throw new Error('not a LevelStorage');
    await storage.close();
    return openLevel(storage.dataDir);
  },
});

async function openWal(dataDir?: string): Promise<WalStorage> {
  // Small segments, so that the contract's writes also cross segments and delete old ones.
  const storage = await WalStorage.open(dataDir ?? (await makeTempDir()), { segmentBytes: 4096 });
  await storage.load();
  return storage;
}

runStorageContract({
  name: 'WalStorage',
  open: () => openWal(),
  reopen: async (storage: Storage) => {
    if (!(storage instanceof WalStorage)) throw new Error('not a WalStorage');
    await storage.close();
    return openWal(storage.dataDir);
  },
});

runStorageContract({
  name: 'MemoryStorage (synchronous)',
  open: () => Promise.resolve(new MemoryStorage()),
  reopen: (storage: Storage) => Promise.resolve(storage),
});

runStorageContract({
  name: 'MemoryStorage (scheduled)',
  open: () => Promise.resolve(new MemoryStorage({ scheduler: (delayMs, fn) => setTimeout(fn, delayMs), latencyMs: () => 1 })),
  reopen: (storage: Storage) => Promise.resolve(storage),
});

/** The rejection of `promise`, which must be a storage_failure ConcordError. */
async function storageFailure(promise: Promise<unknown>): Promise<ConcordError> {
  const error: unknown = await promise.then(
    () => null,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(ConcordError);
  const concordError = error as ConcordError;
  expect(concordError.code).toBe('storage_failure');
  return concordError;
}

/** Edits a closed LevelStorage's database directly, as a damaged disk or a stray tool would. */
async function editRaw(dataDir: string, edit: (db: Level<string, Uint8Array>) => Promise<void>): Promise<void> {
  const db = new Level<string, Uint8Array>(dataDir, { keyEncoding: 'utf8', valueEncoding: 'view' });
  await db.open();
  await edit(db);
  await db.close();
}

describe('LevelStorage', () => {
  const opened: LevelStorage[] = [];
  const open = async (dataDir?: string): Promise<LevelStorage> => {
    const storage = await openLevel(dataDir);
    opened.push(storage);
    return storage;
  };
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((storage) => storage.close()));
  });

  /** A closed data dir holding entries 1..5 of term 1 and commit 2. */
  async function writtenDir(): Promise<string> {
    const storage = await openLevel();
    await persist(storage, { entries: entries(1, 5, 1), hardState: hardState(1, 'a', 2) });
    await storage.close();
    return storage.dataDir;
  }

  /** Opens `dataDir` and returns the storage_failure its load() rejects with. */
  async function loadFailure(dataDir: string): Promise<ConcordError> {
    const storage = await LevelStorage.open(dataDir);
    opened.push(storage);
    return storageFailure(storage.load());
  }

  it('refuses a corrupt entry, naming the data dir and the index', async () => {
    const dataDir = await writtenDir();
    await editRaw(dataDir, async (db) => {
      const record = await db.get(entryKey(3));
      const damaged = new Uint8Array(record!);
      damaged[damaged.length - 2]! ^= 0x10;
      await db.put(entryKey(3), damaged);
    });
    const error = await loadFailure(dataDir);
    expect(error.message).toContain(dataDir);
    expect(error.message).toContain('corrupt log entry (checksum or shape) at log index 3');
    expect(error.details).toMatchObject({ dataDir, index: 3 });
  });

  it('refuses an entry stored under another index, a gap, and a commit beyond the log', async () => {
    const misplaced = await writtenDir();
    await editRaw(misplaced, async (db) => db.put(entryKey(3), (await db.get(entryKey(2)))!));
    const gap = await writtenDir();
    await editRaw(gap, (db) => db.del(entryKey(3)));
    const short = await writtenDir();
    await editRaw(short, (db) => db.batch([2, 3, 4, 5].map((index) => ({ type: 'del', key: entryKey(index) }))));
    const misplacedError = await loadFailure(misplaced);
    expect(misplacedError.message).toContain('entry claims index 2 but is stored at log index 3');
    expect(misplacedError.details).toMatchObject({ index: 3 });
    expect((await loadFailure(gap)).message).toContain('log gap after 2 at log index 4');
    expect((await loadFailure(short)).message).toContain('commit 2 beyond the last index 1');
  });

  it('refuses an unknown format version, naming the data dir and the version', async () => {
    const dataDir = await writtenDir();
    await editRaw(dataDir, (db) => db.put(VERSION_KEY, encodeVersion(99)));
    const error = await storageFailure(LevelStorage.open(dataDir));
    expect(error.message).toContain(dataDir);
    expect(error.message).toContain('unknown format version "99"');
    expect(error.details).toMatchObject({ dataDir, version: '99' });
  });

  it('refuses a second opener of the same data dir with a lock error, not corruption', async () => {
    const first = await open();
    const error = await storageFailure(LevelStorage.open(first.dataDir));
    expect(error.message).toContain(first.dataDir);
    expect(error.message).toContain('in use');
    await first.close();
    await open(first.dataDir); // the lock goes with the first opener
  });

  it('asserts one outstanding persist, and load before persist', async () => {
    const storage = await open();
    storage.persist(batch({ entries: entries(1, 1, 1) }), () => {});
    expect(() => storage.persist(batch({}), () => {})).toThrow(AssertionError);
    const fresh = await LevelStorage.open(await makeTempDir());
    opened.push(fresh);
    expect(() => fresh.persist(batch({}), () => {})).toThrow(/before load/);
  });

  it('reports a failed write through done(error), and refuses writes after it', async () => {
    const storage = await openLevel();
    await storage.close();
    const error = await storageFailure(persist(storage, { hardState: hardState(1, 'a', 0) }));
    expect(error.message).toContain('write failed');
    expect(() => storage.persist(batch({}), () => {})).toThrow(/after a failed write/);
  });
});

describe('MemoryStorage', () => {
  it('completes a write synchronously without a scheduler', () => {
    const storage = new MemoryStorage();
    let completed = false;
    storage.persist(batch({ entries: entries(1, 2, 1) }), (error) => {
      expect(error).toBeNull();
      completed = true;
    });
    expect(completed).toBe(true);
    expect(storage.loadNow().entries).toEqual(entries(1, 2, 1));
  });

  it('completes a write through the scheduler after the latency it gives', () => {
    const scheduled: Array<{ delayMs: number; fn: () => void }> = [];
    const storage = new MemoryStorage({ scheduler: (delayMs, fn) => scheduled.push({ delayMs, fn }), latencyMs: (b) => (b.sync ? 5 : 0) });
    let completed = false;
    storage.persist(batch({ entries: entries(1, 2, 1) }), () => (completed = true));
    expect(scheduled.map((item) => item.delayMs)).toEqual([5]);
    expect(() => storage.persist(batch({}), () => {})).toThrow(AssertionError);
    expect(completed).toBe(false);
    scheduled[0]!.fn();
    expect(completed).toBe(true);
    expect(storage.loadNow().entries).toEqual(entries(1, 2, 1));
  });

  it('loses unsynced writes on crash but keeps synced ones, and what a sync flushed', () => {
    const storage = new MemoryStorage();
    const write = (parts: Parameters<typeof batch>[0]): void => storage.persist(batch(parts), () => {});
    write({ entries: entries(1, 3, 1), hardState: hardState(1, 'a', 1), sync: true });
    write({ entries: entries(4, 5, 1), sync: false });
    expect(storage.loadNow().entries).toEqual(entries(1, 5, 1));
    storage.crash();
    expect(storage.loadNow()).toEqual({ hardState: hardState(1, 'a', 1), snapshot: null, entries: entries(1, 3, 1) });
    write({ entries: entries(4, 4, 2), sync: false });
    write({ hardState: hardState(2, 'b', 4), sync: true }); // flushes the unsynced entry too
    storage.crash();
    expect(storage.loadNow()).toEqual({ hardState: hardState(2, 'b', 4), snapshot: null, entries: [...entries(1, 3, 1), ...entries(4, 4, 2)] });
    expect({ writes: storage.writes, syncs: storage.syncs }).toEqual({ writes: 4, syncs: 2 });
  });

  it('loses the write in flight on crash, without ever calling its done', () => {
    const scheduled: Array<() => void> = [];
    const storage = new MemoryStorage({ scheduler: (_delayMs, fn) => scheduled.push(fn) });
    let calls = 0;
    storage.persist(batch({ entries: entries(1, 2, 1) }), () => calls++);
    storage.crash();
    scheduled[0]!(); // the dead process's completion fires late: nothing happens
    expect(calls).toBe(0);
    expect(storage.loadNow().entries).toEqual([]);
    storage.persist(batch({ entries: entries(1, 1, 1) }), () => calls++); // no longer outstanding
    scheduled[1]!();
    expect(calls).toBe(1);
  });

  it('detects a flipped bit in an entry, the hard state or the snapshot, naming what is bad', async () => {
    const damaged = (flip: (storage: MemoryStorage) => void): MemoryStorage => {
      const storage = new MemoryStorage({ dataDir: 'disk-7' });
      storage.persist(batch({ compaction: null, entries: entries(1, 4, 1), hardState: hardState(1, 'a', 3) }), () => {});
      storage.persist(batch({ compaction: { meta: { index: 2, term: 1, config: { voters: ['a'], learners: [] } }, data: new Uint8Array([1, 2, 3]) } }), () => {});
      flip(storage);
      return storage;
    };
    const entryError = await storageFailure(damaged((storage) => storage.flipBit({ kind: 'entry', index: 3 }, 40)).load());
    expect(entryError.message).toContain('disk-7');
    expect(entryError.details).toMatchObject({ dataDir: 'disk-7', index: 3 });
    expect(() => damaged((storage) => storage.flipBit({ kind: 'entry', index: 4 }, 0)).loadNow()).toThrow(/index 4/);
    expect(() => damaged((storage) => storage.flipBit({ kind: 'hard-state' })).loadNow()).toThrow(/corrupt hard state/);
    expect(() => damaged((storage) => storage.flipBit({ kind: 'snapshot-meta' })).loadNow()).toThrow(/corrupt snapshot metadata/);
    expect(() => damaged((storage) => storage.flipBit({ kind: 'snapshot-data' })).loadNow()).toThrow(/corrupt snapshot data/);
  });

  it('detects a torn last write', () => {
    const storage = new MemoryStorage();
    storage.persist(batch({ entries: entries(1, 2, 1), hardState: hardState(1, 'a', 1) }), () => {});
    storage.persist(batch({ entries: entries(3, 5, 1) }), () => {});
    expect(storage.tearLastWrite()).toBe(entryKey(5));
    expect(() => storage.loadNow()).toThrow(/corrupt log entry \(checksum or shape\) at log index 5/);
    storage.persist(batch({ entries: entries(5, 5, 2), hardState: hardState(2, 'a', 1) }), () => {});
    expect(storage.tearLastWrite()).toBe('m:hard-state');
    expect(() => storage.loadNow()).toThrow(/corrupt hard state/);
  });

  it('fails the next write on request, writing nothing', () => {
    const storage = new MemoryStorage();
    storage.failNextWrite(new Error('disk full'));
    let failure: Error | null = null;
    storage.persist(batch({ entries: entries(1, 1, 1) }), (error) => (failure = error));
    expect(failure).toBeInstanceOf(ConcordError);
    expect(storage.loadNow().entries).toEqual([]);
  });
});
