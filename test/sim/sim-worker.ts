/** Runs seeds for the sim command on a worker thread and reports a summary of each. */
import { parentPort } from 'node:worker_threads';
import { runSimulation, type SimulationResult } from './simulation.ts';

export interface SeedJob {
  readonly seed: number;
  readonly nodeCount?: number;
}

/** What a worker reports of a seed (the full result holds the schedule and more). */
export type SeedSummary = Pick<SimulationResult, 'seed' | 'nodeCount' | 'violations' | 'coverage' | 'virtualMs' | 'traceHash'>;

parentPort?.on('message', (job: SeedJob) => {
  const result = runSimulation(job.nodeCount === undefined ? { seed: job.seed } : { seed: job.seed, nodeCount: job.nodeCount });
  const summary: SeedSummary = {
    seed: result.seed,
    nodeCount: result.nodeCount,
    violations: result.violations,
    coverage: result.coverage,
    virtualMs: result.virtualMs,
    traceHash: result.traceHash,
  };
  parentPort?.postMessage(summary);
});
