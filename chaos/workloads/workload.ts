/** What a chaos workload is: client loops sharing a history, until the run says stop. */
import type { Random } from '../../src/common/random.ts';
import type { ChaosHttp } from '../client.ts';
import type { History } from '../history.ts';

export interface WorkloadContext {
  /** This client's own PRNG (forked from the run's seed). */
  readonly random: Random;
  readonly history: History;
  readonly http: ChaosHttp;
  /** True once the workload phase is over: finish the operation in flight and return. */
  stopped(): boolean;
  /** The client URL of a node to send the next request to (any node, as a real client would). */
  pickNode(): string;
  /** A short random pause between operations. */
  think(random: Random): Promise<void>;
}

export interface Workload {
  readonly name: string;
  runClient(client: number, context: WorkloadContext): Promise<void>;
}
