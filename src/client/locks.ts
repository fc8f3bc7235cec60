/**
 * Distributed locks: `lock(name, options)` acquires (try once, or wait in line up to `waitMs`)
 * and returns a LockHandle — the fencing `token`, a background keepalive of the lock's lease,
 * `safeUntil`, a `signal` and `jeopardy`/`lost` events (holding.ts), `release()` and
 * `Symbol.asyncDispose`. `withLock(name, fn)` runs `fn(token, signal)` under the lock.
 *
 * The handle's safety starts at the acquire request's *send* time plus the TTL: the server
 * grants the lock's lease only after it received the request, so the lease cannot expire
 * before then (clock rates assumed alike). An acquire that took longer than the TTL is
 * therefore refused as already lost.
 */
import type { ClientCore } from './core.ts';
import { ConcordError } from './errors.ts';
import { Holding } from './holding.ts';
import { LeaseKeepAlive, type KeepAliveOptions } from './keepalive.ts';
import { defined, type CallOptions, type Fence } from './types.ts';

export interface LockOptions extends CallOptions {
  /** TTL of a lease granted with the lock and revoked on release (default 10 000 ms). */
  readonly ttlMs?: number;
  /** Hold the lock on this kept-alive lease instead (it is not closed on release). */
  readonly lease?: LeaseKeepAlive;
  /** How long to wait in line (FIFO); 0 (default) tries once and throws `locked` if held. */
  readonly waitMs?: number;
  /** Chubby's lock-delay: after an involuntary loss of this holding, nobody gets the lock for this long. */
  readonly lockDelayMs?: number;
  /** A label for operators, shown as the holder. */
  readonly owner?: string;
  readonly keepAlive?: KeepAliveOptions;
}

interface AcquireAnswer {
  readonly name: string;
  readonly token: number;
  readonly lease: string;
  readonly owner: string;
}

export const DEFAULT_LOCK_TTL_MS = 10_000;

export class LockHandle extends Holding {
  constructor(
    private readonly core: ClientCore,
    name: string,
    token: number,
    readonly owner: string,
    keeper: LeaseKeepAlive,
    ownsLease: boolean,
  ) {
    super(name, token, keeper, ownsLease, `lock ${JSON.stringify(name)} (token ${token})`);
  }

  get fence(): Fence {
    return { lock: this.name, token: this.token };
  }

  protected async releaseOnServer(options: { signal?: AbortSignal; timeoutMs?: number }): Promise<void> {
    await this.core.call({ method: 'POST', path: `/v1/locks/${encodeURIComponent(this.name)}/release`, body: { token: this.token }, ...options });
  }
}

/** Acquires `name`; see LockOptions. Throws `locked` (details.holder) when not granted in time. */
export async function acquireLock(core: ClientCore, name: string, options: LockOptions = {}): Promise<LockHandle> {
  const waitMs = options.waitMs ?? 0;
  const ttlMs = options.lease === undefined ? (options.ttlMs ?? DEFAULT_LOCK_TTL_MS) : undefined;
  if (options.lease !== undefined && options.ttlMs !== undefined) throw new ConcordError('invalid_argument', 'give ttlMs or lease, not both');
  const startedAt = core.clock.now();
  const answer = await core.call<AcquireAnswer>({
    method: 'POST',
    path: `/v1/locks/${encodeURIComponent(name)}/acquire`,
    // A retry waits only for what is left of waitMs (it keeps its place in line: same idempotency key).
    body: () => defined({
      ttlMs,
      lease: options.lease?.id,
      waitMs: waitMs === 0 ? undefined : Math.max(1, Math.round(waitMs - (core.clock.now() - startedAt))),
      owner: options.owner,
      lockDelayMs: options.lockDelayMs,
    }),
    waits: waitMs > 0,
    // A wait's deadline is the server's default (waitMs + its usual deadline, within its maximum);
    // the client's own deadline still cuts the request, and the node then withdraws the waiter.
    serverDeadline: waitMs === 0,
    timeoutMs: waitMs + (options.timeoutMs ?? core.timeoutMs),
    ...defined({ signal: options.signal }),
  });
  const { token, lease, owner } = answer.body;
  const keeper = options.lease ?? new LeaseKeepAlive(core, lease, ttlMs ?? DEFAULT_LOCK_TTL_MS, answer.firstSentAt, options.keepAlive);
  const handle = new LockHandle(core, name, token, owner, keeper, options.lease === undefined);
  if (!handle.isSafe()) {
    await handle.release().catch(() => undefined);
    throw new ConcordError('lock_lost', `lock ${JSON.stringify(name)} was granted too late to be safe (the acquire took longer than its TTL)`, undefined, { name, token });
  }
  return handle;
}

/**
 * Runs `fn(token, signal)` while holding `name`, then releases (also when fn throws). `signal`
 * fires if the lock is lost meanwhile: pass it to whatever fn does, and fence its writes with
 * the token.
 */
export async function withLock<T>(core: ClientCore, name: string, fn: (token: number, signal: AbortSignal, lock: LockHandle) => Promise<T> | T, options: LockOptions = {}): Promise<T> {
  const lock = await acquireLock(core, name, options);
  let result: T;
  try {
    result = await fn(lock.token, lock.signal, lock);
  } catch (error) {
    await lock.release().catch(() => undefined);
    throw error;
  }
  await lock.release();
  return result;
}

export interface LockView {
  readonly name: string;
  readonly held: boolean;
  readonly holder?: { readonly owner: string; readonly token: number; readonly lease: string };
  readonly waiters: number;
  readonly recent: readonly { readonly owner: string; readonly token: number; readonly endedRevision: number; readonly reason: 'released' | 'lease_expired' | 'lease_revoked' }[];
  readonly lockDelayed?: boolean;
}

/** A lock's state: holder, waiters, the last ten holders and why each ended. */
export async function describeLock(core: ClientCore, name: string, options: CallOptions = {}): Promise<LockView> {
  const answer = await core.call<LockView>({ method: 'GET', path: `/v1/locks/${encodeURIComponent(name)}`, ...defined({ signal: options.signal, timeoutMs: options.timeoutMs }) });
  return answer.body;
}
