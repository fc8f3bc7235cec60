/**
 * The commands the KV state machine applies, the results it returns, and their log encoding.
 *
 * A command is an envelope (the proposer's wall clock, an optional idempotency key) around a
 * body; bodies are a union discriminated by `type`, applied by an exhaustive switch, so a later
 * body (locks, elections, the registry) is one more member here, one parser and one handler.
 * Log entries are msgpack (`useRecords: false`: every entry decodes on its own, with no structure
 * state shared between entries). Decoding never throws: garbage is an invalid_argument result.
 */
import { Packr } from 'msgpackr';
import type { KeyValue } from './types.ts';
import { type KvErrorResult, isKvError, kvError, toConcordError } from './kv-errors.ts';
import { DEFAULT_KV_LIMITS, type KvLimits } from './limits.ts';
import { parseCommand } from './command-parse.ts';
import type { LockKind } from '../lock/index.ts';
import type { LockCommandBody, LockFence, LockResultByType } from './lock-commands.ts';
import type {
  RegistryCommandBody,
  ServiceDeregisterResult,
  ServiceRegisterResult,
  ServiceStatusResult,
} from '../registry/types.ts';
import type { AuthCommandBody, AuthResultByType } from '../auth/types.ts';

export interface KvCommand {
  /** The proposer's wall clock when it proposed; the dedup window is measured on it. */
  readonly proposedAtMs: number;
  /** A retry with the same key within the dedup window applies nothing and gets the first result. */
  readonly idempotencyKey?: string;
  readonly body: KvCommandBody;
}

export type KvCommandBody =
  | PutCommand
  | DeleteCommand
  | DeletePrefixCommand
  | TxnCommand
  | LeaseGrantCommand
  | LeaseRevokeCommand
  | LeaseExpireCommand
  | CompactCommand
  | LockCommandBody
  | RegistryCommandBody
  | AuthCommandBody;

export type KvCommandType = KvCommandBody['type'];

export interface PutCommand {
  readonly type: 'put';
  readonly key: string;
  readonly value: string;
  /** Attaches the key to this lease; a put without it detaches the key from any lease. */
  readonly lease?: string;
  /** Applies only if the key's modRevision equals this; 0 = only if the key is absent. */
  readonly ifRevision?: number;
  /** Return the key's previous version as `prev`. */
  readonly prevKv?: boolean;
  /** Applies only while this token holds the lock (else stale_token). */
  readonly fence?: LockFence;
}

export interface DeleteCommand {
  readonly type: 'delete';
  readonly key: string;
  readonly ifRevision?: number;
}

export interface DeletePrefixCommand {
  readonly type: 'deletePrefix';
  /** Non-empty: deleting every key is not one request away. */
  readonly prefix: string;
}

export interface TxnCommand {
  readonly type: 'txn';
  /** All must hold for the success branch to run. */
  readonly compare: readonly TxnCompare[];
  readonly success: readonly TxnOp[];
  readonly failure: readonly TxnOp[];
  /** The txn applies (either branch) only while this token holds the lock (else stale_token). */
  readonly fence?: LockFence;
}

export type TxnCompareOp = '==' | '!=' | '<' | '>';

/** A txn guard: on a key, or on the token of a lock's (or an election's) current holder. */
export type TxnCompare = TxnKeyCompare | TxnLockCompare;

/**
 * A guard on a key, as the contract writes it. On an absent key, a `value` compare is false
 * whatever its op (as etcd), the revisions and version are 0, and the lease is "" (as for a key
 * without one).
 */
export type TxnKeyCompare =
  | { readonly key: string; readonly target: 'value' | 'lease'; readonly op: TxnCompareOp; readonly value: string }
  | {
      readonly key: string;
      readonly target: 'version' | 'createRevision' | 'modRevision';
      readonly op: TxnCompareOp;
      readonly value: number;
    };

/**
 * A guard on the fencing token of whoever holds the lock (or leads the election) when the txn
 * applies; 0 when nobody does (tokens start at 1). Unlike a txn's `fence`, which refuses the
 * whole txn with stale_token, it picks the branch: "do I still hold the lock" can be answered by
 * the failure branch. The contract writes `{lock: name}` or `{election: name}`; here it is the
 * fence's `{kind, name}`.
 */
export interface TxnLockCompare {
  readonly kind: LockKind;
  readonly name: string;
  readonly target: 'token';
  readonly op: TxnCompareOp;
  readonly value: number;
}

