/**
 * Validates a whole stored key space and rebuilds the PersistedState from it: the one load
 * path of both Storage implementations. Anything doubtful is an error naming the data dir
 * (and the index): a node that silently drops a bad entry could forget a vote or an entry it
 * acknowledged, which breaks Raft's safety; refusing to start only costs availability.
 */
import type { Entry, HardState, LogIndex, PersistedState, Snapshot } from '../raft/types.ts';
import { EMPTY_HARD_STATE } from '../raft/types.ts';
import type { LogBounds } from './batch-plan.ts';
import {
  checksum,
  decodeEntries,
  decodeHardState,
  decodeSnapshotMeta,
  decodeVersion,
  ENTRY_KEY_PREFIX,
  FORMAT_VERSION,
  HARD_STATE_KEY,
  parseEntryKey,
  SNAPSHOT_DATA_KEY,
  SNAPSHOT_META_KEY,
  VERSION_KEY,
} from './codec.ts';
import { storageError } from './storage-error.ts';

export interface LoadedImage {
  readonly state: PersistedState;
  readonly bounds: LogBounds;
}

/** The data dir's singular records, as found. */
export interface RawImage {
  version?: Uint8Array | undefined;
  hardState?: Uint8Array | undefined;
  snapshotMeta?: Uint8Array | undefined;
  snapshotData?: Uint8Array | undefined;
}

function checkVersion(dataDir: string, stored: Uint8Array | undefined): void {
  if (stored === undefined) throw storageError({ dataDir }, 'no format version: not a Concord data dir');
  const version = decodeVersion(stored);
  if (version !== String(FORMAT_VERSION)) {
    const problem = `unknown format version ${JSON.stringify(version)} (this build reads ${FORMAT_VERSION})`;
    throw storageError({ dataDir, version }, problem);
  }
}

/** The stored snapshot, checked against its metadata's length and checksum; null when there is none. */
export function loadSnapshot(dataDir: string, image: RawImage): Snapshot | null {
  if (image.snapshotMeta === undefined) {
    if (image.snapshotData !== undefined) throw storageError({ dataDir }, 'snapshot data without metadata');
    return null;
  }
  const stored = decodeSnapshotMeta(image.snapshotMeta);
  if (stored === null) throw storageError({ dataDir }, 'corrupt snapshot metadata (checksum or shape)');
  const data = image.snapshotData;
  if (data === undefined) throw storageError({ dataDir }, `snapshot ${stored.meta.index} has no data`);
  if (data.length !== stored.dataLength || checksum(data) !== stored.dataChecksum) {
    throw storageError({ dataDir }, `corrupt snapshot data (snapshot ${stored.meta.index}, checksum or length)`);
  }
  return { meta: stored.meta, data: new Uint8Array(data) };
}

/**
 * Entries are decoded a batch at a time (decodeEntries: one shared buffer for a batch's data);
 * small batches, so that an entry kept long after its neighbours were compacted away keeps
 * little else alive.
 */
const DECODE_BATCH = 1024;

/**
 * Builds the LoadedImage from a data dir's records as they are read, in key order, one chunk
 * after another (`add`), so that a long log's records are decoded while the rest is still being
 * read and are garbage as soon as they are decoded, rather than all held until the end. Every
 * verdict waits for finish(), which checks in exactly the order a whole-image check would (an
 * unexpected key first, then the version, hard state, snapshot, and the log from its start): the
 * error a damaged data dir gets does not depend on how its records were chunked.
 */
export class ImageLoader {
  private readonly image: RawImage = {};
  private unexpectedKey: string | undefined;
  /** Per log position: the index its key names, or null for a malformed key. */
  private readonly entryIndices: (LogIndex | null)[] = [];
  /** The first malformed log key (the only one an error can name: checks stop at the first). */
  private malformedKey: string | undefined;
  /** Per log position, decoded: the entry, or null when its record is corrupt. */
  private readonly decoded: (Entry | null)[] = [];
  private undecoded: Uint8Array[] = [];

