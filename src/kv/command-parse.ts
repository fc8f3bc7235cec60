/**
 * Validation of commands: from whatever msgpack decoded (or a server built) to a well-formed
 * KvCommand, or the error result it earns. It runs on every replica at apply, so its verdicts
 * are part of the replicated semantics: they depend on the bytes and the limits only.
 *
 * Each parser builds a fresh object with only the known fields; unknown fields, wrong types,
 * maps, dates, bigints and extension objects are invalid_argument; strings must be well-formed
 * Unicode. The field parsers are shared with the lock commands' (parse-fields.ts).
 */
import type { KvCommand, KvCommandBody, TxnCommand, TxnCompare, TxnCompareOp, TxnKeyCompare, TxnLockCompare, TxnOp } from './commands.ts';
import type { KvErrorResult } from './kv-errors.ts';
import {
  MAX_TXN_COMPARES,
  MAX_TXN_OPS,
  type KvLimits,
  checkIdempotencyKey,
  checkKey,
  checkLeaseTtl,
  checkPrefix,
  checkValue,
} from './limits.ts';
import { REGISTRY_BODY_FIELDS, parseRegistryBody } from '../registry/command-parse.ts';
import { AUTH_BODY_FIELDS, parseAuthBody } from '../auth/command-parse.ts';
import { LOCK_BODY_FIELDS, lockRef, parseFence, parseLockBody } from './lock-command-parse.ts';
import { type Fields, ParseError, array, check, count, fail, flag, key, leaseId, optional, record, string } from './parse-fields.ts';

const COMPARE_OPS: readonly TxnCompareOp[] = ['==', '!=', '<', '>'];

function compareOp(value: unknown, path: string): TxnCompareOp {
  if (typeof value !== 'string' || !COMPARE_OPS.includes(value as TxnCompareOp)) {
    fail('invalid_argument', `${path}: expected one of ${COMPARE_OPS.join(' ')}`);
  }
  return value as TxnCompareOp;
}

/** A compare names a key, or a lock (kind and name): never both, never neither. */
function parseCompare(value: unknown, path: string): TxnCompare {
  const fields = record(value, path, ['key', 'kind', 'name', 'target', 'op', 'value']);
  const onKey = fields['key'] !== undefined;
  const onLock = fields['kind'] !== undefined || fields['name'] !== undefined;
  if (onKey === onLock) fail('invalid_argument', `${path}: expected either key, or the kind and name of a lock`);
  return onKey ? parseKeyCompare(fields, path) : parseLockCompare(fields, path);
}

function parseLockCompare(fields: Fields, path: string): TxnLockCompare {
  const lock = lockRef(fields, path);
  if (fields['target'] !== 'token') fail('invalid_argument', `${path}.target: a lock compare's target is token`);
  const op = compareOp(fields['op'], `${path}.op`);
  return { ...lock, target: 'token', op, value: count(fields['value'], `${path}.value`) };
}

function parseKeyCompare(fields: Fields, path: string): TxnKeyCompare {
  const compareKey = key(fields['key'], `${path}.key`);
  const op = compareOp(fields['op'], `${path}.op`);
  const target = fields['target'];
  switch (target) {
    case 'value':
    case 'lease':
      return { key: compareKey, target, op, value: string(fields['value'], `${path}.value`) };
    case 'version':
    case 'createRevision':
    case 'modRevision':
      return { key: compareKey, target, op, value: count(fields['value'], `${path}.value`) };
    default:
      return fail('invalid_argument', `${path}.target: expected value, version, createRevision, modRevision or lease`);
  }
}

function parseTxnOp(value: unknown, path: string, limits: KvLimits): TxnOp {
  const fields = record(value, path, ['put', 'get', 'delete', 'range']);
  const kinds = Object.keys(fields);
  if (kinds.length !== 1) fail('invalid_argument', `${path}: expected exactly one of put, get, delete, range`);
  if (fields['put'] !== undefined) {
    const put = record(fields['put'], `${path}.put`, ['key', 'value', 'lease']);
    const putValue = string(put['value'], `${path}.put.value`);
    check(checkValue(putValue, limits, `${path}.put.value`));
    const putKey = key(put['key'], `${path}.put.key`);
    return { put: { key: putKey, value: putValue, ...optional(put, 'lease', leaseId, `${path}.put`) } };
  }
  if (fields['get'] !== undefined) {
    const get = record(fields['get'], `${path}.get`, ['key']);
    return { get: { key: key(get['key'], `${path}.get.key`) } };
  }
  if (fields['delete'] !== undefined) {
    const del = record(fields['delete'], `${path}.delete`, ['key']);
    return { delete: { key: key(del['key'], `${path}.delete.key`) } };
  }
  const range = record(fields['range'], `${path}.range`, ['prefix', 'limit']);
  const prefix = string(range['prefix'], `${path}.range.prefix`);
  check(checkPrefix(prefix, `${path}.range.prefix`));
  return { range: { prefix, ...optional(range, 'limit', count, `${path}.range`) } };
}

/** Like etcd: two writes to one key in a branch would make the branch's outcome order-dependent. */
function checkDistinctWrites(ops: readonly TxnOp[], path: string): void {
  const written = new Set<string>();
  for (const op of ops) {
    const writtenKey = 'put' in op ? op.put.key : 'delete' in op ? op.delete.key : undefined;
    if (writtenKey === undefined) continue;
    if (written.has(writtenKey)) {
      fail('invalid_argument', `${path}: key ${JSON.stringify(writtenKey)} is written twice`);
    }
    written.add(writtenKey);
  }
}

