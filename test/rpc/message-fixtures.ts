/**
 * Raft messages for the rpc tests: one hand-written sample of every type (for table tests) and
 * fast-check arbitraries that generate any valid message (for round-trip properties).
 */
import fc from 'fast-check';
import type { Message, MessageType } from '../../src/raft/messages.ts';
import { encodeConfigEntry } from '../../src/raft/membership.ts';
import type { ClusterConfig, Entry, SnapshotMeta } from '../../src/raft/types.ts';

const bytes = (...values: number[]): Uint8Array => new Uint8Array(values);
const meta: SnapshotMeta = { index: 40, term: 3, config: { voters: ['a', 'b', 'c'], learners: ['d'] } };
const envelope = { from: 'a', to: 'b', term: 7 };

/** One valid message of every type, keyed by type so a new type fails to compile here. */
export const SAMPLE_MESSAGES: Readonly<Record<MessageType, Message>> = {
  'forward-proposals': { ...envelope, type: 'forward-proposals', proposals: [{ id: 3, data: bytes(7, 8) }, { id: 4, data: bytes() }] },
  'forward-proposals-response': { ...envelope, type: 'forward-proposals-response', ids: [3, 4], indexes: [12, 0] },
  'forward-keepalives': { ...envelope, type: 'forward-keepalives', keepalives: [{ id: 5, lease: 'web-1' }, { id: 6, lease: 'x' }] },
  'forward-keepalives-response': { ...envelope, type: 'forward-keepalives-response', leading: true, ids: [5, 6], ttls: [30_000, 0] },
  'pre-vote': { ...envelope, type: 'pre-vote', lastLogIndex: 10, lastLogTerm: 6 },
  vote: { ...envelope, type: 'vote', lastLogIndex: 10, lastLogTerm: 6, transfer: false },
  'vote-response': { ...envelope, type: 'vote-response', granted: true },
  'pre-vote-response': { ...envelope, type: 'pre-vote-response', granted: false },
  append: {
    ...envelope, type: 'append', prevLogIndex: 9, prevLogTerm: 6, commit: 8, commitOnly: false,
    entries: [
      { term: 7, index: 10, type: 'noop', data: bytes() },
      { term: 7, index: 11, type: 'normal', data: bytes(1, 2, 3) },
    ],
  },
  'append-response': {
    ...envelope, type: 'append-response', success: false, matchIndex: 0, rejectedIndex: 9,
    conflictTerm: 5, conflictIndex: 7,
  },
  heartbeat: { ...envelope, type: 'heartbeat', commit: 8, readContext: 'ctx-1' },
  'heartbeat-response': { ...envelope, type: 'heartbeat-response', readContext: '' },
  snapshot: {
    ...envelope, type: 'snapshot', meta, offset: 0, totalBytes: 3, data: bytes(9, 8, 7),
  },
  'snapshot-response': {
    ...envelope, type: 'snapshot-response', snapshotIndex: 40, nextOffset: 3, installed: true,
  },
  'timeout-now': { ...envelope, type: 'timeout-now' },
  'read-index': { ...envelope, type: 'read-index', readContext: 'r-1' },
  'read-index-response': { ...envelope, type: 'read-index-response', readContext: 'r-1', index: 12 },
};

export const ALL_SAMPLES: readonly Message[] = Object.values(SAMPLE_MESSAGES);

// Member ids as `concord serve --id` allows them (src/common/member-id.ts); the parser refuses others.
const nodeIdArb = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,11}$/);
const countArb = fc.oneof(fc.nat(1000), fc.maxSafeNat());
const dataArb = fc.uint8Array({ maxLength: 64 });
const contextArb = fc.string({ maxLength: 40 });

const endpointsArb = fc.record({ peerAddress: fc.string({ maxLength: 30 }), clientUrl: fc.string({ maxLength: 30 }) });

const clusterConfigArb: fc.Arbitrary<ClusterConfig> = fc.record(
  {
    voters: fc.array(nodeIdArb, { maxLength: 5 }),
    learners: fc.array(nodeIdArb, { maxLength: 3 }),
    endpoints: fc.dictionary(nodeIdArb, endpointsArb, { maxKeys: 3 }),
  },
  { requiredKeys: ['voters', 'learners'] },
);

