/**
 * The chaos checks added for the lock history, the watch and registry workloads, and the fault
 * schedule helpers, on hand-made histories: each passes a good history and flags a planted bad one.
 */
import { describe, expect, it } from 'vitest';
import type { Operation } from '../../chaos/history.ts';
import { checkLockLinearizable } from '../../chaos/lock-check.ts';
import { faultSpans, overlapCandidates, type TimelineEvent } from '../../chaos/nemesis.ts';
import { checkRegistryAgreement, checkRegistryKept, checkRegistryRemoved, removalBound, untilLeaderServes } from '../../chaos/registry-check.ts';
import { checkWatchFinalState, checkWatchMatchesWrites, checkWatchStreams } from '../../chaos/watch-check.ts';
import type { DiscoveryRead, InstanceRecord } from '../../chaos/workloads/registry.ts';
import type { SeenEvent, WatcherLog, WatchWrite } from '../../chaos/workloads/watch.ts';

let nextId = 0;
function lockOp(f: string, client: number, invokeMs: number, completeMs: number | null, status: 'ok' | 'fail' | 'unknown', fields: Record<string, unknown>, result: Record<string, unknown> = {}): Operation {
  return { id: nextId++, workload: 'lock', client, node: 'n1', invoke: { f, lock: 'chaos-lock-0', ttlMs: 1_500, waitMs: 0, ...fields }, invokeMs, completeMs: status === 'unknown' ? null : completeMs, status, result };
}
const acquire = (client: number, at: number, done: number, token: number): Operation => lockOp('acquire', client, at, done, 'ok', {}, { status: 200, token });
const locked = (client: number, at: number, done: number, waitMs = 0): Operation => lockOp('acquire', client, at, done, 'fail', { waitMs }, { status: 423, code: 'locked' });
const release = (client: number, at: number, done: number, token: number, stale = false): Operation =>
  lockOp('release', client, at, done, stale ? 'fail' : 'ok', { token }, stale ? { status: 409, code: 'stale_token' } : { status: 200 });
const fenced = (client: number, at: number, done: number, token: number, stale = false): Operation =>
  lockOp('fenced-write', client, at, done, stale ? 'fail' : 'ok', { token, key: 'chaos/resource/0' }, stale ? { status: 409, code: 'stale_token' } : { status: 200 });

describe('lock history linearizability', () => {
  const good = (): Operation[] => [
    acquire(1, 0, 10, 5),
    fenced(1, 12, 20, 5),
    locked(2, 15, 18),
    release(1, 25, 30, 5),
    acquire(2, 31, 40, 7),
    fenced(1, 41, 45, 5, true),
    // Client 2 stalls past its TTL: its late write is refused, and client 3 may take the lock.
    fenced(2, 2_000, 2_010, 7, true),
    acquire(3, 1_600, 1_610, 9),
    release(2, 2_020, 2_030, 7, true),
    release(3, 1_700, 1_710, 9),
  ];

  it('passes a legal history with handoffs, refusals and an expiry', () => {
    const result = checkLockLinearizable(good(), 10_000);
    expect(result.verdict).toBe('ok');
    expect(result.detail).toMatch(/^10 ops on 1 lock names/);
  });

  it('flags two holders at once (planted: a grant while the holder is within its TTL)', () => {
    const history = good().filter((op) => !(op.invoke.f === 'release' && op.invoke.token === 5));
    const result = checkLockLinearizable(history, 10_000);
    expect(result.verdict).toBe('violated');
    expect(result.detail).toContain('cannot be placed');
    expect(result.report).toContain('longest linearizable prefix');
  });

  it('flags a token that goes backwards, a fenced write accepted from a past holder, and a 423 on a free lock', () => {
    const backwards = [acquire(1, 0, 10, 5), release(1, 20, 30, 5), acquire(2, 40, 50, 4)];
    expect(checkLockLinearizable(backwards, 10_000).verdict).toBe('violated');
    const staleAccepted = [acquire(1, 0, 10, 5), release(1, 20, 30, 5), acquire(2, 40, 50, 7), fenced(1, 60, 70, 5)];
    expect(checkLockLinearizable(staleAccepted, 10_000).verdict).toBe('violated');
    const lockedWhileFree = [acquire(1, 0, 10, 5), release(1, 20, 30, 5), locked(2, 40, 50)];
    expect(checkLockLinearizable(lockedWhileFree, 10_000).verdict).toBe('violated');
  });

  it('treats unknown outcomes as indeterminate: a lost acquire may hold the lock, a waiting 423 may have been granted', () => {
    const lostAcquire = [acquire(1, 0, 10, 5), release(1, 20, 30, 5), lockOp('acquire', 3, 35, null, 'unknown', {}), locked(2, 40, 50)];
    expect(checkLockLinearizable(lostAcquire, 10_000).verdict).toBe('ok');
    const waitedThenLocked = [locked(3, 0, 2_000, 1_500), locked(2, 2_100, 2_110)];
    expect(checkLockLinearizable(waitedThenLocked, 10_000).verdict).toBe('ok');
    // ...but an unknown acquire cannot excuse a 423 before it was even sent.
    const tooEarly = [acquire(1, 0, 10, 5), release(1, 20, 30, 5), locked(2, 40, 50), lockOp('acquire', 3, 60, null, 'unknown', {})];
    expect(checkLockLinearizable(tooEarly, 10_000).verdict).toBe('violated');
  });

  it('says inconclusive (a violation) when the search budget runs out', () => {
    const many = Array.from({ length: 12 }, (_, i) => lockOp('acquire', i, i, null, 'unknown', {}));
    const result = checkLockLinearizable([...many, acquire(20, 100, 110, 3), locked(21, 200, 210)], 5);
    expect(result.verdict).toBe('violated');
    expect(result.detail).toMatch(/inconclusive/);
  });
});

