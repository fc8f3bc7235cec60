/**
 * Elections and terms (Raft §5.2, §5.4.1), after etcd-io/raft's raft_paper_test.go: election
 * timeouts, the up-to-date log rule, one vote per term, the new leader's no-op, and stepping
 * down on a higher term.
 */
import { describe, expect, it } from 'vitest';
import type { Message, VoteRequest } from '../../src/raft/messages.ts';
import { Network, TEST_CONFIG } from './harness.ts';

const E = TEST_CONFIG.electionTicks;

function voteRequest(from: string, to: string, term: number, lastLogIndex: number, lastLogTerm: number): VoteRequest {
  return { type: 'vote', from, to, term, lastLogIndex, lastLogTerm, transfer: false };
}

const voteResponses = (messages: readonly Message[], from: string, to: string): Message[] =>
  messages.filter((m) => m.type === 'vote-response' && m.from === from && m.to === to);

describe('election timeout', () => {
  it('a follower that hears nothing campaigns within [electionTicks, 2 × electionTicks) ticks', () => {
    const observed = new Set<number>();
    for (let seed = 1; seed <= 30; seed++) {
      const raft = new Network(['a', 'b', 'c'], { seed }).node('a');
      let ticks = 0;
      while (raft.currentRole === 'follower') {
        raft.tick();
        ticks++;
        expect(ticks).toBeLessThan(2 * E);
      }
      expect(ticks).toBeGreaterThanOrEqual(E);
      observed.add(ticks);
    }
    // Randomized, so that followers rarely time out together and split the vote.
    expect(observed.size).toBeGreaterThan(3);
  });

  it('a follower that hears heartbeats never campaigns', () => {
    const net = new Network(['a', 'b', 'c']);
    net.elect('a');
    const term = net.node('a').currentTerm;
    net.tickAll(10 * E);
    expect(net.leader()).toBe('a');
    for (const id of ['b', 'c']) expect(net.node(id).currentTerm).toBe(term);
  });

  it('ticking a fresh cluster elects exactly one leader', () => {
    const net = new Network(['a', 'b', 'c', 'd', 'e'], { seed: 7 });
    net.tickAll(3 * E);
    const leader = net.leader();
    expect(leader).toBeDefined();
    const term = net.node(leader ?? '').currentTerm;
    const leaders = [...net.members.values()].filter((m) => m.raft.currentRole === 'leader' && m.raft.currentTerm === term);
    expect(leaders).toHaveLength(1);
  });
});

describe('the up-to-date log rule (§5.4.1)', () => {
  it('a candidate whose log is behind is refused, and a voter with the newer log wins', () => {
    // PreVote off so that c really campaigns; CheckQuorum off so that no lease hides the rule.
    const net = new Network(['a', 'b', 'c'], { config: { preVote: false, checkQuorum: false } });
    net.elect('a');
    net.cut('a', 'c');
    const index = net.propose('a', 'x');
    net.stabilize();
    expect(net.node('b').commitIndex).toBe(index);
    net.crash('a');
    net.heal();

    const c = net.node('c');
    net.tickUntil('c', (raft) => raft.currentRole === 'candidate');
    const mark = net.sent.length;
    net.stabilize();
    const answers = voteResponses(net.sentSince(mark), 'b', 'c');
    expect(answers).toEqual([expect.objectContaining({ granted: false, term: c.currentTerm })]);
    expect(c.currentRole).not.toBe('leader');
    expect(net.node('b').currentTerm).toBe(c.currentTerm); // the higher term is still adopted

    net.tickUntil('b', (raft) => raft.currentRole !== 'follower');
    net.stabilize();
    expect(net.leader()).toBe('b');
    expect(net.member('c').state).toEqual(['x']);
  });

  it('a log with a higher last term is more up to date than a longer one', () => {
    const net = new Network(['a', 'b', 'c'], { config: { preVote: false, checkQuorum: false } });
    net.elect('a');
    for (const text of ['x', 'y', 'z']) net.propose('a', text);
    net.stabilize();
    const b = net.node('b');
    const term = b.currentTerm;
    expect(b.lastIndex).toBe(4); // [noop, x, y, z], all of `term`
    const mark = net.sent.length;
    b.step(voteRequest('c', 'b', term + 1, 50, term - 1)); // longer, but of an older term: refused
    b.step(voteRequest('a', 'b', term + 2, 2, term + 1)); // shorter, but of a newer term: granted
    net.stabilize();
    const sent = net.sentSince(mark);
    expect(voteResponses(sent, 'b', 'c')).toEqual([expect.objectContaining({ granted: false })]);
    expect(voteResponses(sent, 'b', 'a')).toEqual([expect.objectContaining({ granted: true, term: term + 2 })]);
  });

  it('an equal last term needs at least an equally long log', () => {
    const net = new Network(['a', 'b', 'c'], { config: { preVote: false, checkQuorum: false } });
    net.elect('a');
    net.propose('a', 'x');
    net.stabilize();
    const b = net.node('b');
    const term = b.currentTerm;
    const mark = net.sent.length;
    b.step(voteRequest('c', 'b', term + 1, b.lastIndex - 1, term));
    b.step(voteRequest('a', 'b', term + 2, b.lastIndex, term));
    net.stabilize();
    const sent = net.sentSince(mark);
    expect(voteResponses(sent, 'b', 'c')).toEqual([expect.objectContaining({ granted: false })]);
    expect(voteResponses(sent, 'b', 'a')).toEqual([expect.objectContaining({ granted: true })]);
  });
});