/** A txn op, as the contract writes it. A range `limit` of 0 or absent means no limit. */
export type TxnOp =
  | { readonly put: { readonly key: string; readonly value: string; readonly lease?: string } }
  | { readonly get: { readonly key: string } }
  | { readonly delete: { readonly key: string } }
  | { readonly range: { readonly prefix: string; readonly limit?: number } };

export interface LeaseGrantCommand {
  readonly type: 'leaseGrant';
  readonly ttlMs: number;
  /** A client-chosen id; else the state machine allocates one. */
  readonly id?: string;
}

export interface LeaseRevokeCommand {
  readonly type: 'leaseRevoke';
  readonly id: string;
}

/** Proposed by the leader when its monotonic countdown for the lease ran out. */
export interface LeaseExpireCommand {
  readonly type: 'leaseExpire';
  readonly id: string;
}

/** Drops watch history up to and including `revision`. */
export interface CompactCommand {
  readonly type: 'compact';
  readonly revision: number;
}

// ---- Results. Every success result carries the store revision it reflects. ----

export interface PutResult {
  readonly revision: number;
  readonly prev?: KeyValue;
}

export interface DeleteResult {
  readonly revision: number;
  readonly deleted: 0 | 1;
}

export interface DeletePrefixResult {
  readonly revision: number;
  readonly deleted: number;
}

export type TxnOpResult =
  | { readonly put: { readonly revision: number } }
  | { readonly get: { readonly kv: KeyValue | null } }
  | { readonly delete: { readonly deleted: 0 | 1 } }
  | { readonly range: { readonly items: readonly KeyValue[]; readonly more: boolean } };

export interface TxnResult {
  readonly succeeded: boolean;
  readonly revision: number;
  /** One per op of the branch that ran, in order. */
  readonly results: readonly TxnOpResult[];
}

export interface LeaseGrantResult {
  readonly id: string;
  readonly ttlMs: number;
  readonly revision: number;
}

/** Revoke and expiry: the attached keys were deleted at `revision`. */
export interface LeaseRevokeResult {
  readonly revision: number;
  readonly deleted: number;
}

export interface CompactResult {
  readonly revision: number;
  readonly compactRevision: number;
}

/** The success result of each command type. */
export interface KvResultByType extends LockResultByType, AuthResultByType {
  readonly put: PutResult;
  readonly delete: DeleteResult;
  readonly deletePrefix: DeletePrefixResult;
  readonly txn: TxnResult;
  readonly leaseGrant: LeaseGrantResult;
  readonly leaseRevoke: LeaseRevokeResult;
  readonly leaseExpire: LeaseRevokeResult;
  readonly compact: CompactResult;
  readonly serviceRegister: ServiceRegisterResult;
  readonly serviceDeregister: ServiceDeregisterResult;
  readonly serviceStatus: ServiceStatusResult;
}

export type KvSuccessResult = KvResultByType[KvCommandType];
export type KvResult = KvSuccessResult | KvErrorResult;
/** What a proposer of a `T` command gets back. */
export type KvResultOf<T extends KvCommandType> = KvResultByType[T] | KvErrorResult;

const packr = new Packr({ useRecords: false, mapsAsObjects: true });

/**
 * The log entry data of a command. It is validated first, by the very rules apply uses, and a
 * violation throws a ConcordError (invalid_argument / payload_too_large) for the server to send:
 * this keeps the log free of what every replica would reject anyway, and of lone surrogates,
 * whose bytes replicas might decode differently. Only known fields are encoded.
 */
export function encodeCommand(command: KvCommand, limits: KvLimits = DEFAULT_KV_LIMITS): Uint8Array {
  const parsed = parseCommand(command, limits);
  if (isKvError(parsed)) throw toConcordError(parsed);
  // A copy of its own: pack() returns a view of the buffer every Packr in the process shares
  // (msgpackr's is module-wide), grown to tens of KiB by peer frames and WAL records. As a log
  // entry the view kept that whole buffer alive until a snapshot: about 2 KiB per put on a
  // leader (heap snapshots, docs/performance.md).
  return new Uint8Array(packr.pack(parsed));
}

/** A log entry's command, or the invalid_argument / payload_too_large result it earns. */
export function decodeCommand(data: Uint8Array, limits: KvLimits = DEFAULT_KV_LIMITS): KvCommand | KvErrorResult {
  let decoded: unknown;
  try {
    // A view of its own: msgpackr caches a DataView on the array it decodes, and `data` is the
    // log's entry, kept until a snapshot covers it; the view and its DataView die young.
    decoded = packr.unpack(data.subarray());
  } catch {
    // msgpackr's messages may vary by version or native addon; the result must not.
    return kvError('invalid_argument', 'command is not valid msgpack');
  }
  return parseCommand(decoded, limits);
}
