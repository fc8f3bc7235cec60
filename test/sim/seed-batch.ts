/**
 * Runs a batch of seeds for the test suite and reports failures with their replay commands.
 * The suite's seed count comes from SIM_SEEDS (default 300, split across the seed files).
 */
import { describe, expect, it } from 'vitest';
import type { KvPlants } from './sim-apps.ts';
import { COVERAGE_KEYS, runSimulation, type CoverageKey, type SimulationOptions } from './simulation.ts';
import type { SwarmOptions } from './swarm.ts';

export const SUITE_SEEDS = Number(process.env['SIM_SEEDS'] ?? 300);
/**
 * A batch of 150 seeds takes about 90 s on an idle core; a loaded machine (CI's neighbours, or
 * several suites at once) can take twice that. Hangs are caught inside a seed (the runaway guard).
 */
const SEED_BATCH_TIMEOUT_MS = 600_000;

export interface BatchReport {
  readonly failures: string[];
  readonly coverage: Record<CoverageKey, number>;
}

/**
 * A seed runs synchronously for up to seconds; between seeds, let the vitest worker answer its
 * RPCs (on a loaded machine a long synchronous loop makes them time out and fails the run).
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Runs seeds 1..maxSeeds until one reports a violation (one matching `wanted`, when given: a plant
 * shows several symptoms, and which one a seed shows moves with every change of timing); that
 * seed and its first (matching) violation.
 */
export async function firstFailingSeed(
  options: Omit<SimulationOptions, 'seed'>,
  maxSeeds: number,
  wanted?: RegExp,
): Promise<{ seed: number; violation: string } | null> {
  for (let seed = 1; seed <= maxSeeds; seed++) {
    const violation = runSimulation({ ...options, seed }).violations.find((found) => wanted === undefined || wanted.test(found));
    if (violation !== undefined) return { seed, violation };
    await yieldToEventLoop();
  }
  return null;
}

/**
 * For planted-bug tests on seeds with the lock workload (and its election and registry clients):
 * finds the first seed (of 1..maxSeeds) whose run with `plants` reports a violation matching
 * each of `wanted` (any violation when it is empty), then shows seeds 1..that one pass without
 * them. Returns that seed and all its violations. A plant shows several symptoms, and which one
 * a seed shows first moves with every change of timing; the test names the checks it is about.
 */
export async function caughtOnLockSeeds(
  options: Omit<SimulationOptions, 'seed' | 'kvPlants' | 'tweak'>,
  plants: KvPlants,
  maxSeeds: number,
  wanted: readonly RegExp[] = [],
): Promise<{ seed: number; violations: readonly string[] }> {
  const base = {
    faultPhaseMs: PLANTED_FAULT_PHASE_MS,
    ...options,
    tweak: (swarm: SwarmOptions): SwarmOptions => ({ ...swarm, application: 'kv' }),
    lockWorkload: { seedShare: 1, ...options.lockWorkload },
  };
  let found: { seed: number; violations: readonly string[] } | null = null;
  for (let seed = 1; seed <= maxSeeds && found === null; seed++) {
    const violations = runSimulation({ ...base, kvPlants: plants, seed }).violations;
    const shows = (pattern: RegExp): boolean => violations.some((violation) => pattern.test(violation));
    if (violations.length > 0 && wanted.every(shows)) found = { seed, violations };
    await yieldToEventLoop();
  }
  expect(found, 'no seed caught the planted bug').not.toBeNull();
  for (let seed = 1; seed <= (found?.seed ?? 0); seed++) {
    expect(runSimulation({ ...base, seed }).violations, `seed ${seed} without the plant`).toEqual([]);
    await yieldToEventLoop();
  }
  return found ?? { seed: 0, violations: [] };
}

/** A shorter fault phase than the suite's: the lock seeds' plants show within seconds of virtual time. */
const PLANTED_FAULT_PHASE_MS = 12_000;

export async function runSeedBatch(start: number, count: number): Promise<BatchReport> {
  const failures: string[] = [];
  const coverage = Object.fromEntries(COVERAGE_KEYS.map((key) => [key, 0])) as Record<CoverageKey, number>;
  for (let seed = start; seed < start + count; seed++) {
    const result = runSimulation({ seed });
    for (const key of COVERAGE_KEYS) coverage[key] += result.coverage[key];
    if (result.violations.length > 0) {
      failures.push(`seed ${seed}: ${result.violations[0]}\n  replay: npm run sim -- --seed ${seed} --trace`);
    }
    await yieldToEventLoop();
  }
  return { failures, coverage };
}

/** Every interesting state must have been reached somewhere in the batch. */
export function expectFullCoverage(coverage: Record<CoverageKey, number>): void {
  const missing = COVERAGE_KEYS.filter((key) => coverage[key] === 0);
  expect(missing, `states never reached: ${missing.join(', ')} (coverage ${JSON.stringify(coverage)})`).toEqual([]);
}

/** Declares part `part` (0-based) of `parts` of the suite's seeds; the parts run in parallel. */
export function describeSeedBatch(part: number, parts: number): void {
  const size = Math.ceil(SUITE_SEEDS / parts);
  const start = 1 + part * size;
  const count = Math.max(0, Math.min(size, SUITE_SEEDS - part * size));
  describe(`simulation seeds ${start}..${start + count - 1}`, () => {
    it('hold every safety, linearizability and liveness check, and reach every interesting state', async () => {
      const report = await runSeedBatch(start, count);
      expect(report.failures, report.failures.join('\n\n')).toEqual([]);
      expectFullCoverage(report.coverage);
    }, SEED_BATCH_TIMEOUT_MS);
  });
}
