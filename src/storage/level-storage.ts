/**
 * LevelStorage: format 1, one LevelDB (through `level`, classic-level underneath) per data dir,
 * holding the key space described in codec.ts, the log included. Production used it until
 * WalStorage (wal-storage.ts), which migrates such a data dir with loadKeySpace below; it stays
 * as that reader, and as a second implementation for the storage tests and the storage bench.
 *
 * Atomicity: every persist() is exactly one LevelDB WriteBatch (a chained `db.batch()`
 * written with `{ sync }`; see writeBatch for why not the array form). LevelDB appends a
 * batch to its write-ahead log as one checksummed record and, on recovery, replays whole
 * records only, so a crash leaves all of a batch or none of it. Unsynced batches may be lost
 * on power failure, but only as a suffix, which leaves the state after an earlier batch, and
 * every batch leaves a valid state. Truncation, snapshot install and compaction therefore
 * delete entries key by key inside that batch (planned from the in-memory LogBounds) and
 * never with `db.clear()`, which cannot join a batch: a crash between a clear and the batch
 * could leave a log that load() accepts with entries missing that this node acknowledged.
 *
 * The bounds come from load(), so load() must precede persist(), as it does in a node's life.
 */
import { Level } from 'level';
import { assert } from '../common/assert.ts';
import type { ConcordError } from '../common/errors.ts';
import type { PersistedState } from '../raft/types.ts';
import { type LogBounds, planBatch, type StorageOp } from './batch-plan.ts';
import { decodeVersion, encodeVersion, FORMAT_VERSION, VERSION_KEY } from './codec.ts';
import { ImageLoader, type LoadedImage } from './load-image.ts';
import { isStorageError, storageError } from './storage-error.ts';
import type { PersistBatch, Storage } from './storage.ts';

export type Database = Level<string, Uint8Array>;

/** What load() asks LevelDB for at a time: records, and bytes (whichever limit comes first). */
const LOAD_CHUNK_RECORDS = 8192;
const LOAD_CHUNK_BYTES = 4 * 1024 * 1024;

function hasCode(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && 'code' in error && error.code === code;
}

/** LevelDB's LOCK refuses a second opener; the cause says so, the top error only "not open". */
function isLocked(error: unknown): boolean {
  return hasCode(error, 'LEVEL_LOCKED') || (error instanceof Error && hasCode(error.cause, 'LEVEL_LOCKED'));
}

export async function openDatabase(dataDir: string): Promise<Database> {
  const db: Database = new Level<string, Uint8Array>(dataDir, { keyEncoding: 'utf8', valueEncoding: 'view' });
  try {
    await db.open();
  } catch (error) {
    if (isLocked(error)) {
      throw storageError({ dataDir }, 'data dir in use by another process or storage (LevelDB LOCK held)', error);
    }
    throw storageError({ dataDir }, 'cannot open the LevelDB database', error);
  }
  return db;
}

/** Stamps a new data dir with our version; refuses a dir from a version we cannot read. */
async function checkOrStampVersion(dataDir: string, db: Database): Promise<void> {
  const stored = await db.get(VERSION_KEY);
  if (stored !== undefined) {
    const version = decodeVersion(stored);
    if (version !== String(FORMAT_VERSION)) {
      const problem = `unknown format version ${JSON.stringify(version)} (this build reads ${FORMAT_VERSION})`;
      throw storageError({ dataDir, version }, problem);
    }
    return;
  }
  const existingKeys = await db.keys({ limit: 1 }).all();
  // Keys without a version are not ours (or not a finished creation): load() will say so.
  if (existingKeys.length > 0) return;
  await db.put(VERSION_KEY, encodeVersion(FORMAT_VERSION), { sync: true });
}

/**
 * Writes `ops` as one LevelDB WriteBatch. A chained batch is as atomic as db.batch(array) and
 * builds several times faster (abstract-level checks and copies each operation of an array).
 * Async, so that a closed database's synchronous throw becomes a rejection like any failure.
 */
async function writeBatch(db: Database, ops: readonly StorageOp[], sync: boolean): Promise<void> {
  const chained = db.batch();
  try {
    for (const op of ops) {
      if (op.type === 'put') chained.put(op.key, op.value);
      else chained.del(op.key);
    }
  } catch (error) {
    await chained.close();
    throw error;
  }
  await chained.write({ sync });
}

/** Reads and checks the whole key space of `db` (codec.ts's layout): LevelStorage's load, and the format-1 reader WalStorage migrates from. */
export async function loadKeySpace(dataDir: string, db: Database): Promise<LoadedImage> {
  const loader = new ImageLoader(dataDir);
  // One iterator reads every key from one implicit LevelDB snapshot: a consistent view. It
  // reads in large chunks (the default 16 KiB per call would take thousands of round trips
  // to the thread pool for a long log), each asked for before the previous one is decoded,
  // so LevelDB reads the next chunk while this thread decodes the last.
  const iterator = db.iterator({ highWaterMarkBytes: LOAD_CHUNK_BYTES });
  try {
    let next = iterator.nextv(LOAD_CHUNK_RECORDS);
    for (;;) {
      const records = await next;
      if (records.length === 0) break;
      next = iterator.nextv(LOAD_CHUNK_RECORDS);
      loader.add(records);
    }
  } catch (error) {
    throw storageError({ dataDir }, 'cannot read the database', error);
  } finally {
    await iterator.close();
  }
  return loader.finish();
}

export class LevelStorage implements Storage {
  /** The stored log's extent, known once load() has read it; kept current by persist(). */
  private bounds: LogBounds | null = null;
  private persisting = false;
  /** Set by a failed write: the node must stop, and no further write is attempted. */
  private failure: ConcordError | null = null;

  private constructor(
    readonly dataDir: string,
    private readonly db: Database,
  ) {}

  /**
   * Opens (creating if missing) the LevelDB database in `dataDir`. Rejects with a
   * 'storage_failure' ConcordError if the dir is locked by another opener or holds an
   * unknown format version.
   */
  static async open(dataDir: string): Promise<LevelStorage> {
    const db = await openDatabase(dataDir);
    try {
      await checkOrStampVersion(dataDir, db);
    } catch (error) {
      await db.close();
      if (isStorageError(error)) throw error;
      throw storageError({ dataDir }, 'cannot read or stamp the format version', error);
    }
    return new LevelStorage(dataDir, db);
  }

  async load(): Promise<PersistedState> {
    assert(!this.persisting, 'load() during a persist(): the state would be read mid-write');
    const loaded = await loadKeySpace(this.dataDir, this.db);
    this.bounds = loaded.bounds;
    return loaded.state;
  }

  persist(batch: PersistBatch, done: (error: Error | null) => void): void {
    assert(!this.persisting, 'persist() while another persist() is outstanding');
    assert(this.failure === null, 'persist() after a failed write: the node must stop');
    assert(this.bounds !== null, 'persist() before load(): the stored log bounds are unknown');
    const plan = planBatch(this.bounds, batch);
    this.persisting = true;
    // then(onFulfilled, onRejected): an exception thrown by done(null) must not call done again.
    writeBatch(this.db, plan.ops, batch.sync).then(
      () => {
        this.persisting = false;
        this.bounds = plan.bounds;
        done(null);
      },
      (cause: unknown) => {
        this.persisting = false;
        this.failure = storageError({ dataDir: this.dataDir }, 'write failed', cause);
        done(this.failure);
      },
    );
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}
