/**
 * simulator-speed: how fast the deterministic simulator explores seeds. Runs consecutive
 * seeds of 3-node clusters one after another on this core with runSimulation (each seed is
 * ~30 virtual seconds of faults plus the liveness phase), and derives virtual seconds per
 * wall second, seeds per minute on one core, and the projected wall time of a 1,000-seed
 * sweep on two workers. Violations are counted and returned, since a benchmark that finds a
 * bug should say so; timings are printed, never asserted.
 */
import { runSimulation } from '../test/sim/simulation.ts';

export interface SimulatorBenchOptions {
  readonly seeds: number;
  readonly firstSeed: number;
  readonly nodeCount: number;
}

export interface SeedViolation {
  readonly seed: number;
  readonly violations: readonly string[];
}

export interface SimulatorBenchResult {
  readonly seeds: number;
  readonly wallSeconds: number;
  readonly virtualSeconds: number;
  /** The shortest seed's virtual length (the projection assumes seeds of at least 30 s). */
  readonly minVirtualSecondsPerSeed: number;
  readonly eventsRun: number;
  readonly virtualPerWall: number;
  readonly seedsPerMinute: number;
  readonly slowestSeedSeconds: number;
  readonly failures: readonly SeedViolation[];
}

export const DEFAULT_SIMULATOR_OPTIONS: SimulatorBenchOptions = { seeds: 40, firstSeed: 1, nodeCount: 3 };

/** Seeds in the projected sweep, and the workers it runs on (this machine has 2 cores). */
export const SWEEP_SEEDS = 1_000;
export const SWEEP_WORKERS = 2;

export function runSimulatorBench(
  options: SimulatorBenchOptions = DEFAULT_SIMULATOR_OPTIONS,
  progress: (line: string) => void = () => {},
): SimulatorBenchResult {
  let virtualMs = 0;
  let minVirtualMs = Number.POSITIVE_INFINITY;
  let eventsRun = 0;
  let slowestMs = 0;
  const failures: SeedViolation[] = [];
  const started = performance.now();
  for (let i = 0; i < options.seeds; i++) {
    const seed = options.firstSeed + i;
    const seedStarted = performance.now();
    const result = runSimulation({ seed, nodeCount: options.nodeCount });
    const seedMs = performance.now() - seedStarted;
    slowestMs = Math.max(slowestMs, seedMs);
    virtualMs += result.virtualMs;
    minVirtualMs = Math.min(minVirtualMs, result.virtualMs);
    eventsRun += result.eventsRun;
    if (result.violations.length > 0) failures.push({ seed, violations: result.violations });
    progress(
      `simulator-speed: seed ${seed} (${i + 1}/${options.seeds}) ${(result.virtualMs / 1000).toFixed(1)} virtual s ` +
        `in ${(seedMs / 1000).toFixed(2)} s, ${result.violations.length} violations`,
    );
  }
  const wallSeconds = (performance.now() - started) / 1000;
  const virtualSeconds = virtualMs / 1000;
  return {
    seeds: options.seeds,
    wallSeconds,
    virtualSeconds,
    minVirtualSecondsPerSeed: minVirtualMs / 1000,
    eventsRun,
    virtualPerWall: virtualSeconds / wallSeconds,
    seedsPerMinute: (options.seeds / wallSeconds) * 60,
    slowestSeedSeconds: slowestMs / 1000,
    failures,
  };
}

/** Minutes a SWEEP_SEEDS sweep takes on SWEEP_WORKERS workers at this speed. */
export function projectedSweepMinutes(result: SimulatorBenchResult): number {
  return SWEEP_SEEDS / (result.seedsPerMinute * SWEEP_WORKERS);
}
