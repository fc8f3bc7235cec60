/**
 * The snapshot format of the KV state machine: `"CKVS"`, a format version byte, then msgpack.
 * Keys and events are tuples (smaller than objects, and their field order cannot drift), lists
 * are in the order the machine iterates them, so equal states encode to equal bytes (which lets
 * tests and the simulator compare replicas by digest).
 *
 * A snapshot is our own output, but it crossed a disk or the network: decoding checks shapes
 * and throws a ConcordError('storage_failure') naming what is wrong, including an unknown
 * format version, rather than load something half-understood.
 *
 * Versions: 2 added the lock table (`locks`), 3 the auth table (`auth`: users, roles, hashed
 * tokens). An older snapshot still loads, as a state without what it lacks (there was none
 * then); an older reader refuses a newer version rather than drop locks or auth.
 */
import { Packr } from 'msgpackr';
import { ConcordError } from '../common/errors.ts';
import type { KvResult } from './commands.ts';
import type { DedupEntry, DedupState } from './dedup.ts';
import type { LeaseTableState } from './leases.ts';
import { type LockTableState, lockStateFromWire, lockStateToWire } from '../lock/index.ts';
import type { KeyValue, WatchEvent } from './types.ts';
import { MsgpackReader, MsgpackWriter } from './msgpack-pieces.ts';
import { type Slices, allSlices } from '../common/slices.ts';
import type { AuthTableState } from '../auth/auth-table.ts';
import { authStateFromWire, authStateToWire } from '../auth/state-codec.ts';

export const SNAPSHOT_FORMAT_VERSION = 3;
/** Older versions this build still reads. */
const READABLE_FORMAT_VERSIONS: readonly number[] = [1, 2, SNAPSHOT_FORMAT_VERSION];
const MAGIC = [0x43, 0x4b, 0x56, 0x53]; // "CKVS"
const HEADER_BYTES = MAGIC.length + 1;

/** Settings that shape replicated behaviour; they travel with the state. */
export interface KvStateMachineConfig {
  readonly maxValueBytes: number;
  readonly historyMaxEvents: number;
  readonly dedupWindowMs: number;
  readonly dedupMaxEntries: number;
}

export interface KvSnapshotState {
  readonly appliedIndex: number;
  readonly revision: number;
  readonly config: KvStateMachineConfig;
  /** Sorted by key. */
  readonly kvs: readonly KeyValue[];
  readonly leases: LeaseTableState;
  readonly locks: LockTableState;
  readonly compactRevision: number;
  readonly history: readonly WatchEvent[];
  readonly dedup: DedupState;
  readonly auth: AuthTableState;
}

type KvTuple = [string, string, number, number, number, string | null];
type EventTuple = [string, string, string | null, number, number, number, string | null, KvTuple | null];

const packr = new Packr({ useRecords: false, mapsAsObjects: true });

function kvToTuple(kv: KeyValue): KvTuple {
  return [kv.key, kv.value, kv.createRevision, kv.modRevision, kv.version, kv.lease ?? null];
}

function eventToTuple(event: WatchEvent): EventTuple {
  const prev = event.prev === undefined ? null : kvToTuple(event.prev);
  const { type, key, createRevision, modRevision, version } = event;
  return [type, key, event.value ?? null, createRevision, modRevision, version, event.lease ?? null, prev];
}

export function encodeSnapshot(state: KvSnapshotState): Uint8Array {
  return allSlices(encodeSnapshotInSlices(state, Number.MAX_SAFE_INTEGER));
}

/**
 * The same bytes as encodeSnapshot, written a slice at a time: the generator yields after every
 * `elementsPerSlice` elements of the long lists (keys, history, idempotency keys), so that a node
 * can take a snapshot between turns of its event loop instead of stalling for all of it (a
 * large state takes 100 ms and more to encode). Everything but those lists is encoded before
 * this returns; the lists are the caller's arrays of values never mutated (KeyValues, watch
 * events, dedup entries), so the state may move on meanwhile and the bytes are still those of
 * the state passed in.
 */
