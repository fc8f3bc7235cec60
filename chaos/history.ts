/**
 * The history of a chaos run: every client operation with its invocation and completion times
 * (ms since the run started, from a monotonic clock), the node it was sent to, and its outcome:
 * ok, fail (certainly had no effect) or unknown (may have applied at any point after the
 * invocation, or never). The register operations are also kept in the simulator checker's form.
 */
import type { HistoryRecord, RegisterOp, RegisterOutcome } from '../test/sim/checkers/linearizability.ts';

export type Status = 'ok' | 'fail' | 'unknown';

export interface Operation {
  readonly id: number;
  readonly workload: string;
  readonly client: number;
  readonly node: string;
  /** What was asked: e.g. { f: 'put', key, value }. */
  readonly invoke: Readonly<Record<string, unknown>>;
  readonly invokeMs: number;
  completeMs: number | null;
  status: Status | 'pending';
  /** What came back: the useful fields of the answer, or the error. */
  result: Readonly<Record<string, unknown>> | null;
}

export class History {
  readonly operations: Operation[] = [];
  readonly registerRecords: HistoryRecord[] = [];
  private readonly counts = { ok: 0, fail: 0, unknown: 0 };
  private readonly startedAt = performance.now();
  private nextId = 0;

  /** Milliseconds since the run started (monotonic). */
  now(): number {
    return Math.round((performance.now() - this.startedAt) * 1000) / 1000;
  }

  invoke(workload: string, client: number, node: string, invoke: Record<string, unknown>): Operation {
    const operation: Operation = { id: this.nextId++, workload, client, node, invoke, invokeMs: this.now(), completeMs: null, status: 'pending', result: null };
    this.operations.push(operation);
    return operation;
  }

  complete(operation: Operation, status: Status, result: Record<string, unknown>): void {
    operation.completeMs = status === 'unknown' ? null : this.now();
    operation.status = status;
    operation.result = result;
    this.counts[status]++;
  }

  /** Also records a register operation for the linearizability checker. */
  completeRegister(operation: Operation, op: RegisterOp, outcome: RegisterOutcome, result: Record<string, unknown>): void {
    this.complete(operation, outcome.status, result);
    this.registerRecords.push({ id: operation.id, client: operation.client, op, invokeMs: operation.invokeMs, completeMs: operation.completeMs, outcome });
  }

  get totals(): { readonly ok: number; readonly fail: number; readonly unknown: number } {
    return { ...this.counts };
  }
}
