/**
 * What one record of the write-ahead log says. Every persist() is exactly one record, so the
 * frame's checksum makes a batch all-or-nothing, as one LevelDB write batch was.
 *
 * A record may move the snapshot marker (the index and term the log continues from):
 *   - 'base'    opens every segment: the marker and hard state as they stand, so a segment can
 *               be replayed without the ones before it once those are deleted;
 *   - 'compact' our own snapshot: entries up to the marker are dropped;
 *   - 'install' a snapshot from the leader: the whole log is replaced;
 * then appends entries (any held at or after the first one's index are dropped first) and sets
 * the hard state. The snapshot itself is kept apart (snapshot-files.ts); the marker only names it.
 *
 * The payload is a msgpack array [op, markerIndex, markerTerm, hardState | null, entries],
 * a hard state as [term, vote, commit], an entry as [term, index, typeCode, data].
 */
import { Packr } from 'msgpackr';
import type { Entry, EntryType, HardState, LogIndex, Term } from '../../raft/types.ts';
import { alignedFrameBytes, writeFrame } from './frame.ts';

export type MarkerOp = 'none' | 'base' | 'compact' | 'install';

export interface SnapshotMarker {
  readonly index: LogIndex;
  readonly term: Term;
}

export interface WalRecord {
  readonly op: MarkerOp;
  /** The new marker (ignored when op is 'none'). */
  readonly marker: SnapshotMarker;
  readonly hardState: HardState | null;
  readonly entries: readonly Entry[];
}

const OPS: readonly MarkerOp[] = ['none', 'base', 'compact', 'install'];
const ENTRY_TYPES: readonly EntryType[] = ['normal', 'noop', 'config'];

/** Plain arrays, no shared structures: each record decodes on its own. */
const packr = new Packr({ useRecords: false });

/** The payload of `record`: a view of msgpackr's reused buffer, valid until the next encode. */
export function encodeWalRecord(record: WalRecord): Uint8Array {
  const { hardState } = record;
  return packr.pack([
    OPS.indexOf(record.op),
    record.marker.index,
    record.marker.term,
    hardState === null ? null : [hardState.term, hardState.vote, hardState.commit],
    record.entries.map((entry) => [entry.term, entry.index, ENTRY_TYPES.indexOf(entry.type), entry.data]),
  ]);
}

const isIndex = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;

function decodeHardState(value: unknown): HardState | null | undefined {
  if (value === null) return null;
  if (!Array.isArray(value) || value.length !== 3) return undefined;
  const [term, vote, commit] = value as unknown[];
  if (!isIndex(term) || typeof vote !== 'string' || !isIndex(commit)) return undefined;
  return { term, vote, commit };
}

function decodeEntry(value: unknown): Entry | undefined {
  if (!Array.isArray(value) || value.length !== 4) return undefined;
  const [term, index, typeCode, data] = value as unknown[];
  const type = typeof typeCode === 'number' ? ENTRY_TYPES[typeCode] : undefined;
  if (!isIndex(term) || !isIndex(index) || type === undefined || !(data instanceof Uint8Array)) return undefined;
  return { term, index, type, data };
}

/**
 * The record in `payload`, or null when it does not have a record's shape. Its entries' bytes
 * are views of one exact copy of the payload: a view of `payload` would keep the whole segment
 * it was read from alive, and a copy per entry cost each entry an ArrayBuffer of its own.
 */
export function decodeWalRecord(payload: Uint8Array): WalRecord | null {
  let value: unknown;
  try {
    value = packr.unpack(new Uint8Array(payload));
  } catch {
    return null;
  }
  if (!Array.isArray(value) || value.length !== 5) return null;
  const [opCode, markerIndex, markerTerm, rawHardState, rawEntries] = value as unknown[];
  const op = typeof opCode === 'number' ? OPS[opCode] : undefined;
  if (op === undefined || !isIndex(markerIndex) || !isIndex(markerTerm) || !Array.isArray(rawEntries)) return null;
  const hardState = decodeHardState(rawHardState);
  if (hardState === undefined) return null;
  const entries: Entry[] = [];
  for (const rawEntry of rawEntries) {
    const entry = decodeEntry(rawEntry);
    if (entry === undefined) return null;
    entries.push(entry);
  }
  return { op, marker: { index: markerIndex, term: markerTerm }, hardState, entries };
}

/** The frame of `record`, ready for one write (the payload copied as it is made). */
export function frameRecord(record: WalRecord): Buffer {
  const payload = encodeWalRecord(record);
  const frame = Buffer.allocUnsafe(alignedFrameBytes(payload.length));
  writeFrame(frame, 0, payload);
  return frame;
}
