/**
 * Checks of the KV layer, fed by every replica's applied entries and watch batches:
 * - idempotency: a command carrying an idempotency key applies at most once (a retry at
 *   another index must come back deduplicated);
 * - watch feed: every replica publishes the same batch (same revision, same events) for a
 *   given revision, and within one process's life the revisions it publishes never go back
 *   or skip (a restore from a snapshot may jump forward: that replica had not seen them);
 * It also keeps the value → modRevision map the workload's ifRevision CAS needs (puts write
 * unique values, so a value names the one write that stored it).
 */
import { decodeCommand, isKvError, type KvApplyOutcome, type WatchBatch } from '../../../src/kv/index.ts';
import type { Entry, LogIndex, NodeId } from '../../../src/raft/types.ts';

export class KvInvariantChecker {
  readonly violations: string[] = [];
  private readonly appliedKeys = new Map<string, LogIndex>();
  private readonly batches = new Map<number, string>();
  private readonly lastRevision = new Map<string, number>();
  private readonly revisions = new Map<string, number>();
  deduplicatedRetries = 0;

  private fail(message: string): void {
    if (this.violations.length < 20) this.violations.push(message);
  }

  revisionOf(value: string): number | undefined {
    return this.revisions.get(value);
  }

  onApplied(node: NodeId, entry: Entry, outcome: KvApplyOutcome | null): void {
    if (outcome === null) return;
    const command = decodeCommand(entry.data);
    if (isKvError(command)) return;
    const key = command.idempotencyKey;
    if (key !== undefined) {
      if (outcome.deduplicated) {
        this.deduplicatedRetries++;
      } else {
        const first = this.appliedKeys.get(key);
        if (first !== undefined && first !== entry.index) {
          this.fail(`idempotency: key ${key} applied at index ${first} and again at ${entry.index} (on ${node})`);
        }
        this.appliedKeys.set(key, entry.index);
      }
    }
    if (!outcome.deduplicated && !isKvError(outcome.result)) {
      const body = command.body;
      if (body.type === 'put') this.revisions.set(body.value, outcome.revision);
      if (body.type === 'txn' && 'succeeded' in outcome.result && outcome.result.succeeded) {
        for (const op of body.success) if ('put' in op) this.revisions.set(op.put.value, outcome.revision);
      }
    }
  }

  /** `incarnation` names one life of a process: a restart begins a new one. */
  onWatchBatch(node: NodeId, incarnation: string, batch: WatchBatch): void {
    const encoded = JSON.stringify(batch.events);
    const first = this.batches.get(batch.revision);
    if (first === undefined) this.batches.set(batch.revision, encoded);
    else if (first !== encoded) this.fail(`watch feed: ${node} published a different batch at revision ${batch.revision}`);
    const previous = this.lastRevision.get(incarnation);
    if (previous !== undefined && batch.revision !== previous + 1) {
      this.fail(`watch feed: ${node} published revision ${batch.revision} right after ${previous} (a gap or a step back)`);
    }
    this.lastRevision.set(incarnation, batch.revision);
  }

  /** The replica installed a snapshot: its feed may resume at any later revision. */
  onWatchRestored(incarnation: string): void {
    this.lastRevision.delete(incarnation);
  }
}
