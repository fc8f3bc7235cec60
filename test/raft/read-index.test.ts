/**
 * ReadIndex (Raft thesis §6.4), after etcd-io/raft's TestReadOnly* tests: a read is released
 * only after a quorum confirmed the leader's leadership in a heartbeat round started after
 * the read, and only once the state machine has applied up to the read index.
 */
import { describe, expect, it } from 'vitest';
import type { Message } from '../../src/raft/messages.ts';
import { Network, TEST_CONFIG, type NetworkOptions } from './harness.ts';

const E = TEST_CONFIG.electionTicks;

describe('ReadIndex on the leader', () => {
  it('is released only once a quorum answered a heartbeat round carrying it', () => {
    const net = new Network(['a', 'b', 'c', 'd', 'e']);
    net.elect('a');
    net.propose('a', 'x');
    net.stabilize();
    const answering = new Set<string>();
    net.filter = (m: Message) => m.type !== 'heartbeat-response' || answering.has(m.from);

    expect(net.node('a').readIndex('r1')).toEqual({ ok: true });
    net.tickAll(3);
    expect(net.member('a').readStates).toEqual([]);
    answering.add('b');
    net.tickAll(3);
    expect(net.member('a').readStates).toEqual([]); // a and b: 2 of 5
    answering.add('c');
    net.tick('a');
    expect(net.member('a').readStates).toEqual([{ context: 'r1', index: net.node('a').commitIndex, appliedThrough: 2 }]);
  });

  it('a heartbeat answer from before the read does not confirm it', () => {
    const net = new Network(['a', 'b', 'c']);
    net.elect('a');
    net.tick('a'); // a heartbeat round with no read in it, answered
    net.filter = (m: Message) => m.type !== 'heartbeat';
    net.node('a').readIndex('r1');
    net.stabilize();
    net.tick('a', 3);
    expect(net.member('a').readStates).toEqual([]);
    net.filter = () => true;
    net.tick('a');
    expect(net.member('a').readStates.map((r) => r.context)).toEqual(['r1']);
  });

  it('a leader cut off from the majority never releases it, and fails it when stepping down', () => {
    const net = new Network(['a', 'b', 'c']);
    net.elect('a');
    net.isolate('a');
    net.node('a').readIndex('r1');
    net.tick('a', 3 * E);
    expect(net.node('a').currentRole).toBe('follower');
    expect(net.member('a').readStates).toEqual([]);
    expect(net.member('a').droppedReads).toEqual(['r1']);
  });

  it('a new leader serves reads only after committing an entry of its term', () => {
    const net = new Network(['a', 'b', 'c']);
    net.elect('a');
    net.propose('a', 'x');
    net.stabilize();
    net.filter = (m: Message) => !(m.from === 'b' && m.type === 'append');
    net.elect('b');
    const b = net.node('b');
    const noop = b.lastIndex;
    expect(b.commitIndex).toBeLessThan(noop);
    expect(b.readIndex('r1')).toEqual({ ok: true });
    net.tickAll(3); // heartbeats are answered, but the term's no-op has not committed
    expect(net.member('b').readStates).toEqual([]);

    net.filter = () => true;
    net.tickAll(2);
    expect(b.commitIndex).toBeGreaterThanOrEqual(noop);
    const [read] = net.member('b').readStates;
    expect(read?.context).toBe('r1');
    expect(read?.index).toBeGreaterThanOrEqual(noop);
  });

  it('a single-node cluster serves a read at once', () => {
    const net = new Network(['a']);
    net.tickAll(2 * E);
    expect(net.leader()).toBe('a');
    net.node('a').readIndex('r1');
    net.stabilize();
    expect(net.member('a').readStates.map((r) => r.context)).toEqual(['r1']);
  });
});

