/**
 * The on-disk format shared by LevelStorage and MemoryStorage: one key space of string keys
 * and checksummed binary values. Sharing it means the in-memory store's fault injection
 * (bit flips, torn writes) exercises exactly the detection code production runs.
 *
 * Keys (ASCII, so byte order is the order LevelDB sorts them in):
 *   m:version      format version, plain decimal text (readable even by a future format)
 *   m:hard-state   record [term, vote, commit]
 *   m:snapshot     record [index, term, voters, learners, dataLength, dataCrc32]
 *   s:data         the snapshot's data, raw; its CRC32 and length live in m:snapshot
 *   e:<16 hex>     record [term, index, typeCode, data]; the index is zero-padded big-endian
 *                  hex, so the byte order of keys is the numeric order of indices
 *
 * A record is CRC32(payload) as 4 big-endian bytes followed by a msgpackr payload. Entries
 * carry their own index so an entry under the wrong key is caught, not just a flipped bit.
 */
import { crc32 } from 'node:zlib';
import { Packr } from 'msgpackr';
import type { ClusterConfig, Entry, EntryType, HardState, LogIndex, SnapshotMeta } from '../raft/types.ts';

export const FORMAT_VERSION = 1;

export const VERSION_KEY = 'm:version';
export const HARD_STATE_KEY = 'm:hard-state';
export const SNAPSHOT_META_KEY = 'm:snapshot';
export const SNAPSHOT_DATA_KEY = 's:data';
export const ENTRY_KEY_PREFIX = 'e:';
/** Just past every entry key (';' follows ':' in ASCII): the exclusive end of a log range. */
export const ENTRY_KEY_END = 'e;';

const INDEX_HEX_DIGITS = 16;
const CHECKSUM_BYTES = 4;

/** Records, not msgpackr's shared-structure extension: each value decodes on its own. */
const packr = new Packr({ useRecords: false });

const ENTRY_TYPES: readonly EntryType[] = ['normal', 'noop', 'config'];

export function entryKey(index: LogIndex): string {
  return ENTRY_KEY_PREFIX + index.toString(16).padStart(INDEX_HEX_DIGITS, '0');
}

/** The index named by an entry key, or null when the key is not a well-formed entry key. */
export function parseEntryKey(key: string): LogIndex | null {
  const hex = key.slice(ENTRY_KEY_PREFIX.length);
  if (!key.startsWith(ENTRY_KEY_PREFIX) || !/^[0-9a-f]{16}$/.test(hex)) return null;
  const index = Number.parseInt(hex, 16);
  return Number.isSafeInteger(index) ? index : null;
}

export function encodeVersion(version: number): Uint8Array {
  return new TextEncoder().encode(String(version));
}

/** The stored version as written (for the error message when it is not ours). */
export function decodeVersion(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}

export function checksum(bytes: Uint8Array): number {
  return crc32(bytes) >>> 0;
}

function encodeRecord(payload: unknown): Uint8Array {
  const body = packr.pack(payload); // a view of msgpackr's reused buffer: copied below
  // Buffer.allocUnsafe draws from Node's pool: small records cost a fraction of a fresh array.
  const record = Buffer.allocUnsafe(CHECKSUM_BYTES + body.length);
  record.writeUInt32BE(checksum(body), 0);
  record.set(body, CHECKSUM_BYTES);
  return record;
}

/** The record's payload, or undefined when it is too short or its checksum does not match. */
function decodeRecord(record: Uint8Array): unknown {
  if (record.length <= CHECKSUM_BYTES) return undefined;
  const stored = ((record[0]! << 24) | (record[1]! << 16) | (record[2]! << 8) | record[3]!) >>> 0;
  const body = record.subarray(CHECKSUM_BYTES);
  if (checksum(body) !== stored) return undefined;
  try {
    return packr.unpack(body);
  } catch {
    return undefined; // a checksum collision on garbage: still corruption, reported by the caller
  }
}

const isIndex = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;
const isStringArray = (value: unknown): value is string[] =>
  Array.isArray(value) && value.every((item) => typeof item === 'string');

/** A private copy: decoded bytes would otherwise alias the stored value (and its later faults). */
function copyBytes(value: unknown): Uint8Array | null {
  return value instanceof Uint8Array ? new Uint8Array(value) : null;
}

export function encodeEntry(entry: Entry): Uint8Array {
  return encodeRecord([entry.term, entry.index, ENTRY_TYPES.indexOf(entry.type), entry.data]);
}

/** The entry, or null when the record is corrupt. */
export function decodeEntry(record: Uint8Array): Entry | null {
  const payload = decodeRecord(record);
  if (!Array.isArray(payload) || payload.length !== 4) return null;
  const [term, index, typeCode, rawData] = payload as unknown[];
  const type = typeof typeCode === 'number' ? ENTRY_TYPES[typeCode] : undefined;
  const data = copyBytes(rawData);
  if (!isIndex(term) || !isIndex(index) || type === undefined || data === null) return null;
  return { term, index, type, data };
}

export function encodeHardState(hardState: HardState): Uint8Array {
  return encodeRecord([hardState.term, hardState.vote, hardState.commit]);
}

export function decodeHardState(record: Uint8Array): HardState | null {
  const payload = decodeRecord(record);
  if (!Array.isArray(payload) || payload.length !== 3) return null;
  const [term, vote, commit] = payload as unknown[];
  if (!isIndex(term) || typeof vote !== 'string' || !isIndex(commit)) return null;
  return { term, vote, commit };
}

/** What m:snapshot holds: the metadata plus what the separately stored data must match. */
export interface StoredSnapshotMeta {
  readonly meta: SnapshotMeta;
  readonly dataLength: number;
  readonly dataChecksum: number;
}

export function encodeSnapshotMeta(meta: SnapshotMeta, data: Uint8Array): Uint8Array {
  const { voters, learners } = meta.config;
  return encodeRecord([meta.index, meta.term, voters, learners, data.length, checksum(data)]);
}

export function decodeSnapshotMeta(record: Uint8Array): StoredSnapshotMeta | null {
  const payload = decodeRecord(record);
  if (!Array.isArray(payload) || payload.length !== 6) return null;
  const [index, term, voters, learners, dataLength, dataChecksum] = payload as unknown[];
  if (!isIndex(index) || !isIndex(term) || !isIndex(dataLength) || !isIndex(dataChecksum)) return null;
  if (!isStringArray(voters) || !isStringArray(learners)) return null;
  const config: ClusterConfig = { voters, learners };
  return { meta: { index, term, config }, dataLength, dataChecksum };
}
