/**
 * The application a Raft log drives. apply() must be deterministic — every replica applies
 * the same entries in the same order and must reach the same state and the same results —
 * as hashicorp/raft's FSM rule says. Snapshots let the log be compacted and lagging followers
 * catch up.
 */
import type { Slices } from '../common/slices.ts';
import type { LogIndex } from '../raft/types.ts';

export interface StateMachine<Result> {
  /** Applies one normal log entry's data; never throws for bad input (return an error result). */
  apply(index: LogIndex, data: Uint8Array): Result;
  /** The whole state, as of the last applied entry. */
  snapshot(): Uint8Array;
  /**
   * Optional: the same snapshot of the state as it is at this call, encoded a slice at a time.
   * The host runs one slice per turn of its event loop and may apply more entries between them;
   * the bytes returned at the end must still be those of the state at the call.
   */
  snapshotInSlices?(elementsPerSlice: number): Slices<Uint8Array>;
  /** Replaces the whole state with a snapshot's. */
  restore(data: Uint8Array): void;
  /**
   * Optional: restore() a slice at a time. The state stays as it was (and may be read) until the
   * last slice replaces it at once; the host applies nothing until then.
   */
  restoreInSlices?(data: Uint8Array, elementsPerSlice: number): Slices<void>;
}
