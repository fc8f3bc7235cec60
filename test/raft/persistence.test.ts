/**
 * Persistence (Raft §5.1 and Figure 2's "persistent state"): a message may promise only what
 * the Ready carrying it persists. The harness checks that on every Ready of every test; these
 * tests crash nodes at the awkward moments and look at what survives.
 */
import { describe, expect, it } from 'vitest';
import type { VoteRequest } from '../../src/raft/messages.ts';
import { SeededRandom } from '../../src/common/random.ts';
import { Network, durableLastIndex } from './harness.ts';

const vote = (from: string, to: string, term: number): VoteRequest => ({
  type: 'vote', from, to, term, lastLogIndex: 0, lastLogTerm: 0, transfer: false,
});

describe('votes', () => {
  it('a vote lost in a crash before it was persisted was never sent, so the node may vote again', () => {
    const net = new Network(['a', 'b', 'c'], { config: { preVote: false } });
    const b = net.node('b');
    b.step(vote('a', 'b', 1));
    expect(b.hardState()).toMatchObject({ term: 1, vote: 'a' }); // decided in memory only
    net.crash('b');
    net.restart('b');
    net.stabilize();
    expect(net.sent).toEqual([]);
    expect(net.node('b').hardState()).toMatchObject({ term: 0, vote: '' });

    net.node('b').step(vote('c', 'b', 1));
    net.stabilize();
    expect(net.sent).toEqual([expect.objectContaining({ type: 'vote-response', to: 'c', granted: true, term: 1 })]);
  });

  it('a vote that was sent survives a crash: the restarted node refuses a rival of that term', () => {
    const net = new Network(['a', 'b', 'c'], { config: { preVote: false } });
    net.node('b').step(vote('a', 'b', 1));
    net.stabilize();
    expect(net.sent).toEqual([expect.objectContaining({ type: 'vote-response', to: 'a', granted: true })]);
    net.crash('b');
    net.restart('b');
    expect(net.node('b').hardState()).toMatchObject({ term: 1, vote: 'a' });
    const mark = net.sent.length;
    net.node('b').step(vote('c', 'b', 1));
    net.stabilize();
    expect(net.sentSince(mark)).toEqual([expect.objectContaining({ type: 'vote-response', to: 'c', granted: false })]);
  });

  it('a candidate that crashed before persisting its campaign has not raised its term', () => {
    const net = new Network(['a', 'b', 'c'], { config: { preVote: false } });
    net.tickUntil('a', (raft) => raft.currentRole === 'candidate');
    net.crash('a');
    net.restart('a');
    expect(net.node('a').hardState()).toMatchObject({ term: 0, vote: '' });
  });
});

describe('appends', () => {
  it('a follower that crashed before persisting an append never acknowledged it', () => {
    const net = new Network(['a', 'b', 'c']);
    net.elect('a');
    net.member('b').stalled = true;
    net.member('c').stalled = true;
    const index = net.propose('a', 'x');
    net.stabilize();
    expect(net.node('b').lastIndex).toBe(index);
    net.crash('b');
    net.crash('c');
    net.restart('b');
    net.restart('c');
    expect(net.node('b').lastIndex).toBe(index - 1);
    expect(net.node('a').commitIndex).toBe(index - 1);
    expect(net.sent.some((m) => m.type === 'append-response' && m.matchIndex >= index)).toBe(false);
    // The leader repairs them from its own log; the entry commits once they persist it.
    net.tickAll(2);
    expect(net.node('a').commitIndex).toBe(index);
    for (const member of net.members.values()) expect(member.state).toEqual(['x']);
  });
});

describe('restart', () => {
  it('term, vote and log survive a restart of every node, and nothing committed is lost', () => {
    const net = new Network(['a', 'b', 'c']);
    net.elect('a');
    for (const text of ['1', '2', '3']) net.propose('a', text);
    net.stabilize();
    net.tickAll(1);
    const before = new Map([...net.members].map(([id, m]) => [id, { hard: m.raft.hardState(), last: m.raft.lastIndex }]));
    for (const id of ['a', 'b', 'c']) net.crash(id);
    for (const id of ['a', 'b', 'c']) net.restart(id);
    for (const [id, { hard, last }] of before) {
      const raft = net.node(id);
      expect(raft.hardState()).toMatchObject({ term: hard.term, vote: hard.vote });
      expect(raft.hardState().commit).toBeLessThanOrEqual(hard.commit); // the commit index may lag: it is recomputed
      expect(raft.lastIndex).toBe(last);
      expect(raft.currentRole).toBe('follower');
    }
    net.tickAll(30);
    const leader = net.leader();
    expect(leader).toBeDefined();
    for (const member of net.members.values()) expect(member.state).toEqual(['1', '2', '3']);
  });

  it('random crashes, restarts and partitions never break a promise or state machine safety', () => {
    const random = new SeededRandom(42);
    const ids = ['a', 'b', 'c', 'd', 'e'];
    const net = new Network(ids, { seed: 42 });
    let proposed = 0;
    for (let step = 0; step < 400; step++) {
      const id = random.pick(ids);
      const member = net.member(id);
      const roll = random.int(100);
      if (roll < 4 && member.up) net.crash(id);
      else if (roll < 12 && !member.up) net.restart(id);
      else if (roll < 15) net.cut(id, random.pick(ids));
      else if (roll < 20) net.heal();
      else if (roll < 35 && member.up && member.raft.currentRole === 'leader') {
        if (member.raft.propose(new TextEncoder().encode(`v${proposed}`)).ok) proposed++;
      }
      net.tickAll(1); // the harness throws on a broken promise or divergent apply
    }
    for (const id of ids) if (!net.member(id).up) net.restart(id);
    net.heal();
    net.tickAll(60);
    const states = ids.map((id) => net.member(id).state);
    for (const state of states) expect(state).toEqual(states[0]);
    expect(states[0]?.length).toBeGreaterThan(10);
    for (const id of ids) expect(durableLastIndex(net.member(id).disk.load())).toBe(net.node(id).lastIndex);
  });
});