  constructor(private readonly dataDir: string) {}

  /** The next records of the data dir, continuing in key order. Never throws. */
  add(records: Iterable<readonly [string, Uint8Array]>): void {
    for (const [key, value] of records) {
      if (key.startsWith(ENTRY_KEY_PREFIX)) {
        const index = parseEntryKey(key);
        if (index === null && this.malformedKey === undefined) this.malformedKey = key;
        this.entryIndices.push(index);
        this.undecoded.push(value);
        if (this.undecoded.length === DECODE_BATCH) this.decodePending();
      } else if (key === VERSION_KEY) this.image.version = value;
      else if (key === HARD_STATE_KEY) this.image.hardState = value;
      else if (key === SNAPSHOT_META_KEY) this.image.snapshotMeta = value;
      else if (key === SNAPSHOT_DATA_KEY) this.image.snapshotData = value;
      else this.unexpectedKey ??= key;
    }
  }

  /** The state stored in the records added, fully checked; throws a storage error naming what is wrong. */
  finish(): LoadedImage {
    const { dataDir, image } = this;
    if (this.unexpectedKey !== undefined) throw storageError({ dataDir }, `unexpected key ${JSON.stringify(this.unexpectedKey)}`);
    this.decodePending();
    checkVersion(dataDir, image.version);
    let hardState: HardState = EMPTY_HARD_STATE;
    if (image.hardState !== undefined) {
      const decoded = decodeHardState(image.hardState);
      if (decoded === null) throw storageError({ dataDir }, 'corrupt hard state (checksum or shape)');
      hardState = decoded;
    }
    const snapshot = loadSnapshot(dataDir, image);
    const entries = this.checkEntries(snapshot);
    const snapshotIndex = snapshot?.meta.index ?? 0;
    const lastIndex = entries.at(-1)?.index ?? snapshotIndex;
    if (hardState.commit > lastIndex) {
      throw storageError({ dataDir }, `hard state commit ${hardState.commit} beyond the last index ${lastIndex}`);
    }
    return { state: { hardState, snapshot, entries }, bounds: { snapshotIndex, lastIndex } };
  }

  private decodePending(): void {
    if (this.undecoded.length === 0) return;
    for (const entry of decodeEntries(this.undecoded)) this.decoded.push(entry);
    this.undecoded = [];
  }

  private checkEntries(snapshot: Snapshot | null): Entry[] {
    const { dataDir } = this;
    const entries: Entry[] = [];
    let previousIndex = snapshot?.meta.index ?? 0;
    let previousTerm = snapshot?.meta.term ?? 0;
    for (let position = 0; position < this.entryIndices.length; position++) {
      const index = this.entryIndices[position] ?? null;
      if (index === null) throw storageError({ dataDir }, `malformed log key ${JSON.stringify(this.malformedKey)}`);
      const entry = this.decoded[position] ?? null;
      if (entry === null) throw storageError({ dataDir, index }, 'corrupt log entry (checksum or shape)');
      if (entry.index !== index) {
        throw storageError({ dataDir, index }, `entry claims index ${entry.index} but is stored`);
      }
      if (index !== previousIndex + 1) {
        const problem = index <= previousIndex ? 'entry at or before the snapshot index' : `log gap after ${previousIndex}`;
        throw storageError({ dataDir, index }, problem);
      }
      if (entry.term < previousTerm) {
        throw storageError({ dataDir, index }, `term ${entry.term} below the previous term ${previousTerm}`);
      }
      entries.push(entry);
      previousIndex = index;
      previousTerm = entry.term;
    }
    return entries;
  }
}

/**
 * The state stored in `records` (every key of the data dir, in key order), fully checked:
 * format version, every checksum, contiguity after the snapshot, commit within the log.
 */
export function loadImage(dataDir: string, records: Iterable<readonly [string, Uint8Array]>): LoadedImage {
  const loader = new ImageLoader(dataDir);
  loader.add(records);
  return loader.finish();
}
