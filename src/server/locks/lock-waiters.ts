/**
 * The requests waiting on this node for a lock or an election, by waiter id. A waiter is
 * registered before its acquire is proposed, so a grant applied in the same batch as the acquire
 * cannot be missed; the state machine's lock events then wake exactly the waiter a grant names
 * (no thundering herd), or tell it its lease ended while it waited. Waking works on any replica:
 * a node that lost leadership while its request waited still applies the log and still wakes it.
 *
 * After a snapshot replaced the state, every waiter is checked against the new state: granted,
 * still waiting, or gone.
 */
import type { KvStateMachine } from '../../kv/index.ts';
import type { LockEvent, LockHolder, LockKind } from '../../lock/index.ts';

export type WaitEnd =
  | { readonly kind: 'granted'; readonly holder: LockHolder }
  /** Its lease ended while it waited: it left the queue. */
  | { readonly kind: 'lease_ended'; readonly lease: string }
  /** A restored snapshot has it neither waiting nor holding. */
  | { readonly kind: 'gone' };

interface Waiter {
  readonly kind: LockKind;
  readonly name: string;
  readonly resolve: (end: WaitEnd) => void;
}

export interface PendingWait {
  readonly ended: Promise<WaitEnd>;
  /** Stops listening (the request ended); idempotent. */
  cancel(): void;
}

export class LockWaiters {
  private readonly waiters = new Map<string, Waiter>();
  private readonly unsubscribe: Array<() => void>;

  constructor(private readonly kv: KvStateMachine) {
    this.unsubscribe = [kv.onLockEvents((events) => this.onEvents(events)), kv.onRestore(() => this.onRestore())];
  }

  get size(): number {
    return this.waiters.size;
  }

  register(kind: LockKind, name: string, waiterId: string): PendingWait {
    let resolve!: (end: WaitEnd) => void;
    const ended = new Promise<WaitEnd>((done) => {
      resolve = done;
    });
    this.waiters.set(waiterId, { kind, name, resolve });
    return { ended, cancel: () => this.waiters.delete(waiterId) };
  }

  close(): void {
    for (const stop of this.unsubscribe) stop();
    this.waiters.clear();
  }

  private finish(waiterId: string, end: WaitEnd): void {
    const waiter = this.waiters.get(waiterId);
    if (waiter === undefined) return;
    this.waiters.delete(waiterId);
    waiter.resolve(end);
  }

  private onEvents(events: readonly LockEvent[]): void {
    if (this.waiters.size === 0) return;
    for (const event of events) {
      if (event.type === 'granted' && event.holder.waiterId !== undefined) {
        this.finish(event.holder.waiterId, { kind: 'granted', holder: event.holder });
      } else if (event.type === 'waiterRemoved') {
        this.finish(event.waiterId, { kind: 'lease_ended', lease: event.lease });
      }
    }
  }

  private onRestore(): void {
    for (const [waiterId, waiter] of [...this.waiters]) {
      const holder = this.kv.locks.holder(waiter.kind, waiter.name);
      if (holder?.waiterId === waiterId) this.finish(waiterId, { kind: 'granted', holder });
      else if (!this.kv.locks.isWaiting(waiter.kind, waiter.name, waiterId)) this.finish(waiterId, { kind: 'gone' });
    }
  }
}
