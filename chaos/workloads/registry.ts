/**
 * The registry workload: each client runs one service instance at a time. It registers with a
 * TTL through a random node, heartbeats through random nodes, and now and then stops
 * heartbeating for good (an abandoned instance, as a crashed process leaves one) or
 * deregisters; then it starts a new instance under a new id. Other clients read the service's
 * instance list through random nodes (linearizable discovery). After the faults stop, the
 * instances still alive keep heartbeating while the checks run (chaos/registry-check.ts).
 */
import { definitelyNotApplied, errorCode, type ChaosHttp, type Reply } from '../client.ts';
import type { History } from '../history.ts';
import { describe } from './register.ts';
import type { Workload, WorkloadContext } from './workload.ts';

export const REGISTRY_SERVICE = 'chaos-svc';

export interface RegistryOptions {
  /** Clients running an instance each (one more reads the list). */
  readonly instances: number;
  readonly ttlMs: number;
  readonly heartbeatEveryMs: number;
  readonly deadlineMs: number;
  /** Per heartbeat round: chance the instance is abandoned (stops heartbeating). */
  readonly abandonChance: number;
  /** Per heartbeat round: chance the instance deregisters. */
  readonly deregisterChance: number;
  readonly discoveryEveryMs: number;
}

export const DEFAULT_REGISTRY: RegistryOptions = {
  instances: 5,
  ttlMs: 3_000,
  heartbeatEveryMs: 600,
  deadlineMs: 1_500,
  abandonChance: 0.04,
  deregisterChance: 0.03,
  discoveryEveryMs: 700,
};

/** A renewal of an instance's lease (its registration or a heartbeat) as the client saw it. */
export interface Renewal {
  readonly sentMs: number;
  readonly answeredMs: number | null;
  readonly status: 'ok' | 'fail' | 'unknown';
  /** The contract error code, for a refusal (not_found: the instance is gone). */
  readonly code: string;
}

export interface InstanceRecord {
  readonly id: string;
  readonly client: number;
  readonly ttlMs: number;
  /** The registration first, then every heartbeat. */
  readonly renewals: Renewal[];
  /** What ended it: still alive, abandoned (at that time), deregistered, or found removed (404). */
  end: { readonly kind: 'alive' } | { readonly kind: 'abandoned'; readonly atMs: number } | { readonly kind: 'deregistered'; readonly sentMs: number; readonly answeredMs: number | null; readonly status: 'ok' | 'fail' | 'unknown' } | { readonly kind: 'removed'; readonly atMs: number };
}

/** A discovery read that answered: which instances the node listed. */
export interface DiscoveryRead {
  readonly node: string;
  readonly invokeMs: number;
  readonly completeMs: number;
  readonly ids: readonly string[];
  readonly revision: number;
}

export class RegistryWorkload implements Workload {
  readonly name = 'registry';
  readonly instances: InstanceRecord[] = [];
  readonly reads: DiscoveryRead[] = [];
  private readonly keepers: Promise<void>[] = [];
  private keeping = true;
  private readers = 0;

  constructor(readonly options: RegistryOptions) {}

  /** Client 0 of the workload reads the list; the others run instances. */
  async runClient(client: number, context: WorkloadContext): Promise<void> {
    if (this.readers++ === 0) {
      while (!context.stopped()) {
        await this.discover(client, context.pickNode(), context.history, context.http);
        await sleep(context.random.int(this.options.discoveryEveryMs) + this.options.discoveryEveryMs / 2);
      }
      return;
    }
    for (let incarnation = 0; !context.stopped(); incarnation++) {
      const instance: InstanceRecord = { id: `i${client}-${incarnation}`, client, ttlMs: this.options.ttlMs, renewals: [], end: { kind: 'alive' } };
      this.instances.push(instance);
      const registered = await this.renew(instance, 'register', context.pickNode(), context.history, context.http);
      if (registered !== 'ok') {
        // It may exist all the same: nobody heartbeats it, so it must expire like an abandoned one.
        instance.end = { kind: 'abandoned', atMs: context.history.now() };
        continue;
      }
      while (!context.stopped() && instance.end.kind === 'alive') {
        await sleep(this.options.heartbeatEveryMs / 2 + context.random.int(this.options.heartbeatEveryMs));
        const roll = context.random.float();
        if (roll < this.options.abandonChance) instance.end = { kind: 'abandoned', atMs: context.history.now() };
        else if (roll < this.options.abandonChance + this.options.deregisterChance) await this.deregister(instance, context.pickNode(), context.history, context.http);
        else await this.renew(instance, 'heartbeat', context.pickNode(), context.history, context.http);
      }
      if (instance.end.kind === 'alive') {
        // The run's workload phase is over: keep this one alive until the checks are done.
        this.keepers.push(this.keep(instance, context));
        return;
      }
      await sleep(context.random.int(this.options.heartbeatEveryMs));
    }
  }