export function encodeSnapshotInSlices(state: KvSnapshotState, elementsPerSlice: number): Slices<Uint8Array> {
  const writer = new MsgpackWriter(packr);
  writer.raw(Uint8Array.from([...MAGIC, SNAPSHOT_FORMAT_VERSION]));
  // The map's fields in a fixed order, as a whole-object pack would write them.
  writer.mapHeader(10);
  writer.field('appliedIndex', state.appliedIndex);
  writer.field('revision', state.revision);
  writer.field('config', { ...state.config });
  // Copies (slice): msgpackr may pack into the same buffer again before these are written.
  const leases = packr.pack({ nextId: state.leases.nextId, leases: state.leases.leases.map((lease) => [lease.id, lease.ttlMs]) }).slice();
  const locks = packr.pack(lockStateToWire(state.locks)).slice();
  const auth = packr.pack(authStateToWire(state.auth)).slice();
  const { kvs, history } = state;
  const dedupEntries = state.dedup.entries;
  const maxSeenProposedAtMs = state.dedup.maxSeenProposedAtMs;
  const compactRevision = state.compactRevision;
  return (function* slices(): Slices<Uint8Array> {
    writer.key('kvs');
    yield* writer.list(kvs, kvToTuple, elementsPerSlice);
    writer.key('leases');
    writer.raw(leases);
    writer.key('locks');
    writer.raw(locks);
    writer.field('compactRevision', compactRevision);
    writer.key('history');
    yield* writer.list(history, eventToTuple, elementsPerSlice);
    writer.key('dedup');
    writer.mapHeader(2);
    writer.field('maxSeenProposedAtMs', maxSeenProposedAtMs);
    writer.key('entries');
    yield* writer.list(dedupEntries, (entry) => [entry.key, entry.proposedAtMs, entry.result], elementsPerSlice);
    writer.key('auth');
    writer.raw(auth);
    return writer.finish();
  })();
}

function corrupt(message: string, cause?: unknown): never {
  throw new ConcordError('storage_failure', `KV snapshot: ${message}`, {}, cause === undefined ? undefined : { cause });
}

type Fields = Readonly<Record<string, unknown>>;

function object(value: unknown, path: string): Fields {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) corrupt(`${path} is not an object`);
  return value as Fields;
}

function list(value: unknown, path: string): readonly unknown[] {
  if (!Array.isArray(value)) corrupt(`${path} is not a list`);
  return value;
}

function count(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) corrupt(`${path} is not a count`);
  return value;
}

function text(value: unknown, path: string): string {
  if (typeof value !== 'string') corrupt(`${path} is not a string`);
  return value;
}

function optionalText(value: unknown, path: string): string | undefined {
  return value === null ? undefined : text(value, path);
}

function tupleToKv(value: unknown, path: string): KeyValue {
  const [key, kvValue, createRevision, modRevision, version, lease] = list(value, path);
  const kv = {
    key: text(key, `${path}.key`),
    value: text(kvValue, `${path}.value`),
    createRevision: count(createRevision, path),
    modRevision: count(modRevision, path),
    version: count(version, path),
  };
  const leaseId = optionalText(lease, `${path}.lease`);
  return leaseId === undefined ? kv : { ...kv, lease: leaseId };
}

function tupleToEvent(value: unknown, path: string): WatchEvent {
  const [type, key, eventValue, createRevision, modRevision, version, lease, prev] = list(value, path);
  if (type !== 'put' && type !== 'delete') corrupt(`${path}.type is ${String(type)}`);
  const valueText = optionalText(eventValue, `${path}.value`);
  const leaseId = optionalText(lease, `${path}.lease`);
  return {
    type,
    key: text(key, `${path}.key`),
    ...(valueText === undefined ? {} : { value: valueText }),
    createRevision: count(createRevision, path),
    modRevision: count(modRevision, path),
    version: count(version, path),
    ...(leaseId === undefined ? {} : { lease: leaseId }),
    ...(prev === null ? {} : { prev: tupleToKv(prev, `${path}.prev`) }),
  };
}

function decodeConfig(value: unknown): KvStateMachineConfig {
  const config = object(value, 'config');
  return {
    maxValueBytes: count(config['maxValueBytes'], 'config.maxValueBytes'),
    historyMaxEvents: count(config['historyMaxEvents'], 'config.historyMaxEvents'),
    dedupWindowMs: count(config['dedupWindowMs'], 'config.dedupWindowMs'),
    dedupMaxEntries: count(config['dedupMaxEntries'], 'config.dedupMaxEntries'),
  };
}

