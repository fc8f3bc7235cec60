/**
 * Checks of leases, fed by the lease workload's acknowledgements and every replica's applied
 * entries:
 * - never early: a lease's expiry applies no sooner than its TTL after the last acknowledged
 *   grant or keepalive, measured from the moment that request was handled by the leader and
 *   allowing for the fastest simulated clock (a leader whose clock runs fast counts down sooner
 *   in true time; that skew is the one a real deployment must budget for);
 * - gone means gone: right after a replica applies a lease's expiry or revoke, none of its keys
 *   is left in that replica's store, and no later write can attach a key to it.
 */
import { decodeCommand, isKvError, type KvApplyOutcome } from '../../../src/kv/index.ts';
import type { Entry, NodeId } from '../../../src/raft/types.ts';

interface LeaseRecord {
  ttlMs: number;
  /** When the last acknowledged grant or keepalive was handled, in true (virtual) time. */
  lastAckMs: number;
}

export class LeaseInvariantChecker {
  readonly violations: string[] = [];
  private readonly leases = new Map<string, LeaseRecord>();
  /** Lease id → the revision at which it ended (expiry or revoke). */
  private readonly ended = new Map<string, number>();
  expiries = 0;

  constructor(
    private readonly now: () => number,
    /**
     * The fastest node clock, as real milliseconds per local millisecond (0.8: a local TTL of
     * 1000 ms runs out after 800 real ms). SimClock's `rate`, minimised over the nodes.
     */
    private readonly fastestClockRate: number,
  ) {}

  private fail(message: string): void {
    if (this.violations.length < 20) this.violations.push(message);
  }

  /** A grant or keepalive was acknowledged to the client; `handledAtMs` is when the leader handled it. */
  acknowledged(id: string, ttlMs: number, handledAtMs: number): void {
    const record = this.leases.get(id);
    if (record === undefined) this.leases.set(id, { ttlMs, lastAckMs: handledAtMs });
    else record.lastAckMs = Math.max(record.lastAckMs, handledAtMs);
  }

  /** After `node` applied `entry`; `keysWithLease` reads that replica's store. */
  onApplied(node: NodeId, entry: Entry, outcome: KvApplyOutcome | null, keysWithLease: (id: string) => readonly string[]): void {
    if (outcome === null || outcome.deduplicated || isKvError(outcome.result)) return;
    const command = decodeCommand(entry.data);
    if (isKvError(command)) return;
    const body = command.body;
    if (body.type === 'leaseExpire' || body.type === 'leaseRevoke') {
      if (!this.ended.has(body.id)) {
        this.ended.set(body.id, outcome.revision);
        if (body.type === 'leaseExpire') this.checkNotEarly(body.id);
      }
      const left = keysWithLease(body.id);
      if (left.length > 0) this.fail(`lease ${body.id}: ${node} still holds ${left.join(', ')} after its ${body.type} at revision ${outcome.revision}`);
      return;
    }
    if (body.type === 'put' && body.lease !== undefined) {
      const endedAt = this.ended.get(body.lease);
      if (endedAt !== undefined && outcome.revision > endedAt) {
        this.fail(`lease ${body.lease}: a put attached ${body.key} at revision ${outcome.revision}, after the lease ended at ${endedAt} (on ${node})`);
      }
    }
  }

  private checkNotEarly(id: string): void {
    this.expiries++;
    const record = this.leases.get(id);
    if (record === undefined) return; // never acknowledged: nothing was promised
    const elapsedMs = this.now() - record.lastAckMs;
    const promisedMs = record.ttlMs * this.fastestClockRate;
    if (elapsedMs < promisedMs - 1e-6) {
      this.fail(
        `lease ${id} expired early: ${elapsedMs.toFixed(1)} ms after its last acknowledged keepalive, ` +
          `TTL ${record.ttlMs} ms (${promisedMs.toFixed(1)} ms at the fastest clock, ${this.fastestClockRate.toFixed(3)} real ms per local ms)`,
      );
    }
  }
}
