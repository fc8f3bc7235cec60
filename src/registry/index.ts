/**
 * The service registry: instances (address, port, tags, meta, health status) registered under a
 * service name, each living on a lease. Its state is system keys of the KV store (keys.ts), its
 * writes are KV commands (types.ts, command-parse.ts, apply.ts) and its reads are queries over
 * the store (queries.ts). Deterministic like the rest of the state machine: no clock, no I/O.
 */
export * from './types.ts';
export * from './limits.ts';
export { REGISTRY_BODY_FIELDS, parseRegistryBody } from './command-parse.ts';
export { afterLeaseKeysDeleted, applyServiceDeregister, applyServiceRegister, applyServiceStatus } from './apply.ts';
export { serviceMarkerKey, serviceInstancesPrefix } from './keys.ts';
export * from './queries.ts';
export { changedSince, watchUpdate } from './blocking.ts';
