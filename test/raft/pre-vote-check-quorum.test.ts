/**
 * PreVote and CheckQuorum (Raft thesis §9.6), after etcd-io/raft's raft_test.go: a node that
 * was partitioned away must not disrupt a healthy cluster when it comes back, and a leader
 * that lost its majority must stop acting as one.
 */
import { describe, expect, it } from 'vitest';
import type { Message, PreVoteRequest, VoteRequest } from '../../src/raft/messages.ts';
import { LEADER_GONE_CAMPAIGN_TICKS, LEADER_GONE_QUICK_CAMPAIGNS, QUICK_RETRY_MIN_TICKS } from '../../src/raft/election.ts';
import { Network, TEST_CONFIG } from './harness.ts';

const E = TEST_CONFIG.electionTicks;

const isFrom = (from: string, type: Message['type']) => (m: Message) => m.from === from && m.type === type;

describe('PreVote', () => {
  it('a partitioned node that rejoins raises no term and does not disrupt the leader', () => {
    const net = new Network(['a', 'b', 'c']);
    net.elect('a');
    const term = net.node('a').currentTerm;
    net.isolate('c');
    const mark = net.sent.length;
    net.tickAll(10 * E);
    net.propose('a', 'while-away');
    net.stabilize();
    // It kept asking whether it could win, without ever raising its term.
    expect(net.sentSince(mark, isFrom('c', 'pre-vote')).length).toBeGreaterThan(3);
    expect(net.sentSince(mark, isFrom('c', 'vote'))).toEqual([]);
    expect(net.node('c').currentTerm).toBe(term);

    net.heal();
    net.tickAll(5 * E);
    expect(net.leader()).toBe('a');
    for (const member of net.members.values()) {
      expect(member.raft.currentTerm).toBe(term);
      expect(member.state).toEqual(['while-away']);
    }
  });

  it('pre-votes from a node whose log fell behind are rejected', () => {
    // Without CheckQuorum's lease the voters do answer, so only the log comparison protects.
    const net = new Network(['a', 'b', 'c'], { config: { checkQuorum: false } });
    net.elect('a');
    const term = net.node('a').currentTerm;
    net.isolate('c');
    net.propose('a', 'x');
    net.stabilize();
    net.heal();
    const mark = net.sent.length;
    const c = net.node('c');
    net.tickUntil('c', (raft) => raft.currentRole === 'pre-candidate');
    net.stabilize();
    const answers = net.sentSince(mark, (m) => m.type === 'pre-vote-response');
    expect(answers.map((m) => m.from).sort()).toEqual(['a', 'b']);
    for (const answer of answers) expect(answer).toMatchObject({ granted: false });
    expect(net.member('c').events).toContain('pre-vote-rejected');
    expect(c.currentRole).toBe('follower'); // lost: a majority refused
    expect(net.leader()).toBe('a');
    for (const member of net.members.values()) expect(member.raft.currentTerm).toBe(term);
  });

  it("a pre-vote changes neither the voter's term nor its vote, even when granted", () => {
    const net = new Network(['a', 'b', 'c']);
    const b = net.node('b');
    const request: PreVoteRequest = { type: 'pre-vote', from: 'a', to: 'b', term: 5, lastLogIndex: 0, lastLogTerm: 0 };
    b.step(request);
    net.stabilize();
    expect(b.hardState()).toMatchObject({ term: 0, vote: '' });
    expect(net.sent).toEqual([expect.objectContaining({ type: 'pre-vote-response', to: 'a', granted: true, term: 5 })]);
  });

  it('a pre-candidate keeps its term until a majority would vote for it', () => {
    const net = new Network(['a', 'b', 'c']);
    net.isolate('a');
    const a = net.node('a');
    for (let i = 0; i < 5 * E; i++) net.tick('a');
    expect(a.currentRole).toBe('pre-candidate');
    expect(a.hardState()).toMatchObject({ term: 0, vote: '' });
    net.heal();
    // Its next pre-vote round is answered; only then does it take term 1 and win.
    for (let i = 0; i < 2 * E && a.currentRole !== 'leader'; i++) net.tick('a');
    expect(a.currentRole).toBe('leader');
    expect(a.currentTerm).toBe(1);
  });
});