function parseTxn(fields: Fields, limits: KvLimits): TxnCommand {
  const compareRaw = array(fields['compare'] ?? [], 'body.compare', MAX_TXN_COMPARES);
  const compare = compareRaw.map((c, i) => parseCompare(c, `body.compare[${i}]`));
  const successRaw = array(fields['success'] ?? [], 'body.success', MAX_TXN_OPS);
  const failureRaw = array(fields['failure'] ?? [], 'body.failure', MAX_TXN_OPS);
  if (successRaw.length + failureRaw.length > MAX_TXN_OPS) {
    fail('invalid_argument', `txn: at most ${MAX_TXN_OPS} ops in all`);
  }
  const success = successRaw.map((op, i) => parseTxnOp(op, `body.success[${i}]`, limits));
  const failure = failureRaw.map((op, i) => parseTxnOp(op, `body.failure[${i}]`, limits));
  checkDistinctWrites(success, 'body.success');
  checkDistinctWrites(failure, 'body.failure');
  return { type: 'txn', compare, success, failure, ...optional(fields, 'fence', parseFence, 'body') };
}

const BODY_FIELDS: Readonly<Record<KvCommandBody['type'], readonly string[]>> = {
  put: ['type', 'key', 'value', 'lease', 'ifRevision', 'prevKv', 'fence'],
  delete: ['type', 'key', 'ifRevision'],
  deletePrefix: ['type', 'prefix'],
  txn: ['type', 'compare', 'success', 'failure', 'fence'],
  leaseGrant: ['type', 'ttlMs', 'id'],
  leaseRevoke: ['type', 'id'],
  leaseExpire: ['type', 'id'],
  compact: ['type', 'revision'],
  ...REGISTRY_BODY_FIELDS,
  ...LOCK_BODY_FIELDS,
  ...AUTH_BODY_FIELDS,
};

function isBodyType(type: unknown): type is KvCommandBody['type'] {
  return typeof type === 'string' && Object.hasOwn(BODY_FIELDS, type);
}

function parseBody(value: unknown, limits: KvLimits): KvCommandBody {
  const type = typeof value === 'object' && value !== null ? (value as Fields)['type'] : undefined;
  if (!isBodyType(type)) fail('invalid_argument', 'body.type: unknown command');
  const fields = record(value, 'body', BODY_FIELDS[type]);
  switch (type) {
    case 'put': {
      const putValue = string(fields['value'], 'body.value');
      check(checkValue(putValue, limits));
      return {
        type,
        key: key(fields['key'], 'body.key'),
        value: putValue,
        ...optional(fields, 'lease', leaseId, 'body'),
        ...optional(fields, 'ifRevision', count, 'body'),
        ...optional(fields, 'prevKv', flag, 'body'),
        ...optional(fields, 'fence', parseFence, 'body'),
      };
    }
    case 'delete':
      return { type, key: key(fields['key'], 'body.key'), ...optional(fields, 'ifRevision', count, 'body') };
    case 'deletePrefix': {
      const prefix = string(fields['prefix'], 'body.prefix');
      check(checkKey(prefix, 'body.prefix')); // a key's rules: non-empty, at most 1024 bytes
      return { type, prefix };
    }
    case 'txn':
      return parseTxn(fields, limits);
    case 'leaseGrant': {
      const ttlMs = fields['ttlMs'];
      if (typeof ttlMs !== 'number') fail('invalid_argument', 'body.ttlMs: expected a number');
      check(checkLeaseTtl(ttlMs, 'body.ttlMs'));
      return { type, ttlMs, ...optional(fields, 'id', leaseId, 'body') };
    }
    case 'leaseRevoke':
    case 'leaseExpire':
      return { type, id: leaseId(fields['id'], 'body.id') };
    case 'compact':
      return { type, revision: count(fields['revision'], 'body.revision') };
    case 'lockAcquire':
    case 'lockRelease':
    case 'lockWithdraw':
    case 'electionProclaim':
    case 'lockDelayEnd':
      return parseLockBody(type, fields);
    case 'serviceRegister':
    case 'serviceDeregister':
    case 'serviceStatus':
      return parseRegistryBody(type, fields);
    case 'authRolePut':
    case 'authRoleDelete':
    case 'authUserPut':
    case 'authUserDelete':
    case 'authTokenCreate':
    case 'authTokenRevoke':
    case 'authBootstrap':
      return parseAuthBody(type, fields);
  }
}

/** A well-formed command built from `value`, or the error result it earns. Never throws. */
export function parseCommand(value: unknown, limits: KvLimits): KvCommand | KvErrorResult {
  try {
    const fields = record(value, 'command', ['proposedAtMs', 'idempotencyKey', 'body']);
    const proposedAtMs = count(fields['proposedAtMs'], 'command.proposedAtMs');
    const idempotency = optional(fields, 'idempotencyKey', string, 'command');
    if (idempotency.idempotencyKey !== undefined) check(checkIdempotencyKey(idempotency.idempotencyKey));
    return { proposedAtMs, ...idempotency, body: parseBody(fields['body'], limits) };
  } catch (error) {
    if (error instanceof ParseError) return error.result;
    throw error;
  }
}
