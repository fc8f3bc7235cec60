// fast-check arbitraries for KV command sequences: few keys and lease ids so that commands
// collide (guards fail, leases hold keys, retries hit the dedup table), and proposer clocks
// that mostly advance but sometimes lag.
import fc from 'fast-check';
import type { KvCommand, KvCommandBody, TxnCompare, TxnOp } from '../../src/kv/index.ts';

export const keyArb = fc.constantFrom('a', 'a/1', 'a/2', 'a/10', 'b', 'b/1', 'c', 'é', '\u{1F600}');
export const prefixArb = fc.constantFrom('', 'a', 'a/', 'b', 'b/', 'c', 'z');
const valueArb = fc.constantFrom('', 'x', 'y', 'value', 'é');
const leaseIdArb = fc.constantFrom('1', '2', '3', 'L');
const revisionArb = fc.nat({ max: 12 });

const opArb = fc.constantFrom('==', '!=', '<', '>' as const);

/** `{ [name]: value }`, or `{}` for undefined (exactOptionalPropertyTypes). */
function maybe<N extends string, T>(name: N, value: T | undefined): { [K in N]?: T } {
  return (value === undefined ? {} : { [name]: value }) as { [K in N]?: T };
}

const compareArb: fc.Arbitrary<TxnCompare> = fc.oneof(
  fc.record({ key: keyArb, target: fc.constant('value' as const), op: opArb, value: valueArb }),
  fc.record({ key: keyArb, target: fc.constant('lease' as const), op: opArb, value: fc.constantFrom('', '1', 'L') }),
  fc.record({
    key: keyArb,
    target: fc.constantFrom('version', 'createRevision', 'modRevision' as const),
    op: opArb,
    value: revisionArb,
  }),
);

function txnOpArb(withLeases: boolean): fc.Arbitrary<TxnOp> {
  const lease = withLeases ? fc.option(leaseIdArb, { nil: undefined, freq: 3 }) : fc.constant(undefined);
  return fc.oneof(
    fc.record({ key: keyArb, value: valueArb, lease }).map(({ key, value, lease: id }) => ({ put: { key, value, ...maybe('lease', id) } })),
    keyArb.map((key) => ({ get: { key } })),
    keyArb.map((key) => ({ delete: { key } })),
    fc.record({ prefix: prefixArb, limit: fc.nat({ max: 3 }) }).map((range) => ({ range })),
  );
}

/** Keeps the first write of each key, as the parser demands. */
function distinctWrites(ops: TxnOp[]): TxnOp[] {
  const written = new Set<string>();
  return ops.filter((op) => {
    const key = 'put' in op ? op.put.key : 'delete' in op ? op.delete.key : undefined;
    if (key === undefined) return true;
    if (written.has(key)) return false;
    written.add(key);
    return true;
  });
}

export function txnArb(withLeases: boolean): fc.Arbitrary<KvCommandBody> {
  return fc
    .record({
      compare: fc.array(compareArb, { maxLength: 3 }),
      success: fc.array(txnOpArb(withLeases), { maxLength: 5 }),
      failure: fc.array(txnOpArb(withLeases), { maxLength: 5 }),
    })
    .map(({ compare, success, failure }) => ({ type: 'txn', compare, success: distinctWrites(success), failure: distinctWrites(failure) }));
}

const ifRevisionArb = fc.option(revisionArb, { nil: undefined, freq: 2 });

const putArb = fc
  .record({ key: keyArb, value: valueArb, ifRevision: ifRevisionArb, prevKv: fc.boolean() })
  .map(({ key, value, ifRevision, prevKv }) => ({ type: 'put' as const, key, value, prevKv, ...maybe('ifRevision', ifRevision) }));
const deleteArb = fc
  .record({ key: keyArb, ifRevision: ifRevisionArb })
  .map(({ key, ifRevision }) => ({ type: 'delete' as const, key, ...maybe('ifRevision', ifRevision) }));
const deletePrefixArb = prefixArb.filter((prefix) => prefix !== '').map((prefix) => ({ type: 'deletePrefix' as const, prefix }));
const leasedPutArb = fc.record({ key: keyArb, value: valueArb, lease: leaseIdArb }).map((put) => ({ type: 'put' as const, ...put }));
const grantArb = fc
  .record({ ttlMs: fc.constantFrom(500, 1000), id: fc.option(leaseIdArb, { nil: undefined }) })
  .map(({ ttlMs, id }) => ({ type: 'leaseGrant' as const, ttlMs, ...maybe('id', id) }));

