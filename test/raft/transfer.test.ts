/**
 * Leadership transfer (Raft thesis §3.10), after etcd-io/raft's TestLeaderTransfer* tests: the
 * leader catches the target up, then sends it 'timeout-now'; it refuses proposals meanwhile,
 * and gives up after an election timeout.
 */
import { describe, expect, it } from 'vitest';
import { Network, TEST_CONFIG } from './harness.ts';

const E = TEST_CONFIG.electionTicks;

describe('leadership transfer', () => {
  it('to an up-to-date follower elects it in the next term', () => {
    const net = new Network(['a', 'b', 'c']);
    net.elect('a');
    const term = net.node('a').currentTerm;
    const mark = net.sent.length;
    expect(net.node('a').transferLeadership('b')).toEqual({ ok: true });
    net.stabilize();
    expect(net.leader()).toBe('b');
    expect(net.node('b').currentTerm).toBe(term + 1);
    expect(net.node('a').leader).toBe('b');
    expect(net.member('b').events).toContain('leadership-transferred');
    // It campaigned at once: no pre-vote, and its vote requests override the voters' leases.
    const sent = net.sentSince(mark);
    expect(sent.filter((m) => m.type === 'pre-vote')).toEqual([]);
    expect(sent.filter((m) => m.type === 'vote').every((m) => m.type === 'vote' && m.transfer)).toBe(true);
  });

  it('to a lagging follower catches it up first', () => {
    const net = new Network(['a', 'b', 'c']);
    net.elect('a');
    net.cut('a', 'c');
    for (const text of ['1', '2', '3', '4', '5']) net.propose('a', text);
    net.stabilize();
    net.heal();
    const last = net.node('a').lastIndex;
    expect(net.node('c').lastIndex).toBeLessThan(last);

    const mark = net.sent.length;
    net.node('a').transferLeadership('c');
    net.stabilize();
    net.tickAll(2); // heartbeats let the leader probe c again
    expect(net.leader()).toBe('c');
    const sent = net.sentSince(mark);
    const timeoutNow = sent.findIndex((m) => m.type === 'timeout-now');
    expect(timeoutNow).toBeGreaterThan(0);
    // The 'timeout-now' left only after c acknowledged the leader's whole log.
    const lastAck = sent.slice(0, timeoutNow).findLast((m) => m.type === 'append-response' && m.from === 'c');
    expect(lastAck).toMatchObject({ success: true, matchIndex: last });
    for (const member of net.members.values()) expect(member.state).toEqual(['1', '2', '3', '4', '5']);
  });

  it('refuses proposals while it is under way', () => {
    const net = new Network(['a', 'b', 'c']);
    net.elect('a');
    net.cut('a', 'c');
    net.node('a').transferLeadership('c');
    net.stabilize();
    expect(net.node('a').propose(new Uint8Array([1]))).toEqual({ ok: false, reason: 'transferring', leaderHint: 'a' });
  });

  it('is abandoned after an election timeout when the target is unreachable', () => {
    const net = new Network(['a', 'b', 'c']);
    net.elect('a');
    net.cut('a', 'c');
    const term = net.node('a').currentTerm;
    net.node('a').transferLeadership('c');
    net.tick('a', E - 1);
    expect(net.node('a').propose(new Uint8Array([1])).ok).toBe(false);
    net.tick('a');
    expect(net.node('a').currentRole).toBe('leader');
    expect(net.node('a').currentTerm).toBe(term);
    expect(net.node('a').propose(new Uint8Array([1])).ok).toBe(true);
  });

  it('is refused by a follower and for a target that is not a voter', () => {
    const net = new Network(['a', 'b', 'c']);
    net.elect('a');
    expect(net.node('b').transferLeadership('c')).toEqual({ ok: false, reason: 'not_leader' });
    expect(net.node('a').transferLeadership('z')).toEqual({ ok: false, reason: 'not_voter' });
    expect(net.node('a').transferLeadership('a')).toEqual({ ok: true });
    expect(net.node('a').propose(new Uint8Array([1])).ok).toBe(true); // a no-op transfer to itself
  });
});
