// The membership checkers must catch real bugs: each test plants one in a RaftNode subclass
// (which members make a quorum) and shows the simulator finds it on seeds that change
// membership often. Production code is not bent: the plants live only here.
import { describe, expect, it } from 'vitest';
import { RaftNode } from '../../src/raft/raft-node.ts';
import type { NodeId } from '../../src/raft/types.ts';
import { firstFailingSeed, yieldToEventLoop } from './seed-batch.ts';
import type { RaftFactory } from './sim-node.ts';
import { runSimulation, type SimulationOptions } from './simulation.ts';
import type { SwarmOptions } from './swarm.ts';

/** A leader that removed itself keeps counting its own log and vote (thesis §4.2.2 says it must not). */
class RemovedLeaderCountsItself extends RaftNode {
  override quorumVoters(): readonly NodeId[] {
    const voters = super.quorumVoters();
    return voters.includes(this.id) ? voters : [...voters, this.id];
  }
}

/** Learners' votes and acknowledgements count as if they were voters. */
class LearnersCount extends RaftNode {
  override quorumVoters(): readonly NodeId[] {
    return [...super.quorumVoters(), ...this.members.learners];
  }
}

function factory(NodeClass: typeof RaftNode): RaftFactory {
  return (config, bootstrap, persisted, random, observe) => new NodeClass(config, bootstrap, persisted, random, observe);
}

/** Every seed changes membership about once a second, with two spare nodes to add. */
const churn = (options: SwarmOptions): SwarmOptions => ({
  ...options,
  spareNodes: 2,
  rates: { ...options.rates, membershipPerSecond: 1 },
});

const withChurn = (makeRaft: RaftFactory): Omit<SimulationOptions, 'seed'> => ({ makeRaft, tweak: churn });

describe('planted membership bugs are caught', () => {
  it('a removed leader that still counts itself commits without a quorum of the new voters', async () => {
    const found = await firstFailingSeed(withChurn(factory(RemovedLeaderCountsItself)), 40);
    expect(found, 'no seed caught the planted bug').not.toBeNull();
    expect(found?.violation).toMatch(/commit quorum|election quorum|state machine safety|leader completeness|linearizability/);
  });

  it('learners counted in quorums elect and commit without a majority of voters', async () => {
    const found = await firstFailingSeed(withChurn(factory(LearnersCount)), 40);
    expect(found, 'no seed caught the planted bug').not.toBeNull();
    expect(found?.violation).toMatch(/commit quorum|election quorum/);
  });

  it('the same seeds pass without the plants', async () => {
    for (let seed = 1; seed <= 6; seed++) {
      const result = runSimulation({ seed, tweak: churn });
      expect(result.violations, `seed ${seed}`).toEqual([]);
      expect(result.coverage['membership-change'], `seed ${seed} changed no membership`).toBeGreaterThan(0);
      await yieldToEventLoop();
    }
  });
});