describe('ReadIndex rounds on the leader: one per Ready', () => {
  /** The read rounds whose heartbeats were sent since `mark` (periodic ones without reads carry ''). */
  const roundsSince = (net: Network, mark: number): string[] => [
    ...new Set(net.sentSince(mark, (m) => m.type === 'heartbeat' && m.readContext !== '').map((m) => (m.type === 'heartbeat' ? m.readContext : ''))),
  ];
  const contexts = (net: Network, id: string): string[] => net.member(id).readStates.map((read) => read.context);

  /** a leads a, b, c and has committed an entry of its term (so it serves reads). */
  function leaderWithEntry(options: NetworkOptions = {}): Network {
    const net = new Network(['a', 'b', 'c'], options);
    net.elect('a');
    net.propose('a', 'x');
    net.stabilize();
    return net;
  }

  it('reads taken together share one round; a follower\'s requests arriving together share the next', () => {
    const net = leaderWithEntry();
    const mark = net.sent.length;
    net.node('a').readIndex('r1');
    net.node('a').readIndex('r2');
    net.node('b').readIndex('b1');
    net.node('c').readIndex('c1');
    net.stabilize();
    expect(contexts(net, 'a')).toEqual(['r1', 'r2']);
    expect(contexts(net, 'b')).toEqual(['b1']);
    expect(contexts(net, 'c')).toEqual(['c1']);
    expect(roundsSince(net, mark)).toHaveLength(2); // four reads, two rounds (it was a round each)
  });

  it('a read taken after a round was sent is not released by that round\'s answers', () => {
    const net = leaderWithEntry();
    const mark = net.sent.length;
    net.filter = (m: Message) => m.type !== 'heartbeat';
    net.node('a').readIndex('r1');
    net.stabilize();
    net.node('a').readIndex('r2');
    net.stabilize();
    const [first, second] = roundsSince(net, mark);
    expect(second).toBeDefined();
    // A late answer to the first round arrives: it confirms r1, taken before that round left.
    net.node('a').step({ type: 'heartbeat-response', from: 'b', to: 'a', term: net.node('a').currentTerm, readContext: first! });
    net.stabilize();
    expect(contexts(net, 'a')).toEqual(['r1']);
    net.filter = () => true;
    net.tick('a'); // the periodic heartbeat carries the newest round sent
    expect(contexts(net, 'a')).toEqual(['r1', 'r2']);
  });

  it('refuses reads beyond maxPendingReads, counting every round', () => {
    const net = leaderWithEntry({ config: { maxPendingReads: 3 } });
    net.filter = (m: Message) => m.type !== 'heartbeat-response';
    for (const context of ['r1', 'r2']) expect(net.node('a').readIndex(context)).toEqual({ ok: true });
    net.stabilize();
    expect(net.node('a').readIndex('r3')).toEqual({ ok: true });
    expect(net.node('a').readIndex('r4')).toMatchObject({ ok: false, reason: 'overloaded' });
    net.filter = () => true;
    net.tick('a');
    expect(contexts(net, 'a')).toEqual(['r1', 'r2', 'r3']);
    expect(net.node('a').readIndex('r5')).toEqual({ ok: true });
  });
});

describe('ReadIndex on a follower', () => {
  it('is confirmed by the leader and released on the follower', () => {
    const net = new Network(['a', 'b', 'c']);
    net.elect('a');
    net.propose('a', 'x');
    net.stabilize();
    net.tickAll(1);
    const mark = net.sent.length;
    expect(net.node('b').readIndex('f1')).toEqual({ ok: true });
    net.stabilize();
    const sent = net.sentSince(mark);
    expect(sent.filter((m) => m.type === 'read-index')).toEqual([expect.objectContaining({ from: 'b', to: 'a', readContext: 'f1' })]);
    // The leader confirmed it with a heartbeat round of its own (rounds have ids of their own).
    expect(sent.some((m) => m.type === 'heartbeat' && m.readContext !== '')).toBe(true);
    expect(net.member('b').readStates).toEqual([{ context: 'f1', index: net.node('a').commitIndex, appliedThrough: 2 }]);
    expect(net.member('a').readStates).toEqual([]);
  });

  it('waits until the follower has applied up to the read index', () => {
    const net = new Network(['a', 'b', 'c']);
    net.elect('a');
    net.tickAll(1);
    net.filter = (m: Message) => !(m.type === 'append' && m.to === 'c');
    for (const text of ['1', '2', '3']) net.propose('a', text);
    net.stabilize();
    const commit = net.node('a').commitIndex;
    expect(commit).toBe(4);
    net.node('c').readIndex('c1');
    net.tickAll(2);
    expect(net.node('c').appliedIndex).toBeLessThan(commit);
    expect(net.member('c').readStates).toEqual([]); // confirmed at index 4, not yet applied

    net.filter = () => true;
    net.tickAll(2);
    const [read] = net.member('c').readStates;
    expect(read).toMatchObject({ context: 'c1', index: commit });
    expect(read?.appliedThrough).toBeGreaterThanOrEqual(commit);
    expect(net.member('c').state).toEqual(['1', '2', '3']);
  });

  it('is refused without a known leader and failed when the leadership changes', () => {
    const net = new Network(['a', 'b', 'c']);
    expect(net.node('b').readIndex('f0')).toEqual({ ok: false, reason: 'no_leader', leaderHint: '' });
    net.elect('a');
    net.cut('a', 'b');
    expect(net.node('b').readIndex('f1')).toEqual({ ok: true });
    net.stabilize();
    net.elect('c');
    net.stabilize();
    expect(net.member('b').droppedReads).toEqual(['f1']);
    expect(net.member('b').readStates).toEqual([]);
  });
});