/** Key commands only: what the reference model covers. */
export const keyBodyArb: fc.Arbitrary<KvCommandBody> = fc.oneof(
  { weight: 4, arbitrary: putArb },
  { weight: 2, arbitrary: deleteArb },
  { weight: 1, arbitrary: deletePrefixArb },
  { weight: 2, arbitrary: txnArb(false) },
);

const authNameArb = fc.constantFrom('root', 'alice', 'bob', 'ops');
const roleNameArb = fc.constantFrom('root', 'reader', 'writer');
const hashArb = fc.constantFrom('a', 'b', 'c', 'd').map((digit) => digit.repeat(64));
const permissionArb = fc.oneof(
  fc.constant({ resource: 'admin' as const }),
  fc.record({
    resource: fc.constantFrom('key' as const, 'lock' as const, 'election' as const, 'service' as const),
    access: fc.constantFrom('read' as const, 'write' as const, 'readwrite' as const),
    prefix: prefixArb,
  }),
);

/** Auth commands over a few names, so creations, conflicts, refusals and bootstraps all happen. */
export const authBodyArb: fc.Arbitrary<KvCommandBody> = fc.oneof(
  hashArb.map((hash) => ({ type: 'authBootstrap' as const, hash })),
  fc.record({ type: fc.constant('authRolePut' as const), name: roleNameArb, permissions: fc.array(permissionArb, { maxLength: 3 }) }),
  roleNameArb.map((name) => ({ type: 'authRoleDelete' as const, name })),
  fc.record({ type: fc.constant('authUserPut' as const), name: authNameArb, roles: fc.uniqueArray(roleNameArb, { maxLength: 2 }).map((roles) => roles.sort()) }),
  authNameArb.map((name) => ({ type: 'authUserDelete' as const, name })),
  fc.record(
    { type: fc.constant('authTokenCreate' as const), id: fc.constantFrom('t1', 't2', 't3'), user: authNameArb, hash: hashArb, ttlMs: fc.integer({ min: 1000, max: 60_000 }) },
    { requiredKeys: ['type', 'id', 'user', 'hash'] },
  ),
  fc.constantFrom('t1', 't2', 't3', 'bootstrap').map((id) => ({ type: 'authTokenRevoke' as const, id })),
);

/** Every command type, leases, compaction and auth included. */
export const anyBodyArb: fc.Arbitrary<KvCommandBody> = fc.oneof(
  { weight: 6, arbitrary: keyBodyArb },
  { weight: 2, arbitrary: leasedPutArb },
  { weight: 1, arbitrary: txnArb(true) },
  { weight: 3, arbitrary: grantArb },
  { weight: 1, arbitrary: leaseIdArb.map((id) => ({ type: 'leaseRevoke' as const, id })) },
  { weight: 1, arbitrary: leaseIdArb.map((id) => ({ type: 'leaseExpire' as const, id })) },
  { weight: 1, arbitrary: fc.nat({ max: 10 }).map((revision) => ({ type: 'compact' as const, revision })) },
  { weight: 2, arbitrary: authBodyArb },
);

/** Envelopes: clocks that mostly advance (sometimes lag), and occasional retried keys. */
export function commandsArb(bodyArb: fc.Arbitrary<KvCommandBody>, maxLength: number): fc.Arbitrary<KvCommand[]> {
  const stepArb = fc.record({
    body: bodyArb,
    clockStepMs: fc.integer({ min: -2000, max: 30_000 }),
    // About one command in eight carries a key, so retries happen but most commands apply.
    idempotencyKey: fc.oneof({ weight: 7, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constantFrom('r1', 'r2', 'r3') }),
  });
  return fc.array(stepArb, { maxLength, size: 'max' }).map((steps) => {
    let clockMs = 1_000_000;
    return steps.map(({ body, clockStepMs, idempotencyKey }) => {
      clockMs = Math.max(0, clockMs + clockStepMs);
      return { proposedAtMs: clockMs, ...(idempotencyKey === undefined ? {} : { idempotencyKey }), body };
    });
  });
}