  /** One discovery read through `url`, recorded; the ids listed, or null without an answer. */
  async discover(client: number, url: string, history: History, http: ChaosHttp): Promise<DiscoveryRead | null> {
    const started = history.invoke(this.name, client, url, { f: 'discover', service: REGISTRY_SERVICE });
    const reply = await http.call(url, 'GET', `/v1/services/${REGISTRY_SERVICE}?timeoutMs=${this.options.deadlineMs}`, undefined, this.options.deadlineMs);
    if (reply.kind === 'answer' && reply.status === 200) {
      const body = reply.body as { revision?: unknown; instances?: { id?: unknown }[] };
      const ids = (body.instances ?? []).map((instance) => String(instance.id)).sort();
      history.complete(started, 'ok', { status: 200, node: reply.node, ids, revision: body.revision });
      const read: DiscoveryRead = { node: url, invokeMs: started.invokeMs, completeMs: started.completeMs ?? history.now(), ids, revision: Number(body.revision) };
      this.reads.push(read);
      return read;
    }
    history.complete(started, 'fail', describe(reply));
    return null;
  }

  /** Ends the keepers (after the checks); the instances still alive are deregistered. */
  async stopKeepers(): Promise<void> {
    this.keeping = false;
    await Promise.all(this.keepers);
  }

  /** The instances kept alive now. */
  get alive(): InstanceRecord[] {
    return this.instances.filter((instance) => instance.end.kind === 'alive');
  }

  private async keep(instance: InstanceRecord, context: WorkloadContext): Promise<void> {
    while (this.keeping && instance.end.kind === 'alive') {
      await sleep(this.options.heartbeatEveryMs / 2 + context.random.int(this.options.heartbeatEveryMs));
      if (this.keeping) await this.renew(instance, 'heartbeat', context.pickNode(), context.history, context.http);
    }
    if (instance.end.kind === 'alive') await this.deregister(instance, context.pickNode(), context.history, context.http);
  }

  private async renew(instance: InstanceRecord, f: 'register' | 'heartbeat', url: string, history: History, http: ChaosHttp): Promise<'ok' | 'fail' | 'unknown'> {
    const path = `/v1/services/${REGISTRY_SERVICE}/instances/${instance.id}`;
    const started = history.invoke(this.name, instance.client, url, { f, service: REGISTRY_SERVICE, id: instance.id, ...(f === 'register' ? { ttlMs: instance.ttlMs } : {}) });
    const reply: Reply = f === 'register'
      ? await http.call(url, 'PUT', path, { address: '127.0.0.1', port: 20_000 + instance.client, ttlMs: instance.ttlMs }, this.options.deadlineMs)
      : await http.call(url, 'POST', `${path}/heartbeat`, {}, this.options.deadlineMs);
    const ok = reply.kind === 'answer' && reply.status === 200;
    const status = ok ? 'ok' : definitelyNotApplied(reply) ? 'fail' : 'unknown';
    history.complete(started, status, describe(reply));
    const code = errorCode(reply);
    instance.renewals.push({ sentMs: started.invokeMs, answeredMs: started.completeMs, status, code });
    if (f === 'heartbeat' && code === 'not_found') instance.end = { kind: 'removed', atMs: started.completeMs ?? history.now() };
    return status;
  }

  private async deregister(instance: InstanceRecord, url: string, history: History, http: ChaosHttp): Promise<void> {
    const started = history.invoke(this.name, instance.client, url, { f: 'deregister', service: REGISTRY_SERVICE, id: instance.id });
    const reply = await http.call(url, 'DELETE', `/v1/services/${REGISTRY_SERVICE}/instances/${instance.id}?timeoutMs=${this.options.deadlineMs}`, undefined, this.options.deadlineMs);
    const ok = reply.kind === 'answer' && reply.status === 200;
    const status = ok ? 'ok' : definitelyNotApplied(reply) ? 'fail' : 'unknown';
    history.complete(started, status, describe(reply));
    instance.end = { kind: 'deregistered', sentMs: started.invokeMs, answeredMs: started.completeMs, status };
  }
}

async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}
