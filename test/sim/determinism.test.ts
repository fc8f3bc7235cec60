// Determinism is itself a property: the same seed must replay the same event trace, exactly.
import { describe, expect, it } from 'vitest';
import { yieldToEventLoop } from './seed-batch.ts';
import { runSimulation } from './simulation.ts';

describe('simulator determinism', () => {
  const seeds = [3, 17, 42, 1234, 99_999];

  it('replays every seed to the same trace hash and outcome', async () => {
    for (const seed of seeds) {
      const first = runSimulation({ seed });
      const second = runSimulation({ seed });
      expect(second.traceHash, `seed ${seed}`).toBe(first.traceHash);
      expect(second.eventsRun, `seed ${seed}`).toBe(first.eventsRun);
      expect(second.opsCompleted, `seed ${seed}`).toBe(first.opsCompleted);
      expect(second.coverage, `seed ${seed}`).toEqual(first.coverage);
      await yieldToEventLoop();
    }
  });

  it('gives different seeds different traces (the hash really covers the run)', () => {
    const hashes = new Set(seeds.map((seed) => runSimulation({ seed, faultPhaseMs: 3_000 }).traceHash));
    expect(hashes.size).toBe(seeds.length);
  });
});
