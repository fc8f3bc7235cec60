/**
 * Reading the registry out of the store: discovery with filters, the list of services with
 * counts, one instance, a service's revision. Pure functions over a store reader (the KV state
 * machine), so the server calls them after its ReadIndex barrier and tests call them directly.
 */
import type { KeyValue } from '../kv/types.ts';
import { toInstance } from './instance-record.ts';
import { INSTANCES_KEY_PREFIX, instanceKey, parseInstanceKey, serviceInstancesPrefix, serviceMarkerKey } from './keys.ts';
import type { InstanceStatus, ServiceInstance } from './types.ts';

/** What the registry reads from: KvStateMachine's get and range. */
export interface RegistryReader {
  get(key: string): { readonly revision: number; readonly kv: KeyValue | null };
  range(prefix: string, limit?: number): { readonly revision: number; readonly items: readonly KeyValue[]; readonly more: boolean };
}

export interface DiscoverFilter {
  readonly status?: InstanceStatus;
  /** Only instances carrying this tag. */
  readonly tag?: string;
}

export interface ServiceView {
  /** The service's revision: the store revision of the last change to its instance list (0: never registered). */
  readonly revision: number;
  /** Matching instances, sorted by id. */
  readonly instances: readonly ServiceInstance[];
  /** The store revision the answer reflects. */
  readonly storeRevision: number;
}

export interface ServiceSummary {
  readonly name: string;
  readonly instances: number;
  readonly passing: number;
}

export interface ServiceList {
  /** Services with at least one instance, sorted by name. */
  readonly services: readonly ServiceSummary[];
  readonly storeRevision: number;
}

/** A service's revision; it moves on every registration, status change, deregistration and expiry. */
export function serviceRevision(reader: RegistryReader, service: string): number {
  return reader.get(serviceMarkerKey(service)).kv?.modRevision ?? 0;
}

function matches(instance: ServiceInstance, filter: DiscoverFilter): boolean {
  if (filter.status !== undefined && instance.status !== filter.status) return false;
  return filter.tag === undefined || instance.tags.includes(filter.tag);
}

export function discover(reader: RegistryReader, service: string, filter: DiscoverFilter = {}): ServiceView {
  const prefix = serviceInstancesPrefix(service);
  const { revision: storeRevision, items } = reader.range(prefix);
  const instances = items.map((kv) => toInstance(kv.key.slice(prefix.length), kv)).filter((instance) => matches(instance, filter));
  return { revision: serviceRevision(reader, service), instances, storeRevision };
}

export function findInstance(reader: RegistryReader, service: string, id: string): ServiceInstance | null {
  const { kv } = reader.get(instanceKey(service, id));
  return kv === null ? null : toInstance(id, kv);
}

export function listServices(reader: RegistryReader): ServiceList {
  const { revision: storeRevision, items } = reader.range(INSTANCES_KEY_PREFIX);
  const counts = new Map<string, { instances: number; passing: number }>();
  for (const kv of items) {
    const address = parseInstanceKey(kv.key);
    if (address === null) continue;
    const count = counts.get(address.service) ?? { instances: 0, passing: 0 };
    count.instances++;
    if (toInstance(address.id, kv).status === 'passing') count.passing++;
    counts.set(address.service, count);
  }
  const services = [...counts]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, count]) => ({ name, ...count }));
  return { services, storeRevision };
}
