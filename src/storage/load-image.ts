/**
 * Validates a whole stored key space and rebuilds the PersistedState from it: the one load
 * path of both Storage implementations. Anything doubtful is an error naming the data dir
 * (and the index): a node that silently drops a bad entry could forget a vote or an entry it
 * acknowledged, which breaks Raft's safety; refusing to start only costs availability.
 */
import type { Entry, HardState, PersistedState, Snapshot } from '../raft/types.ts';
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

interface RawImage {
  version?: Uint8Array;
  hardState?: Uint8Array;
  snapshotMeta?: Uint8Array;
  snapshotData?: Uint8Array;
  entries: Array<readonly [string, Uint8Array]>;
}

function sortRecords(dataDir: string, records: Iterable<readonly [string, Uint8Array]>): RawImage {
  const image: RawImage = { entries: [] };
  for (const [key, value] of records) {
    if (key === VERSION_KEY) image.version = value;
    else if (key === HARD_STATE_KEY) image.hardState = value;
    else if (key === SNAPSHOT_META_KEY) image.snapshotMeta = value;
    else if (key === SNAPSHOT_DATA_KEY) image.snapshotData = value;
    else if (key.startsWith(ENTRY_KEY_PREFIX)) image.entries.push([key, value]);
    else throw storageError({ dataDir }, `unexpected key ${JSON.stringify(key)}`);
  }
  return image;
}

function checkVersion(dataDir: string, stored: Uint8Array | undefined): void {
  if (stored === undefined) throw storageError({ dataDir }, 'no format version: not a Concord data dir');
  const version = decodeVersion(stored);
  if (version !== String(FORMAT_VERSION)) {
    const problem = `unknown format version ${JSON.stringify(version)} (this build reads ${FORMAT_VERSION})`;
    throw storageError({ dataDir, version }, problem);
  }
}

function loadSnapshot(dataDir: string, image: RawImage): Snapshot | null {
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

function loadEntries(dataDir: string, image: RawImage, snapshot: Snapshot | null): Entry[] {
  const entries: Entry[] = [];
  let previousIndex = snapshot?.meta.index ?? 0;
  let previousTerm = snapshot?.meta.term ?? 0;
  let decoded: (Entry | null)[] = [];
  for (let position = 0; position < image.entries.length; position++) {
    const [key] = image.entries[position]!;
    const index = parseEntryKey(key);
    if (index === null) throw storageError({ dataDir }, `malformed log key ${JSON.stringify(key)}`);
    const offset = position % DECODE_BATCH;
    if (offset === 0) {
      const batch = image.entries.slice(position, position + DECODE_BATCH).map(([, value]) => value);
      decoded = decodeEntries(batch);
    }
    const entry = decoded[offset] ?? null;
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

/**
 * The state stored in `records` (every key of the data dir, in key order), fully checked:
 * format version, every checksum, contiguity after the snapshot, commit within the log.
 */
export function loadImage(dataDir: string, records: Iterable<readonly [string, Uint8Array]>): LoadedImage {
  const image = sortRecords(dataDir, records);
  checkVersion(dataDir, image.version);
  let hardState: HardState = EMPTY_HARD_STATE;
  if (image.hardState !== undefined) {
    const decoded = decodeHardState(image.hardState);
    if (decoded === null) throw storageError({ dataDir }, 'corrupt hard state (checksum or shape)');
    hardState = decoded;
  }
  const snapshot = loadSnapshot(dataDir, image);
  const entries = loadEntries(dataDir, image, snapshot);
  const snapshotIndex = snapshot?.meta.index ?? 0;
  const lastIndex = entries.at(-1)?.index ?? snapshotIndex;
  if (hardState.commit > lastIndex) {
    throw storageError({ dataDir }, `hard state commit ${hardState.commit} beyond the last index ${lastIndex}`);
  }
  return { state: { hardState, snapshot, entries }, bounds: { snapshotIndex, lastIndex } };
}
