/**
 * Lease clients for KV seeds. Each client, one lease at a time: grants a lease with a fresh
 * id, attaches a key to it, keeps it alive for a while (each keepalive well inside the TTL),
 * then either revokes it or walks away and lets it expire. Acknowledged grants and keepalives
 * go to the LeaseInvariantChecker, which holds expiries against them.
 *
 * Requests follow leader hints and retry what certainly had no effect; writes carry an
 * idempotency key, so a retry after no answer is safe too. A request without an answer by its
 * deadline is dropped: the client moves on to a new lease.
 */
import type { SeededRandom } from '../../src/common/random.ts';
import type { NodeId } from '../../src/raft/types.ts';
import type { LeaseInvariantChecker } from './checkers/lease-invariants.ts';
import type { EventQueue } from './event-queue.ts';
import type { LeaseOp, LeaseOutcome } from './sim-apps.ts';
import type { SimNode } from './sim-node.ts';

export interface LeaseWorkloadOptions {
  readonly clients: number;
  readonly minTtlMs: number;
  readonly maxTtlMs: number;
  readonly opTimeoutMs: number;
  readonly retryDelayMs: number;
  readonly clientLatencyMs: number;
}

export const DEFAULT_LEASE_WORKLOAD: LeaseWorkloadOptions = {
  clients: 2,
  minTtlMs: 500,
  maxTtlMs: 2_500,
  opTimeoutMs: 1_500,
  retryDelayMs: 20,
  clientLatencyMs: 0.5,
};

export class LeaseWorkload {
  private stopped = false;
  private nextLease = 0;
  keepalivesAcknowledged = 0;

  constructor(
    private readonly queue: EventQueue,
    private readonly random: SeededRandom,
    private readonly options: LeaseWorkloadOptions,
    private readonly nodes: () => readonly SimNode[],
    private readonly checker: LeaseInvariantChecker,
  ) {}

  start(): void {
    for (let client = 0; client < this.options.clients; client++) this.queue.schedule(this.random.float() * 100, () => this.newLease(client));
  }

  stop(): void {
    this.stopped = true;
  }

  private newLease(client: number): void {
    if (this.stopped) return;
    const id = `L${client}-${this.nextLease++}`;
    const ttlMs = this.options.minTtlMs + this.random.int(this.options.maxTtlMs - this.options.minTtlMs);
    const keepalives = this.random.int(6);
    const revoke = this.random.chance(0.4);
    this.request({ kind: 'grant', id, ttlMs }, (outcome, sentAtMs) => {
      if (outcome?.status !== 'ok') return this.newLease(client);
      this.checker.acknowledged(id, ttlMs, sentAtMs);
      this.request({ kind: 'attach', id, key: `lease/${id}`, value: `${id}-value` }, () => this.keepAlive(client, id, ttlMs, keepalives, revoke));
    });
  }

  private keepAlive(client: number, id: string, ttlMs: number, left: number, revoke: boolean): void {
    if (this.stopped) return;
    if (left === 0) {
      if (revoke) this.request({ kind: 'revoke', id }, () => this.newLease(client));
      // Walk away: the lease should expire, never before its TTL.
      else this.queue.schedule(ttlMs / 2, () => this.newLease(client));
      return;
    }
    this.queue.schedule(ttlMs / 4 + this.random.float() * (ttlMs / 4), () =>
      this.request({ kind: 'keepalive', id }, (outcome, sentAtMs) => {
        if (outcome?.status !== 'ok') return this.newLease(client);
        this.keepalivesAcknowledged++;
        this.checker.acknowledged(id, ttlMs, sentAtMs);
        this.keepAlive(client, id, ttlMs, left - 1, revoke);
      }),
    );
  }

  /**
   * Runs `op` until it answers ok/not_found (outcome given) or its deadline passes (undefined).
   * `sentAtMs` is when the client first sent it: the moment a careful client counts its lease
   * from (every countdown the request starts or restarts, on any leader, begins after it).
   */
  private request(op: LeaseOp, then: (outcome: LeaseOutcome | undefined, sentAtMs: number) => void): void {
    const sentAtMs = this.queue.now;
    const deadlineMs = this.queue.now + this.options.opTimeoutMs;
    const idempotencyKey = `lease-op-${op.kind}-${op.id}-${this.queue.now}`;
    let finished = false;
    let attempt = 0;
    const finish = (outcome: LeaseOutcome | undefined): void => {
      if (finished) return;
      finished = true;
      then(outcome, sentAtMs);
    };
    const tryAt = (hint: NodeId): void => {
      if (finished) return;
      const nodes = this.nodes();
      const target = nodes.find((node) => node.id === hint) ?? this.random.pick(nodes);
      const thisAttempt = ++attempt;
      const latency = this.options.clientLatencyMs;
      this.queue.schedule(latency, () =>
        target.receiveLease(op, idempotencyKey, (outcome) =>
          this.queue.schedule(latency, () => {
            if (finished || thisAttempt !== attempt) return;
            if (outcome.status !== 'rejected') finish(outcome);
            else if (this.queue.now + this.options.retryDelayMs < deadlineMs) {
              attempt++;
              this.queue.schedule(this.options.retryDelayMs, () => tryAt(outcome.leaderHint));
            }
          }),
        ),
      );
    };
    this.queue.schedule(this.options.opTimeoutMs, () => finish(undefined));
    tryAt('');
  }
}
