/**
 * The server's readers that wait on the applied state, without promises or sockets, on the
 * process's own (simulated) clock:
 * - ServiceWaitersSim: blocking queries (GET /v1/services/{service}?index=&waitMs=) and service
 *   watches (GET /v1/services/{service}/watch), as src/server/registry's ServiceChangeHub and
 *   ServiceWatchSession run them: a ReadIndex barrier first, then the decision of
 *   src/registry/blocking.ts (or a planted substitute) at once, after every applied entry that
 *   rewrites the service's marker, and after a snapshot restore;
 * - ElectionObserversSim: GET /v1/elections/{name}/observe as src/server/locks/
 *   election-observers.ts runs it: the leader at open, then after every applied entry with
 *   election events and after a restore, whenever it differs from the last one sent.
 */
import type { Clock, TimerHandle } from '../../src/common/clock.ts';
import type { ElectionLeader } from '../../src/lock/index.ts';
import type { KvNode } from '../../src/node/kv-node.ts';
import { discover, serviceMarkerKey, serviceRevision } from '../../src/registry/index.ts';
import type { BlockingQuery, RegistryWaitRules, ServiceWatch } from './sim-apps.ts';

export class ServiceWaitersSim {
  /** Who waits on each service, by the service's marker key. */
  private readonly subscribers = new Map<string, Set<() => void>>();

  constructor(
    private readonly node: KvNode,
    private readonly clock: Clock,
    private readonly rules: RegistryWaitRules,
  ) {
    node.kv.onEvents((batch) => {
      for (const event of batch.events) {
        const set = this.subscribers.get(event.key);
        if (set !== undefined) for (const subscriber of [...set]) subscriber();
      }
    });
    node.kv.onRestore(() => {
      for (const set of [...this.subscribers.values()]) for (const subscriber of [...set]) subscriber();
    });
  }

  blockingQuery(query: BlockingQuery): void {
    this.node.read((barrier) => {
      if (!barrier.ok) return query.rejected(barrier.leaderHint);
      const kv = this.node.kv;
      query.waiting(serviceRevision(kv, query.service));
      if (this.rules.changedSince(kv, query.service, query.index)) return query.done(discover(kv, query.service));
      let timer: TimerHandle | null = null;
      const finish = (): void => {
        if (timer !== null) this.clock.clearTimer(timer);
        unsubscribe();
        query.done(discover(kv, query.service));
      };
      const unsubscribe = this.subscribe(query.service, () => {
        if (this.rules.changedSince(this.node.kv, query.service, query.index)) finish();
      });
      timer = this.clock.setTimer(query.waitMs, finish);
    });
  }

  /** Opens a watch; the returned close ends it (a barrier still pending then opens nothing). */
  watch(watch: ServiceWatch): () => void {
    let closed = false;
    let unsubscribe: () => void = () => undefined;
    this.node.read((barrier) => {
      if (closed) return;
      if (!barrier.ok) return watch.rejected(barrier.leaderHint);
      let lastSentRevision = -1;
      const sendIfChanged = (): void => {
        const view = this.rules.watchUpdate(this.node.kv, watch.service, {}, lastSentRevision);
        if (view === null) return;
        lastSentRevision = view.revision;
        watch.frame(view);
      };
      unsubscribe = this.subscribe(watch.service, sendIfChanged);
      sendIfChanged();
    });
    return () => {
      closed = true;
      unsubscribe();
    };
  }

  private subscribe(service: string, subscriber: () => void): () => void {
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
}

export class ElectionObserversSim {
  private readonly last = new Map<string, string>();

  constructor(
    private readonly node: KvNode,
    private readonly names: readonly string[],
    private readonly observed: (name: string, leader: ElectionLeader | null) => void,
  ) {
    node.kv.onLockEvents((events) => {
      const changed = new Set<string>();
      for (const event of events) if ('kind' in event && event.kind === 'election') changed.add(event.name);
      for (const name of this.names) if (changed.has(name)) this.send(name);
    });
    node.kv.onRestore(() => {
      for (const name of this.names) this.send(name);
    });
    for (const name of names) this.send(name);
  }

  private send(name: string): void {
    const leader = this.node.kv.locks.electionLeader(name);
    const fingerprint = JSON.stringify(leader);
    if (this.last.get(name) === fingerprint) return;
    this.last.set(name, fingerprint);
    this.observed(name, leader);
  }
}
