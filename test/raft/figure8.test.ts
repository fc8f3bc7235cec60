/**
 * The Figure 8 rule (Raft §5.4.2): a leader never commits an entry of an earlier term by
 * counting replicas, because a later leader may still overwrite it. The situation of the
 * paper's Figure 8 is built step by step on five nodes; a node with the rule removed shows
 * that the test bites: the simulator's leader-completeness checker catches the next leader
 * lacking the entry the buggy one committed (planted bug (a) of the simulator's issue).
 */
import { describe, expect, it } from 'vitest';
import type { Message } from '../../src/raft/messages.ts';
import { RaftNode } from '../../src/raft/raft-node.ts';
import type { LogIndex } from '../../src/raft/types.ts';
import { Network, type NetworkOptions } from './harness.ts';

/** The bug the rule prevents: commit whatever a majority holds, whatever its term. */
class CommitsByCounting extends RaftNode {
  protected override mayCommitByCounting(_index: LogIndex): boolean {
    return true;
  }
}

const IDS = ['s1', 's2', 's3', 's4', 's5'];
// One entry per append, so that the old entry can reach a majority without the new no-op.
const OPTIONS: NetworkOptions = { config: { maxEntriesPerAppend: 1 } };

/**
 * Builds Figure 8 (c): s1 leads term T+2 and has replicated index 2 (of term T) to a majority
 * (s1, s3, s4, plus s2), while index 2 of term T+1 sits on s5, which is down.
 */
function buildFigure8c(net: Network): { oldTerm: number } {
  net.elect('s1'); // term T; index 1 is its no-op, committed everywhere
  const oldTerm = net.node('s1').currentTerm;

  // (a) s1 replicates index 2 to s2 only, then crashes.
  for (const id of ['s3', 's4', 's5']) net.cut('s1', id);
  net.propose('s1', 'term-T');
  net.stabilize();
  expect(net.node('s2').entryAt(2)?.term).toBe(oldTerm);
  expect(net.node('s1').commitIndex).toBe(1);
  net.crash('s1');
  net.heal();

  // (b) s5 wins term T+1 with s3 and s4 and appends index 2 only locally, then crashes.
  net.filter = (m: Message) => !(m.from === 's5' && m.type === 'append');
  net.elect('s5');
  expect(net.node('s5').entryAt(2)?.term).toBe(oldTerm + 1);
  net.crash('s5');
  net.filter = () => true;

  // (c) s1 restarts and wins term T+2. Its appends carrying the new no-op (index 3) are lost
  // wherever they would be accepted; s3 and s4 reject them for lacking index 2, so s1 backs up
  // and sends index 2 of term T alone: with s1 and s3, s4 a majority holds it.
  net.restart('s1');
  const wouldAccept = (m: Message): boolean => net.node(m.to).entryAt(2) !== undefined;
  net.filter = (m: Message) => !(m.type === 'append' && m.entries.some((e) => e.index >= 3) && wouldAccept(m));
  net.elect('s1');
  net.tickAll(3); // heartbeats let the leader probe again
  return { oldTerm };
}

describe('Figure 8: entries of an earlier term are not committed by counting', () => {
  it('a majority holding an old-term entry does not commit it; the next leader may overwrite it', () => {
    const net = new Network(IDS, OPTIONS);
    const { oldTerm } = buildFigure8c(net);
    const s1 = net.node('s1');
    expect(s1.currentRole).toBe('leader');
    expect(s1.currentTerm).toBe(oldTerm + 2);
    for (const id of ['s1', 's2', 's3', 's4']) expect(net.node(id).entryAt(2)?.term).toBe(oldTerm);
    expect(s1.commitIndex).toBe(1);
    expect(net.member('s1').state).toEqual([]);

    // (d) s1 crashes; s5, whose last term T+1 beats T, wins and overwrites index 2 everywhere.
    net.crash('s1');
    net.filter = () => true;
    net.restart('s5');
    net.elect('s5');
    net.tickAll(3);
    for (const id of ['s2', 's3', 's4', 's5']) {
      expect(net.node(id).entryAt(2)?.term).toBe(oldTerm + 1);
      expect(net.member(id).applied.some((e) => e.index === 2 && e.term === oldTerm)).toBe(false);
    }
  });

  it('the old entry commits once an entry of the current term reaches a majority', () => {
    const net = new Network(IDS, OPTIONS);
    const { oldTerm } = buildFigure8c(net);
    net.filter = () => true;
    net.tickAll(3);
    const s1 = net.node('s1');
    expect(s1.commitIndex).toBe(3);
    expect(s1.entryAt(3)).toMatchObject({ type: 'noop', term: oldTerm + 2 });
    expect(net.member('s1').state).toEqual(['term-T']);
  });

  it('bites: a leader that commits by counting loses a committed entry to the next leader', () => {
    const net = new Network(IDS, {
      ...OPTIONS,
      makeRaft: (...args) => (args[0].id === 's1' ? new CommitsByCounting(...args) : new RaftNode(...args)),
    });
    const { oldTerm } = buildFigure8c(net);
    expect(net.node('s1').commitIndex).toBe(2);
    expect(net.member('s1').state).toEqual(['term-T']);
    net.crash('s1');
    net.filter = () => true;
    net.restart('s5');
    // s1 applied index 2 of term T; s5, holding term T+1 there, now wins the election: the
    // simulator's leader-completeness checker (which the harness runs) stops the run right there.
    expect(net.member('s1').applied.find((e) => e.index === 2)?.term).toBe(oldTerm);
    expect(net.node('s5').entryAt(2)?.term).toBe(oldTerm + 1);
    expect(() => net.elect('s5')).toThrow(/leader completeness: s5 leads term \d+ without committed entry 2/);
  });
});