/** A dedup entry's tuple; results are our own objects, re-encoded as they were: only their outer shape is checked. */
function tupleToDedupEntry(value: unknown, index: number): DedupEntry {
  const [key, proposedAtMs, result] = list(value, `dedup.entries[${index}]`);
  return {
    key: text(key, 'dedup key'),
    proposedAtMs: count(proposedAtMs, 'dedup proposedAtMs'),
    result: object(result, 'dedup result') as unknown as KvResult,
  };
}

export function decodeSnapshot(data: Uint8Array): KvSnapshotState {
  return allSlices(decodeSnapshotInSlices(data, Number.MAX_SAFE_INTEGER));
}

/**
 * decodeSnapshot a slice at a time: the generator yields after every `elementsPerSlice`
 * elements of the long lists (keys, history, idempotency keys), so that a node restoring a
 * large snapshot keeps serving between slices (a state of 100,000 idempotency keys takes 150 ms
 * and more to decode). It reads the fields in whatever order they come, so snapshots of every
 * readable version (each packed whole by msgpackr then) decode the same way.
 */
export function* decodeSnapshotInSlices(data: Uint8Array, elementsPerSlice: number): Slices<KvSnapshotState> {
  if (data.length < HEADER_BYTES || MAGIC.some((byte, i) => data[i] !== byte)) corrupt('not a KV snapshot (bad magic)');
  const version = data[MAGIC.length];
  if (version === undefined || !READABLE_FORMAT_VERSIONS.includes(version)) {
    corrupt(`unknown format version ${String(version)} (this build reads version ${SNAPSHOT_FORMAT_VERSION})`);
  }
  const reader = new MsgpackReader(packr, data, HEADER_BYTES, corrupt);
  const root = new Map<string, unknown>();
  let kvs: KeyValue[] | undefined;
  let history: WatchEvent[] | undefined;
  let dedupEntries: DedupEntry[] | undefined;
  let maxSeenProposedAtMs: unknown;
  for (let fields = reader.mapHeader('snapshot'); fields > 0; fields--) {
    const key = reader.value('a snapshot field name');
    if (key === 'kvs') kvs = yield* reader.list('kvs', (kv, i) => tupleToKv(kv, `kvs[${i}]`), elementsPerSlice);
    else if (key === 'history') history = yield* reader.list('history', (event, i) => tupleToEvent(event, `history[${i}]`), elementsPerSlice);
    else if (key === 'dedup') {
      for (let dedupFields = reader.mapHeader('dedup'); dedupFields > 0; dedupFields--) {
        const dedupKey = reader.value('a dedup field name');
        if (dedupKey === 'entries') dedupEntries = yield* reader.list('dedup.entries', tupleToDedupEntry, elementsPerSlice);
        else if (dedupKey === 'maxSeenProposedAtMs') maxSeenProposedAtMs = reader.value('dedup.maxSeenProposedAtMs');
        else corrupt(`dedup has an unknown field ${String(dedupKey)}`);
      }
    } else root.set(text(key, 'a snapshot field name'), reader.value(String(key)));
  }
  if (!reader.atEnd) corrupt('bytes follow the snapshot');
  const leases = object(root.get('leases'), 'leases');
  return {
    appliedIndex: count(root.get('appliedIndex'), 'appliedIndex'),
    revision: count(root.get('revision'), 'revision'),
    config: decodeConfig(root.get('config')),
    kvs: kvs ?? corrupt('kvs is missing'),
    leases: {
      nextId: count(leases['nextId'], 'leases.nextId'),
      leases: list(leases['leases'], 'leases.leases').map((lease, i) => {
        const [id, ttlMs] = list(lease, `leases[${i}]`);
        return { id: text(id, `leases[${i}].id`), ttlMs: count(ttlMs, `leases[${i}].ttlMs`) };
      }),
    },
    compactRevision: count(root.get('compactRevision'), 'compactRevision'),
    history: history ?? corrupt('history is missing'),
    dedup: {
      maxSeenProposedAtMs: count(maxSeenProposedAtMs, 'dedup.maxSeenProposedAtMs'),
      entries: dedupEntries ?? corrupt('dedup.entries is missing'),
    },
    // Version 1 has no `locks`: the empty table.
    locks: lockStateFromWire(version === 1 ? undefined : object(root.get('locks'), 'locks'), corrupt),
    // Versions 1 and 2 have no `auth`: no users, roles or tokens.
    auth: authStateFromWire(version < 3 ? undefined : object(root.get('auth'), 'auth'), corrupt),
  };
}
