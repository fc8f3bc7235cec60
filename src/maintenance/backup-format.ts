/**
 * The backup file `GET /v1/maintenance/snapshot` streams and `concord snapshot restore` seeds a
 * new cluster from: a fixed header, the KV state machine's snapshot (its own "CKVS" format,
 * src/kv/snapshot-codec.ts) as the payload, and a SHA-256 trailer over everything before it.
 *
 *   offset  bytes  field (integers big-endian)
 *        0      8  magic "CONCBKUP"
 *        8      4  format version (1)
 *       12      4  reserved, zero
 *       16      8  raft index the state reflects (every entry up to it applied, none after)
 *       24      8  raft term of the entry at that index
 *       32      8  KV store revision
 *       40      8  when the backup was taken (Unix ms, the serving node's wall clock)
 *       48      8  payload length in bytes
 *       56      n  payload: the KV snapshot
 *     56+n     32  SHA-256 of bytes [0, 56+n)
 *
 * The length in the header and the trailing checksum make truncation and corruption detectable
 * before anything is restored: decodeBackup() refuses such a file with a BackupFormatError that
 * says which, and never returns a payload it has not verified. The checksum covers the header
 * too, so a flipped bit in the index or revision is caught like one in the payload.
 */
import { createHash } from 'node:crypto';

export const BACKUP_MAGIC = 'CONCBKUP';
export const BACKUP_FORMAT_VERSION = 1;
export const BACKUP_HEADER_BYTES = 56;
export const BACKUP_CHECKSUM_BYTES = 32;

const MAGIC_BYTES = new TextEncoder().encode(BACKUP_MAGIC);

export interface BackupHeader {
  readonly formatVersion: number;
  readonly raftIndex: number;
  readonly raftTerm: number;
  readonly revision: number;
  readonly takenAtMs: number;
  readonly payloadBytes: number;
}

export interface DecodedBackup {
  readonly header: BackupHeader;
  /** The KV snapshot (verified against the checksum). */
  readonly payload: Uint8Array;
  /** SHA-256 of header and payload, lower-case hex: the file's identity. */
  readonly checksum: string;
}

/** What is wrong with a backup file: each kind gets its own message and, in the CLI, exit code. */
export type BackupProblem = 'bad_magic' | 'unsupported_version' | 'truncated' | 'corrupt';

export class BackupFormatError extends Error {
  override readonly name = 'BackupFormatError';

  constructor(
    readonly problem: BackupProblem,
    message: string,
  ) {
    super(message);
  }
}

export interface BackupPoint {
  readonly raftIndex: number;
  readonly raftTerm: number;
  readonly revision: number;
  readonly takenAtMs: number;
}

function sha256(bytes: Uint8Array): Uint8Array {
  return createHash('sha256').update(bytes).digest();
}

function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

function checkCount(value: number, what: string): bigint {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`backup ${what} ${value} is not a count`);
  return BigInt(value);
}

/** The backup file of `payload` (a KV snapshot) taken at `point`. */
export function encodeBackup(point: BackupPoint, payload: Uint8Array): Uint8Array {
  const file = new Uint8Array(BACKUP_HEADER_BYTES + payload.length + BACKUP_CHECKSUM_BYTES);
  const view = new DataView(file.buffer);
  file.set(MAGIC_BYTES, 0);
  view.setUint32(8, BACKUP_FORMAT_VERSION);
  view.setUint32(12, 0);
  view.setBigUint64(16, checkCount(point.raftIndex, 'raft index'));
  view.setBigUint64(24, checkCount(point.raftTerm, 'raft term'));
  view.setBigUint64(32, checkCount(point.revision, 'revision'));
  view.setBigUint64(40, checkCount(Math.floor(point.takenAtMs), 'time'));
  view.setBigUint64(48, BigInt(payload.length));
  file.set(payload, BACKUP_HEADER_BYTES);
  const end = BACKUP_HEADER_BYTES + payload.length;
  file.set(sha256(file.subarray(0, end)), end);
  return file;
}

/** The SHA-256 a file's trailer holds, lower-case hex, unverified: for a file just encoded. */
export function storedChecksum(file: Uint8Array): string {
  return toHex(file.subarray(file.length - BACKUP_CHECKSUM_BYTES));
}

function fail(problem: BackupProblem, message: string): never {
  throw new BackupFormatError(problem, message);
}

function readCount(view: DataView, offset: number, field: string): number {
  const value = view.getBigUint64(offset);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) fail('corrupt', `backup file is corrupt: ${field} ${value} is out of range`);
  return Number(value);
}

/**
 * Checks a backup file whole (magic, version, length, checksum) and returns its parts. Throws a
 * BackupFormatError naming the problem; the payload's own format is the KV snapshot decoder's
 * business (restore runs it before writing anything).
 */
export function decodeBackup(file: Uint8Array): DecodedBackup {
  const magicSeen = file.subarray(0, MAGIC_BYTES.length);
  if (!magicSeen.every((byte, i) => byte === MAGIC_BYTES[i])) {
    fail('bad_magic', `not a Concord backup file (it does not start with "${BACKUP_MAGIC}")`);
  }
  if (file.length < BACKUP_HEADER_BYTES) {
    fail('truncated', `backup file is truncated: ${file.length} bytes, shorter than its ${BACKUP_HEADER_BYTES}-byte header`);
  }
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const formatVersion = view.getUint32(8);
  if (formatVersion !== BACKUP_FORMAT_VERSION) {
    fail('unsupported_version', `backup format version ${formatVersion} is not supported (this build reads version ${BACKUP_FORMAT_VERSION})`);
  }
  const payloadBytes = readCount(view, 48, 'payload length');
  const expectedBytes = BACKUP_HEADER_BYTES + payloadBytes + BACKUP_CHECKSUM_BYTES;
  if (file.length < expectedBytes) {
    fail('truncated', `backup file is truncated: ${file.length} bytes, its header promises ${expectedBytes}`);
  }
  if (file.length > expectedBytes) {
    fail('corrupt', `backup file is corrupt: ${file.length} bytes, its header promises ${expectedBytes}`);
  }
  const end = BACKUP_HEADER_BYTES + payloadBytes;
  const computed = sha256(file.subarray(0, end));
  const stored = file.subarray(end);
  if (!computed.every((byte, i) => byte === stored[i])) {
    fail('corrupt', `backup file is corrupt: SHA-256 ${toHex(computed)} does not match the stored ${toHex(stored)}`);
  }
  if (view.getUint32(12) !== 0) fail('corrupt', 'backup file is corrupt: reserved header bytes are not zero');
  return {
    header: {
      formatVersion,
      raftIndex: readCount(view, 16, 'raft index'),
      raftTerm: readCount(view, 24, 'raft term'),
      revision: readCount(view, 32, 'revision'),
      takenAtMs: readCount(view, 40, 'time'),
      payloadBytes,
    },
    payload: file.subarray(BACKUP_HEADER_BYTES, end),
    checksum: toHex(computed),
  };
}

/** A file name for a backup: `concord-<cluster>-rev<revision>-<UTC time>.db`. */
export function backupFileName(clusterId: string, point: BackupPoint): string {
  const time = new Date(point.takenAtMs).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const cluster = clusterId.replace(/[^A-Za-z0-9_.-]/g, '_');
  return `concord-${cluster}-rev${point.revision}-${time}.db`;
}
