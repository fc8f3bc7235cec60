/**
 * When a blocking query answers and when a service watch sends, as pure decisions over the
 * applied state: the server's waiting (src/server/registry) and the simulator's model of it
 * (test/sim) both call these, so the simulator checks the rule production runs, not a copy.
 *
 * A blocking query with `index` answers as soon as the service's revision (its marker's
 * modRevision, keys.ts) exceeds `index`; until then it waits and asks again after every applied
 * change of the service and after a snapshot restore. A watch sends the instance list whenever
 * the service's revision differs from the one it sent last. Both compare the marker's revision,
 * never the instances' own: a removal deletes an instance key and leaves no revision behind.
 */
import { type DiscoverFilter, type RegistryReader, type ServiceView, discover, serviceRevision } from './queries.ts';

/** True once `service` changed after `index`: a blocking query with that index answers now. */
export function changedSince(reader: RegistryReader, service: string, index: number): boolean {
  return serviceRevision(reader, service) > index;
}

/**
 * What a watch of `service` sends now, given the revision it sent last (-1: nothing yet):
 * the current list when the service's revision moved, else null.
 */
export function watchUpdate(reader: RegistryReader, service: string, filter: DiscoverFilter, lastSentRevision: number): ServiceView | null {
  if (serviceRevision(reader, service) === lastSentRevision) return null;
  return discover(reader, service, filter);
}
