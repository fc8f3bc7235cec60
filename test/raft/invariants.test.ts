/**
 * Misuse of the API is a programmer error and throws at once: the Ready handshake out of
 * order, an invalid configuration, a message for another node, compacting past applied.
 */
import { describe, expect, it } from 'vitest';
import { AssertionError } from '../../src/common/assert.ts';
import { SeededRandom } from '../../src/common/random.ts';
import { DEFAULT_RAFT_CONFIG, validateRaftConfig, type RaftConfig } from '../../src/raft/config.ts';
import { RaftNode } from '../../src/raft/raft-node.ts';
import type { Ready } from '../../src/raft/ready.ts';
import { EMPTY_HARD_STATE } from '../../src/raft/types.ts';
import { Network, encode } from './harness.ts';

const bootstrap = { voters: ['a', 'b', 'c'], learners: [] };
const fresh = { hardState: EMPTY_HARD_STATE, snapshot: null, entries: [] };
const makeNode = (config: RaftConfig): RaftNode => new RaftNode(config, bootstrap, fresh, new SeededRandom(1));

/** Leader `a` of three with one proposal handed out in a Ready, not yet advanced. */
function leaderWithReadyInFlight(): { a: RaftNode; first: Ready } {
  const net = new Network(['a', 'b', 'c']);
  net.elect('a');
  const a = net.node('a');
  a.propose(encode('x'));
  return { a, first: a.ready() };
}

describe('the Ready handshake', () => {
  it('a Ready taken while an earlier one is in flight holds only what is new, and advance() goes in order', () => {
    const { a, first } = leaderWithReadyInFlight();
    expect(a.hasReady()).toBe(false); // nothing new yet
    a.propose(encode('y'));
    expect(a.hasReady()).toBe(true);
    const second = a.ready();
    expect(first.entries.map((e) => e.index)).toEqual([2]);
    expect(second.entries.map((e) => e.index)).toEqual([3]);
    expect(() => a.advance(second)).toThrow(/out of order/);
    a.advance(first);
    a.advance(second);
  });

  it('the leader counts its own entries toward commit only once a Ready that wrote them is advanced', () => {
    const { a, first } = leaderWithReadyInFlight();
    const index = first.entries[0]!.index;
    // One follower acknowledges: with our own write still in flight that is not a quorum.
    a.step({ type: 'append-response', from: 'b', to: 'a', term: a.currentTerm, success: true, matchIndex: index, rejectedIndex: 0, conflictTerm: 0, conflictIndex: 0 });
    expect(a.commitIndex).toBeLessThan(index);
    a.advance(first);
    expect(a.commitIndex).toBe(index);
  });

  it('advance() without ready() throws', () => {
    const net = new Network(['a', 'b', 'c']);
    const a = net.node('a');
    net.tickUntil('a', (raft) => raft.hasReady());
    const ready = a.ready();
    a.advance(ready);
    expect(() => a.advance(ready)).toThrow(AssertionError);
  });

  it('a Ready hands out each entry to persist once', () => {
    const net = new Network(['a', 'b', 'c']);
    net.elect('a');
    const a = net.node('a');
    a.propose(encode('x'));
    const first = a.ready();
    a.advance(first);
    expect(first.entries.map((e) => e.index)).toEqual([2]);
    expect(first.mustSync).toBe(true);
    if (a.hasReady()) {
      const second = a.ready();
      expect(second.entries).toEqual([]);
      a.advance(second);
    }
  });
});

describe('configuration', () => {
  it('the defaults are valid', () => {
    expect(validateRaftConfig({ ...DEFAULT_RAFT_CONFIG, id: 'a' })).toEqual([]);
  });

  it.each([
    ['an empty id', { id: '' }, /id must not be empty/],
    ['zero election ticks', { electionTicks: 0 }, /electionTicks must be a positive integer/],
    ['fractional heartbeat ticks', { heartbeatTicks: 1.5 }, /heartbeatTicks must be a positive integer/],
    ['heartbeats no faster than elections', { electionTicks: 5, heartbeatTicks: 5 }, /heartbeatTicks must be below electionTicks/],
    ['an empty in-flight window', { maxInflightAppends: 0 }, /maxInflightAppends/],
    ['empty snapshot chunks', { snapshotChunkBytes: 0 }, /snapshotChunkBytes/],
    ['a negative append size', { maxBytesPerAppend: -1 }, /maxBytesPerAppend/],
  ])('refuses %s', (_name, override, problem) => {
    const config: RaftConfig = { ...DEFAULT_RAFT_CONFIG, id: 'a', ...override };
    expect(validateRaftConfig(config).join('; ')).toMatch(problem);
    expect(() => makeNode(config)).toThrow(AssertionError);
  });
});

describe('misuse', () => {
  it('a message addressed to another node throws', () => {
    const node = makeNode({ ...DEFAULT_RAFT_CONFIG, id: 'a' });
    expect(() => node.step({ type: 'timeout-now', from: 'b', to: 'c', term: 0 })).toThrow(AssertionError);
  });

  it('compacting beyond the applied index throws', () => {
    const net = new Network(['a', 'b', 'c']);
    net.elect('a');
    const a = net.node('a');
    expect(() => a.compact(a.appliedIndex + 1, new Uint8Array(0))).toThrow(AssertionError);
  });

  it('a stored commit index beyond the stored log is refused at start', () => {
    const persisted = { hardState: { term: 1, vote: 'a', commit: 3 }, snapshot: null, entries: [] };
    expect(() => new RaftNode({ ...DEFAULT_RAFT_CONFIG, id: 'a' }, bootstrap, persisted, new SeededRandom(1))).toThrow(AssertionError);
  });
});