const put = (revision: number, key: string, value: string): SeenEvent => ({ revision, type: 'put', key, value });
const del = (revision: number, key: string): SeenEvent => ({ revision, type: 'delete', key, value: null });
function watcher(id: number, events: SeenEvent[]): WatcherLog {
  return { watcher: id, events, connects: 2, ends: new Map(), lastRevision: events.at(-1)?.revision ?? 0, gaveUp: null };
}

describe('watch checks', () => {
  const events = [put(11, 'chaos/watch/k0', 'w0-0'), put(12, 'chaos/watch/k1', 'w1-0'), del(14, 'chaos/watch/k0'), put(15, 'chaos/watch/end', 'end-0')];
  const writes: WatchWrite[] = [
    { id: 1, f: 'put', key: 'chaos/watch/k0', value: 'w0-0', status: 'ok', revision: 11 },
    { id: 2, f: 'put', key: 'chaos/watch/k1', value: 'w1-0', status: 'unknown', revision: null },
    { id: 3, f: 'put', key: 'chaos/watch/k2', value: 'w2-0', status: 'fail', revision: null },
    { id: 4, f: 'delete', key: 'chaos/watch/k0', value: null, status: 'ok', revision: 14 },
    { id: 5, f: 'put', key: 'chaos/watch/end', value: 'end-0', status: 'ok', revision: 15 },
  ];

  it('passes identical gapless streams that match the writes and the final state', () => {
    expect(checkWatchStreams({ watchers: [watcher(0, events), watcher(1, [...events])], replay: events, writes, endRevision: 15 }).verdict).toBe('ok');
    expect(checkWatchMatchesWrites(events, writes, 10).verdict).toBe('ok');
    expect(checkWatchFinalState(events, new Map([['chaos/watch/k1', 'w1-0'], ['chaos/watch/end', 'end-0']])).verdict).toBe('ok');
  });

  it('flags a watcher that skipped a revision, one that saw a duplicate, and one that gave up', () => {
    const skipped = checkWatchStreams({ watchers: [watcher(0, events), watcher(1, [events[0], events[2], events[3]] as SeenEvent[])], replay: events, writes, endRevision: 15 });
    expect(skipped.verdict).toBe('violated');
    expect(skipped.detail).toContain('watcher 1 differs from the replay: skipped 12 put chaos/watch/k1=w1-0');
    const duplicate = checkWatchStreams({ watchers: [watcher(0, [events[0], events[0], ...events.slice(1)] as SeenEvent[])], replay: 'compacted', writes, endRevision: 15 });
    expect(duplicate.detail).toContain('duplicate');
    const gaveUp = { ...watcher(0, events.slice(0, 2)), gaveUp: 'history compacted' };
    expect(checkWatchStreams({ watchers: [gaveUp], replay: events, writes, endRevision: 15 }).verdict).toBe('violated');
  });

  it('flags an acknowledged write without its event, and an event of a refused or never-sent write', () => {
    const missing = checkWatchMatchesWrites([events[1], events[2], events[3]] as SeenEvent[], writes, 10);
    expect(missing.verdict).toBe('violated');
    expect(missing.detail).toContain('acknowledged 11 put chaos/watch/k0=w0-0 has no event');
    const phantom = checkWatchMatchesWrites([...events, put(16, 'chaos/watch/k2', 'w2-0'), put(17, 'chaos/watch/k3', 'nobody')], writes, 10);
    expect(phantom.report).toContain('that put was refused');
    expect(phantom.report).toContain('no such put was sent');
  });

  it('flags a final state the events do not lead to', () => {
    const wrong = checkWatchFinalState(events, new Map([['chaos/watch/k1', 'w1-0'], ['chaos/watch/k0', 'w0-0'], ['chaos/watch/end', 'end-0']]));
    expect(wrong.verdict).toBe('violated');
    expect(wrong.detail).toContain('chaos/watch/k0');
  });
});

