/**
 * Transactions: the compares decide which branch runs, and the whole branch applies at one
 * revision, or none of it does. Compares on keys and on lock tokens are all read in this entry,
 * before any write, so they see one state: the one every replica has at this point of the log. Everything that could make an op fail (a put's lease missing)
 * is checked before the first write, so there is nothing to roll back. Ops run in order, and a
 * get or range sees the branch's earlier writes (as in etcd). Two writes to one key in a branch
 * were already refused by the parser.
 */
import { assertNever } from '../common/assert.ts';
import type { TxnCommand, TxnCompare, TxnKeyCompare, TxnOp, TxnOpResult, TxnResult } from './commands.ts';
import { type KvErrorResult, kvError } from './kv-errors.ts';
import type { MvccWrite } from './mvcc-store.ts';
import type { KeyValue } from './types.ts';
import { type ApplyContext, finishWrite } from './apply-context.ts';
import { userVisibleRange } from './system-keys.ts';
import { fenceFailure, lockTokenNow } from './apply-locks.ts';

/** Whether one compare holds now: against its key's current version, or its lock's holder. */
function compareHolds(context: ApplyContext, compare: TxnCompare): boolean {
  if ('key' in compare) return keyCompareHolds(context.store.get(compare.key), compare);
  return holds(lockTokenNow(context, compare.kind, compare.name), compare.op, compare.value);
}

/** Whether a key compare holds against the key's current version (undefined when absent). */
export function keyCompareHolds(kv: KeyValue | undefined, compare: TxnKeyCompare): boolean {
  switch (compare.target) {
    case 'value':
      // As etcd: a value compare on an absent key is false, whatever its op.
      return kv !== undefined && holds(kv.value, compare.op, compare.value);
    case 'lease':
      return holds(kv?.lease ?? '', compare.op, compare.value);
    case 'version':
      return holds(kv?.version ?? 0, compare.op, compare.value);
    case 'createRevision':
      return holds(kv?.createRevision ?? 0, compare.op, compare.value);
    case 'modRevision':
      return holds(kv?.modRevision ?? 0, compare.op, compare.value);
    default:
      return assertNever(compare, 'txn compare target');
  }
}

function holds<T extends string | number>(actual: T, op: TxnCompare['op'], expected: T): boolean {
  switch (op) {
    case '==':
      return actual === expected;
    case '!=':
      return actual !== expected;
    case '<':
      return actual < expected;
    case '>':
      return actual > expected;
    default:
      return assertNever(op, 'txn compare op');
  }
}

export function applyTxn(context: ApplyContext, body: TxnCommand): TxnResult | KvErrorResult {
  const stale = fenceFailure(context, body.fence);
  if (stale !== null) return stale;
  const succeeded = body.compare.every((compare) => compareHolds(context, compare));
  const ops = succeeded ? body.success : body.failure;
  for (const op of ops) {
    if ('put' in op && op.put.lease !== undefined && !context.leases.has(op.put.lease)) {
      return kvError('not_found', `lease ${JSON.stringify(op.put.lease)} not found`, { lease: op.put.lease });
    }
  }
  const write = context.store.beginWrite();
  const results = ops.map((op) => runOp(context, write, op));
  const revision = finishWrite(context, write);
  return { succeeded, revision, results };
}

function runOp(context: ApplyContext, write: MvccWrite, op: TxnOp): TxnOpResult {
  if ('put' in op) {
    write.put(op.put.key, op.put.value, op.put.lease);
    return { put: { revision: write.revision } };
  }
  if ('get' in op) return { get: { kv: context.store.get(op.get.key) ?? null } };
  if ('delete' in op) return { delete: { deleted: write.delete(op.delete.key) === undefined ? 0 : 1 } };
  if ('range' in op) {
    const { items, more } = userVisibleRange(context.store, op.range.prefix, op.range.limit ?? 0);
    return { range: { items, more } };
  }
  return assertNever(op, 'txn op');
}
