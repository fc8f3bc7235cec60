// CI-sized simulation, part 2 of 2 (the parts run in parallel): seeded runs with faults.
import { describe, expect, it } from 'vitest';
import { expectFullCoverage, runSeedBatch, SUITE_SEEDS } from './seed-batch.ts';

const half = Math.ceil(SUITE_SEEDS / 2);
const start = 1 + 1 * half;
const count = Math.min(half, SUITE_SEEDS - 1 * half);

describe(`simulation seeds ${start}..${start + count - 1}`, () => {
  it('hold every safety, linearizability and liveness check, and reach every interesting state', () => {
    const report = runSeedBatch(start, count);
    expect(report.failures, report.failures.join('\n\n')).toEqual([]);
    expectFullCoverage(report.coverage);
  });
});
