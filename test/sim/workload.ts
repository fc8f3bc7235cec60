/**
 * Simulated clients: each runs one operation at a time (get, put or compare-and-set on a small
 * set of keys) against any node, follows leader hints, retries only what certainly had no
 * effect, and records every operation's invocation and completion for the linearizability
 * checker. An operation whose deadline passes is recorded as indeterminate.
 */
import type { SeededRandom } from '../../src/common/random.ts';
import type { NodeId } from '../../src/raft/types.ts';
import type { HistoryRecord, RegisterOp, RegisterOutcome } from './checkers/linearizability.ts';
import type { EventQueue } from './event-queue.ts';
import type { AppOutcome } from './sim-apps.ts';
import type { SimNode } from './sim-node.ts';

export interface WorkloadOptions {
  readonly clients: number;
  readonly keys: number;
  readonly readRate: number;
  readonly casRate: number;
  readonly thinkMaxMs: number;
  readonly opTimeoutMs: number;
  readonly retryDelayMs: number;
  readonly clientLatencyMs: number;
  readonly maxOps: number;
  /** Share of puts that are deletes (a write of absent). */
  readonly deleteRate: number;
  /**
   * Retry a write that got no answer within this long, with the same idempotency key, at
   * another node (0 = never: only apps that deduplicate retries may use it).
   */
  readonly retryUnansweredAfterMs: number;
}

interface Attempt {
  readonly record: MutableRecord;
  readonly deadlineMs: number;
  leaderHint: NodeId;
  attemptId: number;
  finished: boolean;
  /** An earlier attempt went unanswered: it may still apply, whatever later attempts hear. */
  mayHaveApplied: boolean;
}

type MutableRecord = { -readonly [K in keyof HistoryRecord]: HistoryRecord[K] };

export class Workload {
  readonly history: HistoryRecord[] = [];
  private nextOpId = 0;
  private stopped = false;
  private inFlight = 0;
  /** Reads invoked while some link was cut (coverage of ReadIndex under partition). */
  readsUnderPartition = 0;

  constructor(
    private readonly queue: EventQueue,
    private readonly random: SeededRandom,
    private readonly options: WorkloadOptions,
    private readonly nodes: () => readonly SimNode[],
    private readonly partitioned: () => boolean,
  ) {}

  start(): void {
    for (let client = 0; client < this.options.clients; client++) this.scheduleNext(client);
  }

  /** Stops issuing new operations; those in flight still finish or time out. */
  stop(): void {
    this.stopped = true;
  }

  get idle(): boolean {
    return this.inFlight === 0;
  }

  get opsStarted(): number {
    return this.nextOpId;
  }

  private scheduleNext(client: number): void {
    this.queue.schedule(this.random.float() * this.options.thinkMaxMs, () => this.invoke(client));
  }

  private invoke(client: number): void {
    if (this.stopped || this.nextOpId >= this.options.maxOps) return;
    const id = this.nextOpId++;
    const record: MutableRecord = {
      id,
      client,
      op: this.chooseOp(client, id),
      invokeMs: this.queue.now,
      completeMs: null,
      outcome: { status: 'unknown' },
    };
    this.history.push(record);
    this.inFlight++;
    if (record.op.kind === 'get' && this.partitioned()) this.readsUnderPartition++;
    const attempt: Attempt = {
      record,
      deadlineMs: this.queue.now + this.options.opTimeoutMs,
      leaderHint: '',
      attemptId: 0,
      finished: false,
      mayHaveApplied: false,
    };
    this.queue.schedule(this.options.opTimeoutMs, () => this.timeOut(attempt));
    this.tryOnce(attempt);
  }

  private chooseOp(client: number, id: number): RegisterOp {
    const key = `k${this.random.int(this.options.keys)}`;
    const roll = this.random.float();
    if (roll < this.options.readRate) return { kind: 'get', key };
    const value = `c${client}-${id}`;
    if (roll > 1 - this.options.deleteRate) return { kind: 'put', key, value: null };
    if (roll < this.options.readRate + this.options.casRate) {
      // Expect the value most recently written by anyone, or absence: a realistic mix of hits and misses.
      const expected = this.lastWrittenValue(key);
      return { kind: 'cas', key, expected, value };
    }
    return { kind: 'put', key, value };
  }

  private lastWrittenValue(key: string): string | null {
    for (let i = this.history.length - 1; i >= 0; i--) {
      const op = this.history[i]?.op;
      if (op !== undefined && op.key === key && op.kind !== 'get') return op.value;
    }
    return null;
  }

  private tryOnce(attempt: Attempt): void {
    if (attempt.finished) return;
    const nodes = this.nodes();
    const target = nodes.find((node) => node.id === attempt.leaderHint) ?? this.random.pick(nodes);
    const attemptId = ++attempt.attemptId;
    const latency = this.options.clientLatencyMs;
    const record = attempt.record;
    this.queue.schedule(latency, () =>
      target.receiveClient(record.op, `op-${record.id}`, (outcome) =>
        this.queue.schedule(latency, () => {
          if (!attempt.finished && attempt.attemptId === attemptId) this.onOutcome(attempt, outcome);
        }),
      ),
    );
    const retryAfterMs = this.options.retryUnansweredAfterMs;
    if (record.op.kind !== 'get' && retryAfterMs > 0) {
      // No answer yet: the write may or may not have applied. Its idempotency key makes a retry
      // elsewhere safe — the first application's result comes back, nothing applies twice.
      this.queue.schedule(retryAfterMs, () => {
        if (attempt.finished || attempt.attemptId !== attemptId) return;
        attempt.mayHaveApplied = true;
        attempt.leaderHint = '';
        this.tryOnce(attempt);
      });
    }
  }

  private onOutcome(attempt: Attempt, outcome: AppOutcome): void {
    if (outcome.status === 'rejected') {
      this.retry(attempt, outcome.leaderHint);
      return;
    }
    const op = attempt.record.op;
    if (op.kind === 'get') this.finish(attempt, { status: 'ok', value: outcome.value ?? null });
    else if (op.kind === 'cas') this.finish(attempt, { status: 'ok', casSucceeded: outcome.casSucceeded === true });
    else this.finish(attempt, { status: 'ok' });
  }

  /** This attempt certainly had no effect: try again (at the hinted leader) before the deadline. */
  private retry(attempt: Attempt, leaderHint: NodeId): void {
    attempt.leaderHint = leaderHint;
    attempt.attemptId++;
    if (this.queue.now + this.options.retryDelayMs >= attempt.deadlineMs) {
      // Out of time. Without an earlier unanswered attempt the operation certainly had no effect.
      this.finish(attempt, attempt.mayHaveApplied ? { status: 'unknown' } : { status: 'fail' });
      return;
    }
    this.queue.schedule(this.options.retryDelayMs, () => this.tryOnce(attempt));
  }

  private timeOut(attempt: Attempt): void {
    if (attempt.finished) return;
    // A read that never answered had no effect; a write may have applied or may apply later.
    this.finish(attempt, attempt.record.op.kind === 'get' ? { status: 'fail' } : { status: 'unknown' });
  }

  private finish(attempt: Attempt, outcome: RegisterOutcome): void {
    attempt.finished = true;
    attempt.record.outcome = outcome;
    attempt.record.completeMs = outcome.status === 'unknown' ? null : this.queue.now;
    this.inFlight--;
    this.scheduleNext(attempt.record.client);
  }
}
