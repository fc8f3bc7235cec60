// The checkers must catch real bugs. Each test plants one — by overriding one small method of
// RaftNode in a test subclass, or with a faulty disk — and shows the simulator finds it within
// a bounded number of seeds. Production code is not bent: the plants live only here.
import { describe, expect, it } from 'vitest';
import type { RaftMessage } from '../../src/raft/messages.ts';
import { RaftNode, type ReadIndexResult } from '../../src/raft/raft-node.ts';
import type { LogIndex, Term } from '../../src/raft/types.ts';
import { AcknowledgesBeforeDurable } from './plants.ts';
import { firstFailingSeed, yieldToEventLoop } from './seed-batch.ts';
import type { RaftFactory } from './sim-node.ts';
import { runSimulation } from './simulation.ts';

/** Plant (b): grants votes without the §5.4.1 up-to-date check. */
class VotesWithoutLogCheck extends RaftNode {
  override logIsUpToDate(_lastIndex: LogIndex, _lastTerm: Term): boolean {
    return true;
  }
}

/** Plant (d): a leader serves reads at its commit index without confirming it still leads. */
class LeaderReadsWithoutReadIndex extends RaftNode {
  override readIndex(context: string): ReadIndexResult {
    if (this.currentRole !== 'leader') return super.readIndex(context);
    this.readConfirmed(context, this.commitIndex);
    return { ok: true };
  }
}

/** Plant (e): a leader never answers its followers' ReadIndex requests, so their reads hang. */
class IgnoresFollowersReads extends RaftNode {
  override step(message: RaftMessage): void {
    if (message.type !== 'read-index') super.step(message);
  }
}

function factory(NodeClass: typeof RaftNode): RaftFactory {
  return (config, bootstrap, persisted, random, observe) => new NodeClass(config, bootstrap, persisted, random, observe);
}

describe('planted bugs are caught', () => {
  it('(b) a vote granted without the log up-to-date check breaks leader completeness', async () => {
    const found = await firstFailingSeed({ makeRaft: factory(VotesWithoutLogCheck) }, 60);
    expect(found, 'no seed caught the planted bug').not.toBeNull();
    expect(found?.violation).toMatch(/leader completeness|state machine safety|log matching|assertion|linearizability/);
  });

  it('(c) an acknowledgement sent before its entries are durable loses committed entries', async () => {
    const found = await firstFailingSeed({ makeDisk: () => new AcknowledgesBeforeDurable() }, 60);
    expect(found, 'no seed caught the planted bug').not.toBeNull();
    expect(found?.violation).toMatch(/leader completeness|state machine safety|election safety|assertion|linearizability/);
  });

  it('(d) a read served without ReadIndex is caught as a linearizability violation', async () => {
    // Stale reads need a deposed leader that still believes it leads while a client reads from it
    // and another client has written through the new leader: rarer than the other plants (the
    // swarm's isolations of the current leader are what make them show at all).
    const found = await firstFailingSeed({ makeRaft: factory(LeaderReadsWithoutReadIndex) }, 100);
    expect(found, 'no seed caught the planted bug').not.toBeNull();
    // A stale read, or a keepalive a deposed leader acknowledged without confirming it still
    // leads (its read barrier is the same ReadIndex), so the lease expires before its promise.
    expect(found?.violation).toMatch(/^linearizability|expired early/);
  });

  it('(e) reads a node never serves are caught by the liveness phase, which reads on every replica', async () => {
    const found = await firstFailingSeed({ makeRaft: factory(IgnoresFollowersReads) }, 20);
    expect(found, 'no seed caught the planted bug').not.toBeNull();
    expect(found?.violation).toMatch(/^liveness: .*marker committed: true, read on /);
  });

  it('the same seeds pass without the plants', async () => {
    for (let seed = 1; seed <= 10; seed++) {
      expect(runSimulation({ seed }).violations, `seed ${seed}`).toEqual([]);
      await yieldToEventLoop();
    }
  });
});
