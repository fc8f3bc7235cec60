/**
 * Where the registry keeps its records in the MVCC store (system keys: hidden from clients).
 *
 *   <prefix>i/<service>/<id>   one instance: its record as the value, attached to its lease
 *   <prefix>s/<service>        the service's revision marker, rewritten in every entry that
 *                              changes the service's instance list
 *
 * An instance key's modRevision is the instance's; the marker's modRevision is the service's
 * revision, the one blocking queries compare `index` with. The marker is what makes removals
 * visible as a revision: a deleted instance key leaves no modRevision behind, the rewritten
 * marker does. Markers stay when a service empties, so its revision never goes backwards.
 * Service names and ids contain no `/` (limits.ts), so the layout is unambiguous.
 */
import { SYSTEM_KEY_PREFIX } from '../kv/system-keys.ts';

export const REGISTRY_KEY_PREFIX = `${SYSTEM_KEY_PREFIX}registry/`;
export const INSTANCES_KEY_PREFIX = `${REGISTRY_KEY_PREFIX}i/`;
const MARKER_KEY_PREFIX = `${REGISTRY_KEY_PREFIX}s/`;

export function instanceKey(service: string, id: string): string {
  return `${INSTANCES_KEY_PREFIX}${service}/${id}`;
}

/** Every instance key of `service` starts with this. */
export function serviceInstancesPrefix(service: string): string {
  return `${INSTANCES_KEY_PREFIX}${service}/`;
}

export function serviceMarkerKey(service: string): string {
  return `${MARKER_KEY_PREFIX}${service}`;
}

export interface InstanceAddress {
  readonly service: string;
  readonly id: string;
}

/** The service and id an instance key names; null for any other key. */
export function parseInstanceKey(key: string): InstanceAddress | null {
  if (!key.startsWith(INSTANCES_KEY_PREFIX)) return null;
  const rest = key.slice(INSTANCES_KEY_PREFIX.length);
  const slash = rest.indexOf('/');
  if (slash <= 0 || slash === rest.length - 1) return null;
  return { service: rest.slice(0, slash), id: rest.slice(slash + 1) };
}
