/**
 * The shapes the KV state machine shares with its callers: a key's current version (the
 * contract's `kv` object), watch events, and the key-or-prefix filter of watches and resyncs.
 * Every object here is immutable once built: the store replaces versions rather than editing
 * them, so results, events and the dedup table may share them safely.
 */
import { isSystemKey } from './system-keys.ts';

/** A key's current version, exactly the contract's kv object. */
export interface KeyValue {
  readonly key: string;
  readonly value: string;
  readonly createRevision: number;
  readonly modRevision: number;
  /** Puts since the key was (re)created; 1 after the first put. */
  readonly version: number;
  /** The lease the key is attached to; absent when none. */
  readonly lease?: string;
}

/** What a watch or a resync covers: one key, or every key that starts with a prefix. */
export type KeyFilter = { readonly key: string } | { readonly prefix: string };

/**
 * One change, tagged by the revision that made it (`modRevision`). A delete event follows etcd's
 * tombstone: no value, `createRevision` and `version` 0, `modRevision` the deleting revision.
 * `prev` is the key's version before the change, when it existed.
 */
export interface WatchEvent {
  readonly type: 'put' | 'delete';
  readonly key: string;
  readonly value?: string;
  readonly createRevision: number;
  readonly modRevision: number;
  readonly version: number;
  readonly lease?: string;
  readonly prev?: KeyValue;
}

/** Whether `key` falls under `filter`. A user prefix (even '') never covers system keys. */
export function matchesFilter(key: string, filter: KeyFilter): boolean {
  if ('key' in filter) return key === filter.key;
  return key.startsWith(filter.prefix) && (isSystemKey(filter.prefix) || !isSystemKey(key));
}
