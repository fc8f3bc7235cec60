/**
 * Wakes whoever waits on a service — blocking queries and service watch streams — when an
 * applied entry changes that service's instance list. One listener on the state machine for all
 * of them: every registry change rewrites its service's marker key (src/registry/keys.ts), so a
 * batch's events are looked up by key, and an apply costs nothing for services nobody waits on.
 *
 * Subscribers are called synchronously after the apply, when the state is complete; they must
 * not throw. A restore from a snapshot may have changed any service, so it wakes everyone and
 * each subscriber compares the service revision with the one it knows.
 */
import type { KvStateMachine, WatchBatch } from '../../kv/index.ts';
import { changedSince, serviceMarkerKey } from '../../registry/index.ts';

export type ServiceChangeSubscriber = () => void;

export class ServiceChangeHub {
  private readonly subscribers = new Map<string, Set<ServiceChangeSubscriber>>();
  private readonly detach: Array<() => void>;

  constructor(private readonly kv: KvStateMachine) {
    this.detach = [kv.onEvents((batch) => this.applied(batch)), kv.onRestore(() => this.wakeEveryone())];
  }

  /** Calls `subscriber` after each entry that changes `service`; returns the unsubscribe. */
  subscribe(service: string, subscriber: ServiceChangeSubscriber): () => void {
    const key = serviceMarkerKey(service);
    let set = this.subscribers.get(key);
    if (set === undefined) {
      set = new Set();
      this.subscribers.set(key, set);
    }
    set.add(subscriber);
    return () => {
      set.delete(subscriber);
      if (set.size === 0 && this.subscribers.get(key) === set) this.subscribers.delete(key);
    };
  }

  /**
   * Resolves once the service's revision exceeds `index` (changedSince, the rule the simulator
   * checks too), after `waitMs`, or when `signal` aborts (client gone, server closing),
   * whichever comes first. The check and the subscription happen in one synchronous step, so
   * no change can slip between them.
   */
  waitForChange(service: string, index: number, waitMs: number, signal: AbortSignal): Promise<void> {
    if (changedSince(this.kv, service, index) || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const finish = (): void => {
        clearTimeout(timer);
        unsubscribe();
        signal.removeEventListener('abort', finish);
        resolve();
      };
      const unsubscribe = this.subscribe(service, () => {
        if (changedSince(this.kv, service, index)) finish();
      });
      const timer = setTimeout(finish, waitMs);
      signal.addEventListener('abort', finish, { once: true });
    });
  }

  /** Stops listening to the state machine (server close). */
  close(): void {
    for (const detach of this.detach) detach();
    this.subscribers.clear();
  }

  private applied(batch: WatchBatch): void {
    for (const event of batch.events) {
      const set = this.subscribers.get(event.key);
      if (set !== undefined) for (const subscriber of [...set]) subscriber();
    }
  }

  private wakeEveryone(): void {
    for (const set of [...this.subscribers.values()]) for (const subscriber of [...set]) subscriber();
  }
}
