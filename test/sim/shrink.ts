/**
 * Shrinks a failing fault schedule to a small one that still fails (greedy delta debugging:
 * drop halves, then quarters, down to single events). Every other choice stays tied to the
 * seed, so the shrunk schedule replays with the same seed.
 */
import type { FaultEvent } from './faults.ts';
import { runSimulation, type SimulationOptions } from './simulation.ts';

/** The kind of a violation ("liveness", "linearizability", ...), so shrinking keeps the same bug. */
export function violationKind(violation: string): string {
  return violation.split(':')[0] ?? violation;
}

export interface ShrinkResult {
  readonly schedule: readonly FaultEvent[];
  readonly violation: string;
  readonly runs: number;
}

export function shrinkSchedule(
  options: SimulationOptions,
  schedule: readonly FaultEvent[],
  kind: string,
  maxRuns = 150,
  onProgress: (runs: number, size: number) => void = () => {},
): ShrinkResult {
  let current = schedule.slice();
  let violation = '';
  let runs = 0;
  const stillFails = (candidate: readonly FaultEvent[]): boolean => {
    runs++;
    const found = runSimulation({ ...options, schedule: candidate }).violations.find((v) => violationKind(v) === kind);
    if (found !== undefined) violation = found;
    return found !== undefined;
  };
  if (!stillFails(current)) return { schedule: current, violation: '', runs };
  for (let chunk = Math.ceil(current.length / 2); chunk >= 1 && runs < maxRuns; chunk = Math.floor(chunk / 2)) {
    for (let start = 0; start < current.length && runs < maxRuns; ) {
      const candidate = [...current.slice(0, start), ...current.slice(start + chunk)];
      if (stillFails(candidate)) current = candidate;
      else start += chunk;
      onProgress(runs, current.length);
    }
  }
  // The last successful run recorded the violation of the current schedule (or an earlier one).
  stillFails(current);
  return { schedule: current, violation, runs };
}
