/**
 * Keys and values: get, put (conditional on `ifRevision`, on a lease, fenced by a lock token),
 * delete, range by prefix, transactions (`txn()`), and `watch()` (see watch.ts).
 */
import { ConcordError } from './errors.ts';
import { encodeKeyPath, type ClientCore } from './core.ts';
import { defined, leaseIdOf, type CallOptions, type Consistency, type Fence, type KeyValue, type LeaseRef, type WriteOptions } from './types.ts';
import { TxnBuilder } from './txn.ts';
import { KvWatch, type WatchOptions } from './watch.ts';

export interface GetOptions extends CallOptions {
  /** linearizable (default) or serializable (this node's state as is, maybe stale). */
  readonly consistency?: Consistency;
}

export interface PutOptions extends WriteOptions {
  /** Attach the key to this lease: it is deleted when the lease ends. */
  readonly lease?: LeaseRef;
  /** Only if the key's modRevision is this (0: only if absent); else ConcordError compare_failed with `details.current`. */
  readonly ifRevision?: number;
  /** Only while this lock (or election) token holds; else ConcordError stale_token. */
  readonly fence?: Fence;
}

export interface PutResult {
  readonly revision: number;
  readonly prev?: KeyValue;
}

export interface DeleteOptions extends WriteOptions {
  readonly ifRevision?: number;
}

export interface DeleteResult {
  readonly revision: number;
  readonly deleted: number;
}

export interface RangeOptions extends GetOptions {
  /** At most this many items (0 or absent: the server's maximum); `more` says whether some were left. */
  readonly limit?: number;
}

export interface RangeResult {
  readonly revision: number;
  readonly items: readonly KeyValue[];
  readonly more: boolean;
}

function callOptions(options: CallOptions & { idempotencyKey?: string }): { signal?: AbortSignal; timeoutMs?: number; idempotencyKey?: string } {
  return defined({ signal: options.signal, timeoutMs: options.timeoutMs, idempotencyKey: options.idempotencyKey });
}

export class KvClient {
  constructor(private readonly core: ClientCore) {}

  /** The key, or null when it does not exist. */
  async get(key: string, options: GetOptions = {}): Promise<KeyValue | null> {
    try {
      const answer = await this.core.call<KeyValue>({
        method: 'GET',
        path: `/v1/kv/${encodeKeyPath(key)}`,
        query: { consistency: options.consistency },
        ...callOptions(options),
      });
      return answer.body;
    } catch (error) {
      if (error instanceof ConcordError && error.code === 'not_found' && error.details['key'] === key) return null;
      throw error;
    }
  }

  async put(key: string, value: string, options: PutOptions = {}): Promise<PutResult> {
    const body = defined({
      value,
      lease: options.lease === undefined ? undefined : leaseIdOf(options.lease),
      ifRevision: options.ifRevision,
      fence: options.fence,
    });
    const answer = await this.core.call<PutResult>({ method: 'PUT', path: `/v1/kv/${encodeKeyPath(key)}`, body, ...callOptions(options) });
    return answer.body;
  }

  async delete(key: string, options: DeleteOptions = {}): Promise<DeleteResult> {
    const answer = await this.core.call<DeleteResult>({
      method: 'DELETE',
      path: `/v1/kv/${encodeKeyPath(key)}`,
      query: { ifRevision: options.ifRevision },
      ...callOptions(options),
    });
    return answer.body;
  }

  /** Deletes every key under a non-empty prefix, at one revision. */
  async deletePrefix(prefix: string, options: WriteOptions = {}): Promise<DeleteResult> {
    if (prefix === '') throw new ConcordError('invalid_argument', 'deletePrefix needs a non-empty prefix');
    const answer = await this.core.call<DeleteResult>({ method: 'DELETE', path: '/v1/kv', query: { prefix }, ...callOptions(options) });
    return answer.body;
  }

  /** Keys starting with `prefix` ('' for every key), sorted by key. */
  async range(prefix: string, options: RangeOptions = {}): Promise<RangeResult> {
    const answer = await this.core.call<RangeResult>({
      method: 'GET',
      path: '/v1/kv',
      query: { prefix, limit: options.limit, consistency: options.consistency },
      ...callOptions(options),
    });
    return answer.body;
  }

  /** A transaction: `.compare(...)`, `.success(...)`, `.failure(...)`, then `.commit()`. */
  txn(): TxnBuilder {
    return new TxnBuilder(this.core);
  }

  /**
   * Changes to a key or a prefix as an async iterator. It reconnects (on any endpoint) by
   * revision, so the changes it yields have no gap and no duplicate; a compacted start ends it
   * with ConcordError `compacted`, unless `resync` asks for a `snapshot` event instead.
   */
  watch(options: WatchOptions): KvWatch {
    return new KvWatch(this.core, options);
  }
}
