/** What every cluster workload of the suite is handed: the cluster, the pools, the run's mode. */
import type { EndpointPools } from './pools.ts';
import type { ClusterTarget } from './target.ts';

export interface SuiteContext {
  readonly target: ClusterTarget;
  readonly pools: EndpointPools;
  /** `--quick`: each workload's count and time budget a tenth of the full run's (a smoke test). */
  readonly quick: boolean;
  progress(line: string): void;
}

/** The full-run options, or the quick ones under `--quick`. */
export function optionsFor<T>(context: SuiteContext, full: T, quick: T): T {
  return context.quick ? quick : full;
}

/** The key of sequence number `sequence` among `keySpace` keys under `prefix`. */
export function keyOf(prefix: string, sequence: number, keySpace: number): string {
  return `${prefix}/${String(sequence % keySpace).padStart(6, '0')}`;
}
