/** The data the HTTP contract sends, as the SDK returns it. Revisions and tokens are numbers. */

export interface KeyValue {
  readonly key: string;
  readonly value: string;
  readonly createRevision: number;
  readonly modRevision: number;
  /** Puts since the key was created. */
  readonly version: number;
  readonly lease?: string;
}

export type Consistency = 'linearizable' | 'serializable';

/** What every call accepts. */
export interface CallOptions {
  /** Cancels the call (and its retries); it then rejects with ConcordError `aborted`. */
  readonly signal?: AbortSignal;
  /** This call's deadline, retries included (default: the client's timeoutMs). */
  readonly timeoutMs?: number;
}

/** What writes accept besides: the idempotency key to use instead of a generated one. */
export interface WriteOptions extends CallOptions {
  readonly idempotencyKey?: string;
}

/** A fencing token as a write's `fence` takes it; lock and leadership handles have `.fence`. */
export type Fence = { readonly lock: string; readonly token: number } | { readonly election: string; readonly token: number };

/** Something with a lease id: a string, or a lease / keepalive handle. */
export type LeaseRef = string | { readonly id: string };

export function leaseIdOf(lease: LeaseRef): string {
  return typeof lease === 'string' ? lease : lease.id;
}

/** Only the options that are set, for exactOptionalPropertyTypes and strict server schemas. */
export function defined<T extends Record<string, unknown>>(fields: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined)) as { [K in keyof T]: Exclude<T[K], undefined> };
}
