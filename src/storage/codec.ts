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
import type { ClusterConfig, Entry, EntryType, HardState, LogIndex, MemberEndpoints, SnapshotMeta } from '../raft/types.ts';

/** This key space with the log in it: MemoryStorage's, and LevelStorage's (the format WalStorage migrates from). */
export const FORMAT_VERSION = 1;
/** WalStorage's data dir: the log and hard state in wal/, the snapshot's data in snap/, LevelDB the version and the snapshot's metadata. */
export const WAL_FORMAT_VERSION = 3;
/** As 3, but the snapshot's data in LevelDB (s:data): read as it is, and restamped 3 at open. */
export const WAL_FORMAT_VERSION_DATA_IN_LEVELDB = 2;

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
  // By character codes, not a regex and parseInt: this runs once per entry at every start.
  if (key.length !== ENTRY_KEY_PREFIX.length + INDEX_HEX_DIGITS || !key.startsWith(ENTRY_KEY_PREFIX)) return null;
  let index = 0;
  for (let i = ENTRY_KEY_PREFIX.length; i < key.length; i++) {
    const code = key.charCodeAt(i);
    let digit: number;
    if (code >= 0x30 && code <= 0x39) digit = code - 0x30; // 0-9
    else if (code >= 0x61 && code <= 0x66) digit = code - 0x57; // a-f (lower case only, as written)
    else return null;
    index = index * 16 + digit;
  }
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

/**
 * An unsigned integer in one of the encodings msgpack uses for non-negative integers below 2^32
 * (what msgpackr writes for them), at `at` in `bytes`; sets `cursor.at` past it. Null for any
 * other encoding: the caller then leaves the record to msgpackr.
 */
function readUint(bytes: Uint8Array, cursor: { at: number }): number | null {
  const at = cursor.at;
  const head = bytes[at];
  if (head === undefined) return null;
  if (head <= 0x7f) {
    cursor.at = at + 1;
    return head;
  }
  if (head === 0xcc && at + 1 < bytes.length) {
    cursor.at = at + 2;
    return bytes[at + 1]!;
  }
  if (head === 0xcd && at + 2 < bytes.length) {
    cursor.at = at + 3;
    return (bytes[at + 1]! << 8) | bytes[at + 2]!;
  }
  if (head === 0xce && at + 4 < bytes.length) {
    cursor.at = at + 5;
    return ((bytes[at + 1]! << 24) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 8) | bytes[at + 4]!) >>> 0;
  }
  return null;
}

/** The [start, end) of a msgpack bin at `cursor.at` that ends exactly at the end of `bytes`, or null. */
function readTrailingBin(bytes: Uint8Array, cursor: { at: number }): number | null {
  const at = cursor.at;
  const head = bytes[at];
  let length: number;
  let start: number;
  if (head === 0xc4 && at + 1 < bytes.length) {
    length = bytes[at + 1]!;
    start = at + 2;
  } else if (head === 0xc5 && at + 2 < bytes.length) {
    length = (bytes[at + 1]! << 8) | bytes[at + 2]!;
    start = at + 3;
  } else if (head === 0xc6 && at + 4 < bytes.length) {
    length = ((bytes[at + 1]! << 24) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 8) | bytes[at + 4]!) >>> 0;
    start = at + 5;
  } else {
    return null;
  }
  if (start + length !== bytes.length) return null;
  cursor.at = start;
  return start + length;
}

const FIXARRAY_4 = 0x94;

/**
 * The entries of many records at once, each exactly what decodeEntry returns for it (null where
 * it is corrupt): the load path's loop. Checksums are verified for every record as always. The
 * layout encodeEntry produces for indices and terms below 2^32 — [term, index, type, data] as a
 * fixarray of unsigned integers and a bin — is read directly rather than through msgpackr, and
 * the entries' data are private copies in one buffer shared by the batch rather than one
 * allocation each (an entry's data still aliases no stored record). Anything else, including
 * every malformed payload, takes decodeEntry's msgpackr path, so the verdicts cannot differ.
 */
export function decodeEntries(records: readonly Uint8Array[]): (Entry | null)[] {
  let slabBytes = 0;
  for (const record of records) slabBytes += record.length;
  const slab = new Uint8Array(slabBytes);
  let slabUsed = 0;
  const cursor = { at: 0 };
  const entries: (Entry | null)[] = new Array<Entry | null>(records.length);
  for (let i = 0; i < records.length; i++) {
    const record = records[i]!;
    let entry: Entry | null | undefined;
    if (record.length > CHECKSUM_BYTES + 1 && record[CHECKSUM_BYTES] === FIXARRAY_4) {
      const stored = ((record[0]! << 24) | (record[1]! << 16) | (record[2]! << 8) | record[3]!) >>> 0;
      if (checksum(record.subarray(CHECKSUM_BYTES)) !== stored) {
        entry = null;
      } else {
        cursor.at = CHECKSUM_BYTES + 1;
        const term = readUint(record, cursor);
        const index = term === null ? null : readUint(record, cursor);
        const typeCode = index === null ? null : readUint(record, cursor);
        const type = typeCode === null ? undefined : ENTRY_TYPES[typeCode];
        const dataEnd = type === undefined ? null : readTrailingBin(record, cursor);
        if (term !== null && index !== null && type !== undefined && dataEnd !== null) {
          const dataBegin = cursor.at;
          slab.set(record.subarray(dataBegin, dataEnd), slabUsed);
          const data = slab.subarray(slabUsed, slabUsed + (dataEnd - dataBegin));
          slabUsed += dataEnd - dataBegin;
          entry = { term, index, type, data };
        }
      }
    }
    entries[i] = entry === undefined ? decodeEntry(record) : entry;
  }
  return entries;
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

/** `dataChecksum` defaults to checksum(data); a caller that has it already passes it (a large snapshot's CRC is milliseconds). */
export function encodeSnapshotMeta(meta: SnapshotMeta, data: Uint8Array, dataChecksum: number = checksum(data)): Uint8Array {
  const { voters, learners, endpoints } = meta.config;
  const fields: unknown[] = [meta.index, meta.term, voters, learners, data.length, dataChecksum];
  // Endpoints came later (membership changes): a record without them reads as before.
  if (endpoints !== undefined) fields.push(endpoints);
  return encodeRecord(fields);
}

export function decodeSnapshotMeta(record: Uint8Array): StoredSnapshotMeta | null {
  const payload = decodeRecord(record);
  if (!Array.isArray(payload) || (payload.length !== 6 && payload.length !== 7)) return null;
  const [index, term, voters, learners, dataLength, dataChecksum, endpoints] = payload as unknown[];
  if (!isIndex(index) || !isIndex(term) || !isIndex(dataLength) || !isIndex(dataChecksum)) return null;
  if (!isStringArray(voters) || !isStringArray(learners)) return null;
  if (endpoints !== undefined && !isEndpointRecord(endpoints)) return null;
  const config: ClusterConfig = endpoints === undefined ? { voters, learners } : { voters, learners, endpoints };
  return { meta: { index, term, config }, dataLength, dataChecksum };
}

function isEndpointRecord(value: unknown): value is Record<string, MemberEndpoints> {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) return false;
  return Object.values(value).every(
    (entry: unknown) =>
      typeof entry === 'object' &&
      entry !== null &&
      typeof (entry as Record<string, unknown>)['peerAddress'] === 'string' &&
      typeof (entry as Record<string, unknown>)['clientUrl'] === 'string',
  );
}