function instance(id: string, renewals: InstanceRecord['renewals'], end: InstanceRecord['end'] = { kind: 'alive' }): InstanceRecord {
  return { id, client: 1, ttlMs: 3_000, renewals, end };
}
const ok = (sentMs: number): InstanceRecord['renewals'][number] => ({ sentMs, answeredMs: sentMs + 10, status: 'ok', code: '' });
const lost = (sentMs: number): InstanceRecord['renewals'][number] => ({ sentMs, answeredMs: null, status: 'unknown', code: '' });
const read = (invokeMs: number, ids: string[]): DiscoveryRead => ({ node: 'n2', invokeMs, completeMs: invokeMs + 10, ids, revision: 1 });

describe('registry checks', () => {
  it('live instances: removal while protected by an acknowledged heartbeat is flagged; after failed heartbeats it is allowed', () => {
    const heartbeating = instance('i1-0', [ok(0), ok(1_000), ok(2_000)]);
    expect(checkRegistryKept([heartbeating], [read(500, ['i1-0']), read(5_200, [])]).verdict).toBe('ok');
    const early = checkRegistryKept([heartbeating], [read(2_500, [])]);
    expect(early.verdict).toBe('violated');
    expect(early.detail).toContain('protected until 5000 ms');
    // Heartbeats that could not reach a leader protect nothing: gone at 5100 is fine.
    const faulty = instance('i1-1', [ok(0), ok(2_000), lost(3_000), lost(4_000)]);
    expect(checkRegistryKept([faulty], [read(5_100, [])]).verdict).toBe('ok');
    const removed404 = instance('i1-2', [ok(0), ok(1_000), { sentMs: 1_500, answeredMs: 1_510, status: 'fail', code: 'not_found' }], { kind: 'removed', atMs: 1_510 });
    expect(checkRegistryKept([removed404], []).verdict).toBe('violated');
  });

  it('stopped instances: still listed after TTL + election timeouts is flagged, unless a fault overlapped', () => {
    const abandoned = instance('i2-0', [ok(0)], { kind: 'abandoned', atMs: 500 });
    expect(removalBound(abandoned, [], 1_500)).toBe(10 + 3_000 + 4_000 + 1_000);
    expect(checkRegistryRemoved([abandoned], [read(7_000, ['i2-0']), read(8_100, [])], [], 1_500).verdict).toBe('ok');
    const late = checkRegistryRemoved([abandoned], [read(9_000, ['i2-0'])], [], 1_500);
    expect(late.verdict).toBe('violated');
    expect(late.detail).toContain('due by 8010 ms');
    const spans = [{ nemesis: 'partition', startMs: 5_000, endMs: 9_500 }];
    expect(checkRegistryRemoved([abandoned], [read(9_000, ['i2-0'])], spans, 1_500).verdict).toBe('ok');
    const deregistered = instance('i2-1', [ok(0)], { kind: 'deregistered', sentMs: 100, answeredMs: 120, status: 'ok' });
    expect(checkRegistryRemoved([deregistered], [read(200, ['i2-1'])], [], 1_500).verdict).toBe('violated');
  });

  it('a fault lasts until a leader next acknowledges a write (a restarted cluster elects late)', () => {
    const abandoned = instance('i3-0', [ok(0)], { kind: 'abandoned', atMs: 500 });
    // kill-all from 1 s to 2 s; the first write sent after the restart is answered at 12 s.
    const spans = untilLeaderServes([{ nemesis: 'kill-all', startMs: 1_000, endMs: 2_000 }], [
      { invokeMs: 500, completeMs: 600 },
      { invokeMs: 2_500, completeMs: 12_000 },
      { invokeMs: 3_000, completeMs: 12_100 },
    ]);
    expect(spans).toEqual([{ nemesis: 'kill-all', startMs: 1_000, endMs: 12_000 }]);
    expect(removalBound(abandoned, spans, 1_500)).toBe(12_000 + 3_000 + 4_000 + 1_000);
    // Listed at 14 s is within the stretched bound, and not within the heal-based one.
    expect(checkRegistryRemoved([abandoned], [read(14_000, ['i3-0'])], spans, 1_500).verdict).toBe('ok');
    expect(checkRegistryRemoved([abandoned], [read(14_000, ['i3-0'])], [{ nemesis: 'kill-all', startMs: 1_000, endMs: 2_000 }], 1_500).verdict).toBe('violated');
    // Still flagged past the stretched bound; and a span with no later write keeps its end.
    expect(checkRegistryRemoved([abandoned], [read(20_500, ['i3-0'])], spans, 1_500).verdict).toBe('violated');
    expect(untilLeaderServes([{ nemesis: 'kill', startMs: 0, endMs: 5_000 }], [{ invokeMs: 100, completeMs: 200 }])).toEqual([{ nemesis: 'kill', startMs: 0, endMs: 5_000 }]);
  });

  it('agreement: every node must list exactly the live instances', () => {
    expect(checkRegistryAgreement(new Map([['n1', ['a', 'b']], ['n2', ['b', 'a']]]), ['a', 'b']).verdict).toBe('ok');
    const disagree = checkRegistryAgreement(new Map<string, readonly string[] | string>([['n1', ['a', 'b']], ['n2', ['a']], ['n3', 'no answer']]), ['a', 'b']);
    expect(disagree.verdict).toBe('violated');
    expect(disagree.report).toContain('n3: no answer');
  });
});