/** A config entry's payload must decode (the core trusts it), so it is generated, not random bytes. */
const configDataArb = fc
  .tuple(nodeIdArb, clusterConfigArb)
  .map(([id, config]) => encodeConfigEntry({ change: { type: 'remove', id }, config }));

const entryArb: fc.Arbitrary<Entry> = fc.oneof(
  fc.record({ term: countArb, index: countArb, type: fc.constantFrom('normal' as const, 'noop' as const), data: dataArb }),
  fc.record({ term: countArb, index: countArb, type: fc.constant('config' as const), data: configDataArb }),
);

const metaArb: fc.Arbitrary<SnapshotMeta> = fc.record({
  index: countArb,
  term: countArb,
  config: clusterConfigArb,
});

/** Any valid message, of any type, optionally with fixed sender and recipient. */
export function messageArb(route?: { from: string; to: string }): fc.Arbitrary<Message> {
  const head = {
    from: route === undefined ? nodeIdArb : fc.constant(route.from),
    to: route === undefined ? nodeIdArb : fc.constant(route.to),
    term: countArb,
  };
  const logPosition = { lastLogIndex: countArb, lastLogTerm: countArb };
  return fc.oneof(
    fc.record({ ...head, type: fc.constant('pre-vote' as const), ...logPosition }),
    fc.record({ ...head, type: fc.constant('vote' as const), ...logPosition, transfer: fc.boolean() }),
    fc.record({
      ...head, type: fc.constantFrom('vote-response' as const, 'pre-vote-response' as const),
      granted: fc.boolean(),
    }),
    fc.record({
      ...head, type: fc.constant('append' as const), prevLogIndex: countArb, prevLogTerm: countArb,
      entries: fc.array(entryArb, { maxLength: 4 }), commit: countArb, commitOnly: fc.boolean(),
    }),
    fc.record({
      ...head, type: fc.constant('append-response' as const), success: fc.boolean(),
      matchIndex: countArb, rejectedIndex: countArb, conflictTerm: countArb, conflictIndex: countArb,
    }),
    fc.record({ ...head, type: fc.constant('heartbeat' as const), commit: countArb, readContext: contextArb }),
    fc.record({ ...head, type: fc.constant('heartbeat-response' as const), readContext: contextArb }),
    fc.record({
      ...head, type: fc.constant('snapshot' as const), meta: metaArb, offset: countArb,
      totalBytes: countArb, data: dataArb,
    }),
    fc.record({
      ...head, type: fc.constant('snapshot-response' as const), snapshotIndex: countArb,
      nextOffset: countArb, installed: fc.boolean(),
    }),
    fc.record({ ...head, type: fc.constant('timeout-now' as const) }),
    fc.record({ ...head, type: fc.constant('read-index' as const), readContext: contextArb }),
    fc.record({
      ...head, type: fc.constant('read-index-response' as const), readContext: contextArb, index: countArb,
    }),
    fc.record({
      ...head, type: fc.constant('forward-proposals' as const),
      proposals: fc.array(fc.record({ id: countArb, data: dataArb }), { maxLength: 4 }),
    }),
    fc.array(fc.tuple(countArb, countArb), { maxLength: 4 }).chain((pairs) => fc.record({
      ...head, type: fc.constant('forward-proposals-response' as const),
      ids: fc.constant(pairs.map(([id]) => id)), indexes: fc.constant(pairs.map(([, index]) => index)),
    })),
    fc.record({
      ...head, type: fc.constant('forward-keepalives' as const),
      keepalives: fc.array(fc.record({ id: countArb, lease: fc.string({ minLength: 1, maxLength: 128 }) }), { maxLength: 4 }),
    }),
    fc.array(fc.tuple(countArb, countArb), { maxLength: 4 }).chain((pairs) => fc.record({
      ...head, type: fc.constant('forward-keepalives-response' as const), leading: fc.boolean(),
      ids: fc.constant(pairs.map(([id]) => id)), ttls: fc.constant(pairs.map(([, ttl]) => ttl)),
    })),
  );
}

/** Byte fields compared as plain arrays, since msgpackr hands back Buffers for Uint8Arrays. */
export function normalize(value: unknown): unknown {
  if (value instanceof Uint8Array) return { bytes: [...value] };
  if (Array.isArray(value)) return value.map(normalize);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([key, field]) => [key, normalize(field)]));
  }
  return value;
}