describe('CheckQuorum', () => {
  it('a leader cut off from the majority steps down within an election timeout of losing it', () => {
    const net = new Network(['a', 'b', 'c']);
    net.elect('a');
    net.isolate('a');
    net.tick('a', E - 1);
    expect(net.node('a').currentRole).toBe('leader');
    // The check runs every electionTicks; a majority heard within the running period still counts.
    net.tick('a', E + 1);
    expect(net.node('a').currentRole).toBe('follower');
    expect(net.node('a').leader).toBe('');
    expect(net.member('a').events).toContain('check-quorum-step-down');
  });

  it('a leader that keeps its majority keeps leading, and the cut-off minority cannot unseat it', () => {
    const net = new Network(['a', 'b', 'c']);
    net.elect('a');
    const term = net.node('a').currentTerm;
    net.cut('a', 'c'); // c still reaches b, which is in a's lease and ignores it
    net.tickAll(10 * E);
    expect(net.leader()).toBe('a');
    expect(net.node('b').currentTerm).toBe(term);
    expect(net.member('a').events).not.toContain('check-quorum-step-down');
  });

  it('a follower that heard from its leader recently ignores a higher-term vote request', () => {
    const net = new Network(['a', 'b', 'c'], { config: { preVote: false } });
    net.elect('a');
    const b = net.node('b');
    const term = b.currentTerm;
    const request: VoteRequest = {
      type: 'vote', from: 'c', to: 'b', term: term + 1, lastLogIndex: b.lastIndex, lastLogTerm: term, transfer: false,
    };
    const mark = net.sent.length;
    b.step(request);
    net.stabilize();
    expect(b.currentTerm).toBe(term);
    expect(b.leader).toBe('a');
    expect(net.sentSince(mark, (m) => m.from === 'b' && m.to === 'c')).toEqual([]);

    // A leadership transfer is the leader's own wish: it overrides the lease.
    b.step({ ...request, transfer: true });
    net.stabilize();
    expect(net.sentSince(mark, isFrom('b', 'vote-response'))).toEqual([expect.objectContaining({ granted: true, term: term + 1 })]);
    expect(b.hardState()).toMatchObject({ term: term + 1, vote: 'c' });
  });

  it("a learner whose leader fell silent stays out of the lease: it answers every tick's vote request", () => {
    // Found by simulator seed 226: a candidate whose log holds the learner's promotion counts it
    // as a voter, while the learner (not yet holding that entry) restarted its election count at
    // every timeout it could not act on, so it sat inside the lease most of the time, dropped
    // the requests, and a cluster that needed its vote never elected a leader.
    const net = new Network(['a', 'b', 'c']);
    net.elect('a');
    net.addNode('d');
    net.changeMembership('a', { type: 'add-learner', id: 'd' });
    net.stabilize();
    net.tickAll(1);
    expect(net.node('d').members.learners).toEqual(['d']);
    net.isolate('a');
    net.tick('d', E); // an election timeout without its leader: the lease is over
    const d = net.node('d');
    for (let i = 0; i < 3 * E; i++) {
      net.tick('d');
      const mark = net.sent.length;
      d.step({ type: 'pre-vote', from: 'b', to: 'd', term: d.currentTerm + 1, lastLogIndex: d.lastIndex, lastLogTerm: d.currentTerm });
      net.stabilize();
      expect(net.sentSince(mark, isFrom('d', 'pre-vote-response')), `tick ${i}`).toEqual([
        expect.objectContaining({ granted: true }),
      ]);
    }
  });

  it('without a lease the same request is granted', () => {
    const net = new Network(['a', 'b', 'c'], { config: { preVote: false, checkQuorum: false } });
    net.elect('a');
    const b = net.node('b');
    const term = b.currentTerm;
    b.step({ type: 'vote', from: 'c', to: 'b', term: term + 1, lastLogIndex: b.lastIndex, lastLogTerm: term, transfer: false });
    expect(b.hardState()).toMatchObject({ term: term + 1, vote: 'c' });
  });
});