describe('fault schedule helpers', () => {
  it('overlaps pair a process fault with a network fault; membership takes either; kill-all none', () => {
    const all = ['kill', 'pause', 'partition', 'partition-bridge', 'membership', 'kill-all'] as const;
    expect(overlapCandidates('pause', all)).toEqual(['partition', 'partition-bridge']);
    expect(overlapCandidates('partition-bridge', all)).toEqual(['kill', 'pause']);
    expect(overlapCandidates('membership', all)).toEqual(['kill', 'pause', 'partition', 'partition-bridge']);
    expect(overlapCandidates('kill-all', all)).toEqual([]);
  });

  it('fault spans pair each start with its heal, overlapping ones too', () => {
    const timeline: TimelineEvent[] = [
      { atMs: 100, nemesis: 'pause', phase: 'start', detail: '' },
      { atMs: 200, nemesis: 'partition', phase: 'start', detail: '' },
      { atMs: 300, nemesis: 'partition', phase: 'heal', detail: '' },
      { atMs: 400, nemesis: 'pause', phase: 'heal', detail: '' },
      { atMs: 500, nemesis: 'kill', phase: 'start', detail: '' },
    ];
    expect(faultSpans(timeline, 900)).toEqual([
      { nemesis: 'pause', startMs: 100, endMs: 400 },
      { nemesis: 'partition', startMs: 200, endMs: 300 },
      { nemesis: 'kill', startMs: 500, endMs: 900 },
    ]);
  });
});
