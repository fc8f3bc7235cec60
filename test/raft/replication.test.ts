/**
 * Log replication (Raft §5.3), after etcd-io/raft's raft_paper_test.go and raft_test.go:
 * commitment by a persisted majority, batching, the in-flight window, and repairing a
 * divergent follower with fast backtracking.
 */
import { describe, expect, it } from 'vitest';
import type { AppendRequest, Message } from '../../src/raft/messages.ts';
import { Network, durableLastIndex } from './harness.ts';

const appendsTo = (messages: readonly Message[], to: string): AppendRequest[] =>
  messages.filter((m): m is AppendRequest => m.type === 'append' && m.to === to);

describe('commitment', () => {
  it('an entry commits once a majority has persisted it, and not before', () => {
    const net = new Network(['a', 'b', 'c', 'd', 'e']);
    net.elect('a');
    for (const id of ['b', 'c', 'd', 'e']) net.member(id).stalled = true;
    const index = net.propose('a', 'x');
    net.stabilize();
    // Every follower holds the entry in memory, none has made it durable: nothing commits.
    for (const id of ['b', 'c', 'd', 'e']) {
      expect(net.node(id).lastIndex).toBe(index);
      expect(durableLastIndex(net.member(id).disk.load())).toBeLessThan(index);
    }
    expect(net.node('a').commitIndex).toBeLessThan(index);

    net.member('b').stalled = false;
    net.stabilize();
    expect(net.node('a').commitIndex).toBeLessThan(index); // 2 of 5

    net.member('c').stalled = false;
    net.stabilize();
    expect(net.node('a').commitIndex).toBe(index); // 3 of 5
    expect(net.member('a').state).toEqual(['x']);
  });

  it('followers learn the commit index and apply in log order', () => {
    const net = new Network(['a', 'b', 'c']);
    net.elect('a');
    for (const text of ['1', '2', '3']) net.propose('a', text);
    net.stabilize();
    net.tickAll(1);
    for (const member of net.members.values()) {
      expect(member.state).toEqual(['1', '2', '3']);
      expect(member.applied.map((e) => e.index)).toEqual([1, 2, 3, 4]);
    }
  });
});

describe('batching', () => {
  it('an append carries at most maxEntriesPerAppend entries', () => {
    const net = new Network(['a', 'b', 'c'], { config: { maxEntriesPerAppend: 3 } });
    net.elect('a');
    const mark = net.sent.length;
    for (let i = 0; i < 10; i++) net.propose('a', `e${i}`);
    net.stabilize();
    expect(appendsTo(net.sentSince(mark), 'b').filter((m) => m.entries.length > 0).map((m) => m.entries.length)).toEqual([3, 3, 3, 1]);
    expect(net.member('b').state).toHaveLength(10);
  });

  it('an append carries at most maxBytesPerAppend bytes, but always at least one entry', () => {
    const net = new Network(['a', 'b', 'c'], { config: { maxBytesPerAppend: 10 } });
    net.elect('a');
    const mark = net.sent.length;
    for (let i = 0; i < 5; i++) net.propose('a', `e00${i}`); // 4 bytes each: two fit in 10
    net.propose('a', 'x'.repeat(25)); // larger than the limit: goes alone
    net.propose('a', 'tail');
    net.stabilize();
    const sizes = appendsTo(net.sentSince(mark), 'b').filter((m) => m.entries.length > 0).map((m) => m.entries.length);
    expect(sizes).toEqual([2, 2, 1, 1, 1]);
    expect(net.member('b').state.at(-1)).toBe('tail');
  });

  it('proposals made together leave in one append per follower', () => {
    const net = new Network(['a', 'b', 'c']);
    net.elect('a');
    const mark = net.sent.length;
    for (let i = 0; i < 20; i++) net.propose('a', `e${i}`);
    net.stabilize();
    expect(appendsTo(net.sentSince(mark), 'c').filter((m) => m.entries.length > 0)).toHaveLength(1);
  });
});

describe('the in-flight window', () => {
  it('bounds the appends sent to a follower that has not acknowledged them', () => {
    const net = new Network(['a', 'b', 'c'], { config: { maxInflightAppends: 2, maxEntriesPerAppend: 1 } });
    net.elect('a');
    net.filter = (m) => !(m.type === 'append-response' && m.from === 'c');
    const mark = net.sent.length;
    for (let i = 0; i < 10; i++) net.propose('a', `e${i}`);
    net.stabilize();
    const sent = net.sentSince(mark);
    expect(appendsTo(sent, 'c').filter((m) => m.entries.length > 0)).toHaveLength(2);
    expect(appendsTo(sent, 'b').filter((m) => m.entries.length > 0)).toHaveLength(10);
    expect(net.member('a').state).toHaveLength(10); // the majority (a, b) is not held up

    // Acknowledgements resume: the window slides and c catches up.
    net.filter = () => true;
    net.tickAll(3);
    expect(net.member('c').state).toEqual(net.member('a').state);
  });
});

describe('repairing a divergent follower', () => {
  it('skips a whole conflicting term per round trip (fast backtracking)', () => {
    const net = new Network(['a', 'b', 'c'], { config: { checkQuorum: false } });
    net.elect('c');
    net.isolate('c');
    for (let i = 0; i < 20; i++) net.propose('c', `stale${i}`); // never leaves c: never committed
    net.stabilize();
    net.elect('a');
    for (let i = 0; i < 25; i++) net.propose('a', `new${i}`);
    net.stabilize();
    // A new leader with the long log, which knows nothing yet of where c's log matches.
    net.node('a').transferLeadership('b');
    net.stabilize();
    expect(net.leader()).toBe('b');
    expect(net.node('c').lastIndex).toBe(21);
    expect(net.node('b').lastIndex).toBeGreaterThan(25);

    net.heal();
    const mark = net.sent.length;
    net.tickAll(3);
    const rejections = net.sentSince(mark, (m) => m.type === 'append-response' && m.from === 'c' && !m.success);
    // One for c's log being too short, one that skips all of c's stale term at once
    // (probing one index at a time would take over twenty).
    expect(rejections.length).toBeGreaterThanOrEqual(1);
    expect(rejections.length).toBeLessThanOrEqual(2);
    expect(net.member('c').events.filter((e) => e === 'append-rejected').length).toBe(rejections.length);
    expect(net.member('c').state).toEqual(net.member('b').state);
    expect(net.node('c').lastIndex).toBe(net.node('b').lastIndex);
  });

  it('overwrites uncommitted entries of an earlier term but never committed ones', () => {
    const net = new Network(['a', 'b', 'c'], { config: { checkQuorum: false } });
    net.elect('a');
    net.propose('a', 'committed');
    net.stabilize();
    net.isolate('a');
    net.propose('a', 'orphan');
    net.stabilize();
    net.elect('b');
    net.propose('b', 'winner');
    net.stabilize();
    net.heal();
    net.tickAll(3);
    for (const member of net.members.values()) expect(member.state).toEqual(['committed', 'winner']);
  });
});