describe('one vote per term (§5.2)', () => {
  it('a voter grants the first up-to-date candidate of a term and refuses the next', () => {
    const net = new Network(['a', 'b', 'c'], { config: { preVote: false } });
    const b = net.node('b');
    b.step(voteRequest('a', 'b', 1, 0, 0));
    b.step(voteRequest('c', 'b', 1, 0, 0));
    b.step(voteRequest('a', 'b', 1, 0, 0)); // a repeated request from the same candidate is granted again
    net.stabilize();
    expect(voteResponses(net.sent, 'b', 'a').map((m) => m.type === 'vote-response' && m.granted)).toEqual([true, true]);
    expect(voteResponses(net.sent, 'b', 'c').map((m) => m.type === 'vote-response' && m.granted)).toEqual([false]);
    expect(b.hardState()).toMatchObject({ term: 1, vote: 'a' });
  });

  it('a new term frees the vote', () => {
    const net = new Network(['a', 'b', 'c'], { config: { preVote: false } });
    const b = net.node('b');
    b.step(voteRequest('a', 'b', 1, 0, 0));
    b.step(voteRequest('c', 'b', 2, 0, 0));
    net.stabilize();
    expect(voteResponses(net.sent, 'b', 'c')).toEqual([expect.objectContaining({ granted: true, term: 2 })]);
    expect(b.hardState()).toMatchObject({ term: 2, vote: 'c' });
  });

  it('a candidate votes for itself and so refuses a rival of its term', () => {
    const net = new Network(['a', 'b', 'c'], { config: { preVote: false } });
    const a = net.node('a');
    net.tickUntil('a', (raft) => raft.currentRole === 'candidate');
    a.step(voteRequest('c', 'a', a.currentTerm, 0, 0));
    net.stabilize();
    expect(voteResponses(net.sent, 'a', 'c')).toEqual([expect.objectContaining({ granted: false })]);
  });
});

describe('a new leader appends a no-op of its term', () => {
  it('commits it on every node, and with it every earlier entry', () => {
    const net = new Network(['a', 'b', 'c'], { seed: 3 });
    net.tickAll(3 * E);
    const id = net.leader();
    expect(id).toBeDefined();
    const leader = net.node(id ?? '');
    const noop = leader.entryAt(leader.lastIndex);
    expect(noop).toMatchObject({ type: 'noop', term: leader.currentTerm });
    for (const member of net.members.values()) {
      expect(member.raft.commitIndex).toBe(leader.lastIndex);
      expect(member.applied.at(-1)).toEqual(noop);
    }
  });
});

describe('terms (§5.1)', () => {
  it('a deposed leader steps down on hearing a higher term, and its uncommitted entries are replaced', () => {
    const net = new Network(['a', 'b', 'c'], { config: { checkQuorum: false } });
    net.elect('a');
    net.isolate('a');
    net.elect('b');
    expect(net.node('a').currentRole).toBe('leader'); // it has not heard yet
    net.propose('a', 'lost');
    net.propose('b', 'kept');
    net.stabilize();
    net.heal();
    net.tickAll(3);
    const a = net.node('a');
    expect(a.currentRole).toBe('follower');
    expect(a.leader).toBe('b');
    expect(a.currentTerm).toBe(net.node('b').currentTerm);
    for (const member of net.members.values()) expect(member.state).toEqual(['kept']);
  });

  it('a message of a lower term is answered with the current term and otherwise ignored', () => {
    const net = new Network(['a', 'b', 'c']);
    net.elect('a');
    net.elect('b');
    const a = net.node('a');
    const mark = net.sent.length;
    a.step({ type: 'append', from: 'c', to: 'a', term: 1, prevLogIndex: 0, prevLogTerm: 0, entries: [], commit: 0, commitOnly: false });
    net.stabilize();
    expect(a.leader).toBe('b');
    const answer = net.sentSince(mark, (m) => m.from === 'a' && m.to === 'c');
    expect(answer).toEqual([expect.objectContaining({ type: 'append-response', success: false, term: a.currentTerm })]);
  });
});
