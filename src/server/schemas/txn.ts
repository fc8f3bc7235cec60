/**
 * The txn body: guards (on keys, or on the token holding a lock or an election), then the ops of
 * the branch that runs. The state machine checks the rest (key sizes, at most 128 ops in all),
 * with the same rules it applies.
 */
import { type Static, Type } from '@sinclair/typebox';
import { MAX_TXN_COMPARES, MAX_TXN_OPS, type TxnCompare } from '../../kv/index.ts';
import { MAX_LOCK_NAME_BYTES } from '../../lock/index.ts';
import { Revision, TimeoutMs, TimeoutQuery } from './common.ts';
import { FenceSchema } from './locks.ts';

const closed = { additionalProperties: false } as const;
const CompareOp = Type.Union([Type.Literal('=='), Type.Literal('!='), Type.Literal('<'), Type.Literal('>')]);

const LockName = Type.String({ minLength: 1, maxLength: MAX_LOCK_NAME_BYTES });
const HolderToken = Type.Integer({
  minimum: 0,
  maximum: Number.MAX_SAFE_INTEGER,
  description: "The fencing token of the current holder (or leader) when the txn applies; 0 when there is none.",
});

const Compare = Type.Union([
  Type.Object(
    { key: Type.String(), target: Type.Union([Type.Literal('value'), Type.Literal('lease')]), op: CompareOp, value: Type.String() },
    closed,
  ),
  Type.Object(
    {
      key: Type.String(),
      target: Type.Union([Type.Literal('version'), Type.Literal('createRevision'), Type.Literal('modRevision')]),
      op: CompareOp,
      value: Revision,
    },
    closed,
  ),
  // Lock compares choose the branch ("do I still hold it?"), where a fence refuses the whole txn.
  Type.Object({ lock: LockName, target: Type.Literal('token'), op: CompareOp, value: HolderToken }, closed),
  Type.Object({ election: LockName, target: Type.Literal('token'), op: CompareOp, value: HolderToken }, closed),
]);

type CompareBody = Static<typeof Compare>;

/** The state machine's form of a compare: a lock compare names its lock as a fence does. */
export function compareOf(compare: CompareBody): TxnCompare {
  if ('lock' in compare) return { kind: 'lock', name: compare.lock, target: compare.target, op: compare.op, value: compare.value };
  if ('election' in compare) return { kind: 'election', name: compare.election, target: compare.target, op: compare.op, value: compare.value };
  return compare;
}

const Op = Type.Union([
  Type.Object(
    { put: Type.Object({ key: Type.String(), value: Type.String(), lease: Type.Optional(Type.String({ minLength: 1 })) }, closed) },
    closed,
  ),
  Type.Object({ get: Type.Object({ key: Type.String() }, closed) }, closed),
  Type.Object({ delete: Type.Object({ key: Type.String() }, closed) }, closed),
  Type.Object({ range: Type.Object({ prefix: Type.String(), limit: Type.Optional(Revision) }, closed) }, closed),
]);

export const txnSchemas = {
  body: Type.Object(
    {
      compare: Type.Optional(Type.Array(Compare, { maxItems: MAX_TXN_COMPARES })),
      success: Type.Optional(Type.Array(Op, { maxItems: MAX_TXN_OPS })),
      failure: Type.Optional(Type.Array(Op, { maxItems: MAX_TXN_OPS })),
      fence: Type.Optional(FenceSchema),
      timeoutMs: Type.Optional(TimeoutMs),
    },
    closed,
  ),
  query: TimeoutQuery,
  response: Type.Object({
    succeeded: Type.Boolean(),
    revision: Revision,
    results: Type.Array(Type.Unknown(), {
      description:
        'One per op of the branch that ran: {"put":{"revision"}}, {"get":{"kv"}} (kv null when absent), {"delete":{"deleted"}}, {"range":{"items","more"}}.',
    }),
  }),
};
