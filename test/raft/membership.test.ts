/**
 * Membership changes, one server at a time (src/raft/membership.ts): learners, promotion,
 * removal (the leader's own included), replacing a dead member, the refusals that keep a change
 * safe, rollback of an uncommitted configuration, and configurations across restarts and
 * snapshots. The harness checks state machine safety and durable commits on every Ready.
 */
import { describe, expect, it } from 'vitest';
import { Network, TEST_CONFIG } from './harness.ts';

const E = TEST_CONFIG.electionTicks;

/** A three-voter cluster led by a, with a few entries committed everywhere. */
function threeNodes(): Network {
  const net = new Network(['a', 'b', 'c']);
  net.elect('a');
  net.propose('a', 'x');
  net.stabilize();
  return net;
}

describe('membership changes', () => {
  it('adds a learner that catches up and applies, but never votes, campaigns or counts', () => {
    const net = threeNodes();
    net.addNode('d');
    net.changeMembership('a', { type: 'add-learner', id: 'd', endpoints: { peerAddress: 'h:1', clientUrl: 'http://h:2' } });
    net.stabilize();
    net.tickAll(2);
    expect(net.node('d').members).toEqual({
      voters: ['a', 'b', 'c'],
      learners: ['d'],
      endpoints: { d: { peerAddress: 'h:1', clientUrl: 'http://h:2' } },
    });
    expect(net.member('d').state).toEqual(['x']);

    // A learner's acknowledgement does not count towards a quorum.
    net.cut('a', 'b');
    net.cut('a', 'c');
    const index = net.propose('a', 'y');
    net.stabilize();
    expect(net.node('d').lastIndex).toBe(index);
    expect(net.node('a').commitIndex).toBeLessThan(index);
    net.heal();
    net.stabilize();
    net.tickAll(1);
    expect(net.node('a').commitIndex).toBeGreaterThanOrEqual(index);

    // Left alone for many election timeouts, the learner never campaigns.
    net.isolate('d');
    const mark = net.sent.length;
    net.tick('d', 5 * E);
    expect(net.sentSince(mark, (m) => m.from === 'd' && (m.type === 'pre-vote' || m.type === 'vote'))).toEqual([]);
    expect(net.node('d').currentRole).toBe('follower');
  });

  it('promotes a caught-up learner: it then counts and the quorum grows', () => {
    const net = threeNodes();
    net.addNode('d');
    net.changeMembership('a', { type: 'add-learner', id: 'd' });
    net.stabilize();
    net.tickAll(1);
    net.changeMembership('a', { type: 'promote', id: 'd' });
    net.stabilize();
    net.tickAll(1);
    for (const id of ['a', 'b', 'c', 'd']) expect(net.node(id).members.voters).toEqual(['a', 'b', 'c', 'd']);

    // Four voters need three: a and d alone can no longer commit.
    net.cut('a', 'b');
    net.cut('a', 'c');
    const index = net.propose('a', 'y');
    net.stabilize();
    expect(net.node('a').commitIndex).toBeLessThan(index);
    net.heal();
    net.stabilize();
    net.tickAll(1);
    expect(net.node('a').commitIndex).toBeGreaterThanOrEqual(index);

    // And d can lead.
    net.elect('d');
    expect(net.leader()).toBe('d');
  });

  it('removes a follower: the leader stops replicating to it and counts only the rest', () => {
    const net = threeNodes();
    net.changeMembership('a', { type: 'remove', id: 'c' });
    net.stabilize();
    net.tickAll(1);
    expect(net.node('a').members.voters).toEqual(['a', 'b']);
    const mark = net.sent.length;
    const index = net.propose('a', 'y');
    net.stabilize();
    net.tickAll(2);
    expect(net.sentSince(mark, (m) => m.to === 'c')).toEqual([]);
    expect(net.node('a').commitIndex).toBeGreaterThanOrEqual(index);
    // Two voters need both.
    net.cut('a', 'b');
    const next = net.propose('a', 'z');
    net.stabilize();
    expect(net.node('a').commitIndex).toBeLessThan(next);
  });

  it('a removed follower receives its removal before the leader lets go of it, and stops campaigning', () => {
    const net = threeNodes();
    net.changeMembership('a', { type: 'remove', id: 'c' });
    net.stabilize();
    net.tickAll(1);
    expect(net.node('c').members.voters).toEqual(['a', 'b']);
    const mark = net.sent.length;
    net.isolate('c');
    net.tick('c', 5 * E);
    expect(net.sentSince(mark, (m) => m.from === 'c' && (m.type === 'pre-vote' || m.type === 'vote'))).toEqual([]);
  });

  it('removes the leader itself: it leads until the change commits, then hands over and never campaigns', () => {
    const net = threeNodes();
    const term = net.node('a').currentTerm;
    net.changeMembership('a', { type: 'remove', id: 'a' });
    net.stabilize();
    expect(net.member('a').events).toContain('removed-leader-stepped-down');
    expect(net.node('a').currentRole).toBe('follower');
    // It sent timeout-now to a caught-up voter, so a new leader exists without waiting.
    const successor = net.leader();
    expect(successor === 'b' || successor === 'c').toBe(true);
    expect(net.node(successor ?? 'b').currentTerm).toBe(term + 1);
    expect(net.node(successor ?? 'b').members.voters).toEqual(['b', 'c']);

    const index = net.propose(successor ?? 'b', 'after');
    net.stabilize();
    net.tickAll(1);
    expect(net.node(successor ?? 'b').commitIndex).toBeGreaterThanOrEqual(index);
    const mark = net.sent.length;
    net.isolate('a');
    net.tick('a', 5 * E);
    expect(net.sentSince(mark, (m) => m.from === 'a' && (m.type === 'pre-vote' || m.type === 'vote'))).toEqual([]);
  });

  it('while a removed leader waits for its change to commit, it does not count itself', () => {
    const net = threeNodes();
    net.cut('a', 'b');
    net.changeMembership('a', { type: 'remove', id: 'a' });
    net.stabilize();
    // Only c holds the change: one of the two new voters, not a majority of them.
    expect(net.node('a').currentRole).toBe('leader');
    const entry = net.node('a').lastIndex;
    expect(net.node('a').commitIndex).toBeLessThan(entry);
    net.heal();
    net.tickAll(2);
    expect(net.node('a').currentRole).toBe('follower');
    expect(net.node('b').commitIndex).toBeGreaterThanOrEqual(entry);
  });

  it('updates a member\'s endpoints without touching the voters, and refuses it for a non-member', () => {
    const net = threeNodes();
    const endpoints = { peerAddress: '10.0.0.2:7101', clientUrl: 'http://10.0.0.2:7001' };
    net.changeMembership('a', { type: 'update-endpoints', id: 'b', endpoints });
    net.stabilize();
    net.tickAll(1);
    for (const id of ['a', 'b', 'c']) {
      expect(net.node(id).members).toEqual({ voters: ['a', 'b', 'c'], learners: [], endpoints: { b: endpoints } });
    }
    expect(net.node('a').proposeConfChange({ type: 'update-endpoints', id: 'zz', endpoints })).toMatchObject({ ok: false, reason: 'not_member' });
  });

  it('replaces a dead member: add a learner, promote it, remove the dead one', () => {
    const net = threeNodes();
    net.crash('c');
    net.tickAll(2 * E); // long enough for c to count as not heard from
    net.addNode('d');
    net.changeMembership('a', { type: 'add-learner', id: 'd' });
    net.stabilize();
    net.tickAll(1);
    net.changeMembership('a', { type: 'promote', id: 'd' });
    net.stabilize();
    net.tickAll(1);
    net.changeMembership('a', { type: 'remove', id: 'c' });
    net.stabilize();
    net.tickAll(1);
    expect(net.node('a').members.voters).toEqual(['a', 'b', 'd']);
    // The new trio survives losing b.
    net.crash('b');
    const index = net.propose('a', 'y');
    net.stabilize();
    net.tickAll(1);
    expect(net.node('d').commitIndex).toBeGreaterThanOrEqual(index);
    expect(net.member('d').state).toEqual(['x', 'y']);
  });

  it('catches a learner up by snapshot when the log it needs is compacted', () => {
    const net = threeNodes();
    for (const text of ['1', '2', '3']) net.propose('a', text);
    net.stabilize();
    net.compact('a');
    net.addNode('d');
    net.changeMembership('a', { type: 'add-learner', id: 'd' });
    net.stabilize();
    net.tickAll(3);
    expect(net.member('d').events).toContain('snapshot-installed');
    expect(net.member('d').state).toEqual(['x', '1', '2', '3']);
    expect(net.node('d').members).toEqual(net.node('a').members);
  });

  describe('refuses unsafe requests', () => {
    it('a second change while one is uncommitted', () => {
      const net = threeNodes();
      net.addNode('d');
      net.isolate('a');
      net.changeMembership('a', { type: 'add-learner', id: 'd' });
      expect(net.node('a').proposeConfChange({ type: 'remove', id: 'c' })).toMatchObject({ ok: false, reason: 'change_pending' });
      net.heal();
      net.stabilize();
      net.tickAll(1);
      expect(net.node('a').proposeConfChange({ type: 'remove', id: 'c' })).toMatchObject({ ok: true });
    });

    it('from a leader whose no-op is not committed yet', () => {
      const net = threeNodes();
      // b takes over while it cannot reach anyone to commit its no-op.
      net.node('a').transferLeadership('b');
      net.filter = (m) => !(m.type === 'append' && m.from === 'b');
      net.stabilize();
      expect(net.node('b').currentRole).toBe('leader');
      expect(net.node('b').proposeConfChange({ type: 'remove', id: 'c' })).toMatchObject({ ok: false, reason: 'change_pending' });
    });

    it('promoting a learner that is far behind', () => {
      const net = new Network(['a', 'b', 'c'], { config: { maxEntriesPerAppend: 2 } });
      net.elect('a');
      net.addNode('d');
      net.changeMembership('a', { type: 'add-learner', id: 'd' });
      net.stabilize();
      net.isolate('d');
      for (let i = 0; i < 6; i++) net.propose('a', `e${i}`);
      net.stabilize();
      expect(net.node('a').proposeConfChange({ type: 'promote', id: 'd' })).toMatchObject({ ok: false, reason: 'learner_behind' });
      net.heal();
      net.tickAll(4);
      expect(net.node('a').proposeConfChange({ type: 'promote', id: 'd' })).toMatchObject({ ok: true });
    });

    it('promoting a learner that has not answered yet, however short the log (it is still catching up)', () => {
      const net = threeNodes();
      net.crash('c');
      net.tickAll(2 * E);
      net.addNode('d');
      net.isolate('d');
      net.changeMembership('a', { type: 'add-learner', id: 'd' });
      net.stabilize();
      expect(net.node('a').proposeConfChange({ type: 'promote', id: 'd' })).toMatchObject({ ok: false, reason: 'learner_behind' });
      net.heal();
      net.tickAll(2);
      expect(net.node('a').proposeConfChange({ type: 'promote', id: 'd' })).toMatchObject({ ok: true });
    });

    it('removing a member when the rest would not be a live quorum', () => {
      const net = threeNodes();
      net.crash('c');
      net.tickAll(2 * E);
      // Left with a and c, only a is alive: not a majority of two.
      expect(net.node('a').proposeConfChange({ type: 'remove', id: 'b' })).toMatchObject({ ok: false, reason: 'would_lose_quorum' });
      // Removing the dead one is fine.
      expect(net.node('a').proposeConfChange({ type: 'remove', id: 'c' })).toMatchObject({ ok: true });
    });

    it('nonsense: unknown members, duplicates, promoting a voter, removing the last voter', () => {
      const net = threeNodes();
      const a = net.node('a');
      expect(a.proposeConfChange({ type: 'remove', id: 'zz' })).toMatchObject({ ok: false, reason: 'not_member' });
      expect(a.proposeConfChange({ type: 'add-learner', id: 'b' })).toMatchObject({ ok: false, reason: 'already_member' });
      expect(a.proposeConfChange({ type: 'promote', id: 'b' })).toMatchObject({ ok: false, reason: 'already_member' });
      expect(a.proposeConfChange({ type: 'promote', id: 'zz' })).toMatchObject({ ok: false, reason: 'not_learner' });
      expect(net.node('b').proposeConfChange({ type: 'remove', id: 'c' })).toMatchObject({ ok: false, reason: 'not_leader' });

      const solo = new Network(['s']);
      solo.elect('s');
      expect(solo.node('s').proposeConfChange({ type: 'remove', id: 's' })).toMatchObject({ ok: false, reason: 'last_voter' });
    });
  });

  it('rolls an uncommitted configuration back when a new leader overwrites it', () => {
    const net = new Network(['a', 'b', 'c', 'd', 'e']);
    net.elect('a');
    net.stabilize();
    // Only b receives the change; then a and b are cut off and the others elect c.
    for (const id of ['c', 'd', 'e']) net.cut('a', id);
    net.addNode('f');
    net.changeMembership('a', { type: 'add-learner', id: 'f' });
    net.stabilize();
    expect(net.node('b').members.learners).toEqual(['f']);
    for (const id of ['c', 'd', 'e']) net.cut('b', id);
    net.elect('c');
    net.propose('c', 'from c');
    net.stabilize();
    net.heal();
    net.tickAll(3);
    for (const id of ['a', 'b']) {
      expect(net.node(id).leader).toBe('c');
      expect(net.node(id).members).toEqual({ voters: ['a', 'b', 'c', 'd', 'e'], learners: [] });
    }
    expect(net.member('b').state).toEqual(['from c']);
  });

  it('keeps its configuration across a restart, from the log and from a snapshot', () => {
    const net = threeNodes();
    net.addNode('d');
    net.changeMembership('a', { type: 'add-learner', id: 'd' });
    net.stabilize();
    net.tickAll(1);
    net.crash('b');
    net.restart('b');
    expect(net.node('b').members.learners).toEqual(['d']);
    net.tickAll(2); // b learns the commit index again and applies
    net.compact('b');
    net.propose('a', 'y'); // b's next synced write makes the unsynced compaction durable too
    net.stabilize();
    net.tickAll(1);
    net.crash('b');
    net.restart('b');
    expect(net.node('b').snapshotIndex).toBeGreaterThan(0);
    expect(net.node('b').members.learners).toEqual(['d']);
    // A snapshot taken before a later change carries the configuration at its own index.
    net.changeMembership('a', { type: 'promote', id: 'd' });
    net.stabilize();
    net.crash('b');
    net.restart('b');
    expect(net.node('b').members).toEqual({ voters: ['a', 'b', 'c', 'd'], learners: [] });
  });
});