describe('a leader the host saw go (leaderGone, etcd-io/raft ForgetLeader)', () => {
  /** Leader a with an entry committed crashes, and both survivors are told at once. */
  function crashLeaderTellingBoth(): { net: Network; term: number } {
    const net = new Network(['a', 'b', 'c']);
    net.elect('a');
    net.propose('a', 'x');
    net.stabilize();
    const term = net.node('a').currentTerm;
    net.crash('a');
    net.node('b').leaderGone('a');
    net.node('c').leaderGone('a');
    return { net, term };
  }

  it('the followers forget it and elect a new leader within a few ticks, not an election timeout', () => {
    const { net, term } = crashLeaderTellingBoth();
    for (const id of ['b', 'c']) {
      expect(net.node(id).leader).toBe('');
      expect(net.member(id).events).toContain('leader-forgotten');
    }
    let ticks = 0;
    while (net.leader() === undefined || net.leader() === 'a') {
      ticks++;
      expect(ticks, 'ticks to elect a new leader').toBeLessThanOrEqual(LEADER_GONE_CAMPAIGN_TICKS);
      net.tickAll(1);
    }
    expect(['b', 'c']).toContain(net.leader());
    expect(net.node(net.leader() ?? '').currentTerm).toBe(term + 1);
  });

  it('two followers told at once whose campaigns split the vote retry within a few ticks, not an election timeout', () => {
    const { net, term } = crashLeaderTellingBoth();
    // Both start their pre-vote before either hears from the other (a loaded machine), so each
    // grants the other's pre-vote, both stand in term + 1 and each votes for itself: a split.
    for (const id of ['b', 'c']) net.tickUntil(id, (raft) => raft.currentRole === 'pre-candidate', LEADER_GONE_CAMPAIGN_TICKS);
    net.stabilize();
    for (const id of ['b', 'c']) expect({ id, role: net.node(id).currentRole, term: net.node(id).currentTerm }).toEqual({ id, role: 'candidate', term: term + 1 });
    let ticks = 0;
    while (net.leader() === undefined || net.leader() === 'a') {
      ticks++;
      // Without the quick retry this takes the election timeout: at least E ticks.
      expect(ticks, 'ticks to elect after the split').toBeLessThanOrEqual(QUICK_RETRY_MIN_TICKS + LEADER_GONE_CAMPAIGN_TICKS - 1);
      net.tickAll(1);
    }
    expect(ticks).toBeLessThan(E);
    expect(net.node(net.leader() ?? '').currentTerm).toBe(term + 2);
  });

  it('the quick retries are bounded: with no one to answer, campaigns fall back to the election timeout', () => {
    const net = new Network(['a', 'b', 'c']);
    net.elect('a');
    net.crash('a');
    net.crash('c');
    net.node('b').leaderGone('a');
    const mark = net.sent.length;
    const campaigns = (): number => net.sentSince(mark, (m) => m.from === 'b' && m.to === 'c' && (m.type === 'pre-vote' || m.type === 'vote')).length;
    // Every campaign is a pre-vote (none is granted); each quick one retries within a few ticks.
    net.tick('b', LEADER_GONE_CAMPAIGN_TICKS + LEADER_GONE_QUICK_CAMPAIGNS * (QUICK_RETRY_MIN_TICKS + LEADER_GONE_CAMPAIGN_TICKS - 1));
    expect(campaigns()).toBe(LEADER_GONE_QUICK_CAMPAIGNS + 1);
    // Then one per election timeout at most.
    net.tick('b', 4 * E);
    expect(campaigns()).toBeLessThanOrEqual(LEADER_GONE_QUICK_CAMPAIGNS + 1 + 4);
    expect(net.node('b').currentTerm).toBe(net.node('a').currentTerm); // pre-votes only: no term raised
  });

  it('one follower told wrongly cannot unseat a live leader: the other is in its lease', () => {
    const net = new Network(['a', 'b', 'c']);
    net.elect('a');
    const term = net.node('a').currentTerm;
    net.cut('a', 'b'); // as if b's connection from a broke; a still reaches c
    net.node('b').leaderGone('a');
    const mark = net.sent.length;
    net.tickAll(LEADER_GONE_CAMPAIGN_TICKS);
    expect(net.sentSince(mark, isFrom('b', 'pre-vote')).length).toBeGreaterThan(0); // it tried at once
    net.tickAll(2 * E);
    expect(net.leader()).toBe('a');
    expect(net.sentSince(mark, (m) => m.type === 'pre-vote-response' && m.granted)).toEqual([]);
    for (const id of ['a', 'c']) expect(net.node(id).currentTerm).toBe(term);
    // And once a's heartbeats reach it again, b follows a.
    net.heal();
    net.tickAll(E);
    expect(net.node('b').leader).toBe('a');
    expect(net.node('b').currentTerm).toBe(term);
  });

  it('is ignored unless the peer is our leader, and a learner forgets it without campaigning', () => {
    const net = new Network(['a', 'b', 'c']);
    net.elect('a');
    net.node('b').leaderGone('c');
    expect(net.node('b').leader).toBe('a');
    net.node('a').leaderGone('a');
    expect(net.node('a').currentRole).toBe('leader');

    net.addNode('d');
    net.changeMembership('a', { type: 'add-learner', id: 'd' });
    net.stabilize();
    net.tickAll(1);
    net.isolate('d');
    net.node('d').leaderGone('a');
    expect(net.node('d').leader).toBe('');
    const mark = net.sent.length;
    net.tick('d', 3 * E);
    expect(net.sentSince(mark, (m) => m.from === 'd' && (m.type === 'pre-vote' || m.type === 'vote'))).toEqual([]);
  });
});
