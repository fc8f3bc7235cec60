/**
 * The KV state machine's public surface: what src/node and src/server import. Internals (the
 * store, lease table, feed and dedup classes) stay importable by path for tests.
 */
export * from './commands.ts';
export type * from './lock-commands.ts';
export { parseCommand } from './command-parse.ts';
export * from './kv-errors.ts';
export * from './limits.ts';
export type { KeyFilter, KeyValue, WatchEvent } from './types.ts';
export { matchesFilter } from './types.ts';
export type { LeaseCountdown, LeaseInfo } from './leases.ts';
export type { EventsSinceOptions, EventsSinceResult, WatchBatch, WatchListener } from './watch-feed.ts';
export { SNAPSHOT_FORMAT_VERSION, type KvStateMachineConfig } from './snapshot-codec.ts';
export * from './state-machine.ts';
