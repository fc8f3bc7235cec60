/**
 * What a lock handle and a leadership handle share: a fencing token held on a lease that a
 * LeaseKeepAlive renews, and the honest account of that lease — `safeUntil`, a `signal` that
 * fires when the holder can no longer be sure it holds (or after release), and the `jeopardy`,
 * `safe` and `lost` events. A loss is final: the handle stops its keepalives and, as a courtesy,
 * tries once to release on the server, so the next waiter need not wait for the TTL.
 */
import { EventEmitter } from 'node:events';
import { ConcordError } from './errors.ts';
import type { LeaseKeepAlive, SafetyStatus } from './keepalive.ts';
import type { SafetyPhase } from './lease-safety.ts';
import type { Fence } from './types.ts';

export interface HoldingEvents {
  jeopardy: [SafetyStatus];
  safe: [SafetyStatus];
  lost: [ConcordError];
}

function asConcordError(reason: unknown): ConcordError {
  return reason instanceof ConcordError ? reason : new ConcordError('lease_lost', String(reason));
}

export abstract class Holding extends EventEmitter<HoldingEvents> {
  private readonly controller = new AbortController();
  private ended = false;
  private releasing: Promise<void> | null = null;

  protected constructor(
    readonly name: string,
    readonly token: number,
    protected readonly keeper: LeaseKeepAlive,
    /** Whether this handle's lease is its own (closed with it) or a shared one. */
    private readonly ownsLease: boolean,
    private readonly what: string,
  ) {
    super();
    keeper.on('jeopardy', (status) => {
      if (!this.ended) this.emit('jeopardy', status);
    });
    keeper.on('safe', (status) => {
      if (!this.ended) this.emit('safe', status);
    });
    // The keeper's signal fires when its lease is lost, and when a shared lease is closed or
    // revoked by its owner: either way this holding can no longer be trusted.
    const onKeeperEnd = (): void => this.onLost(asConcordError(keeper.signal.reason));
    if (keeper.signal.aborted) onKeeperEnd();
    else keeper.signal.addEventListener('abort', onKeeperEnd, { once: true });
  }

  /** The lease the holding lives on. */
  get lease(): string {
    return this.keeper.id;
  }

  /** Until when (client monotonic clock, performance.now() by default) this is surely still held. */
  get safeUntil(): number {
    return this.keeper.safeUntil;
  }

  get phase(): SafetyPhase | 'released' {
    return this.ended && !this.lostError ? 'released' : this.keeper.phase;
  }

  /** Milliseconds this is surely still held (0 once lost or released). */
  remainingMs(): number {
    return this.ended ? 0 : this.keeper.remainingMs();
  }

  /** Whether this is surely still held right now. */
  isSafe(): boolean {
    return !this.ended && this.keeper.isSafe();
  }

  /** Throws ConcordError lock_lost unless this is surely still held. */
  assertSafe(): void {
    if (!this.isSafe()) throw this.lostError ?? new ConcordError('lock_lost', `${this.what} is not held (released)`, undefined, { name: this.name, token: this.token });
  }

  /** Fires when this can no longer be trusted (lost), and on release. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** The `fence` for a fenced write (kv.put, txn) made under this holding. */
  abstract get fence(): Fence;

  /** Releases on the server (a no-op if it was lost meanwhile); stops the keepalives first. */
  release(options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<void> {
    this.releasing ??= this.doRelease(options);
    return this.releasing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.release();
  }

  protected abstract releaseOnServer(options: { signal?: AbortSignal; timeoutMs?: number }): Promise<void>;

  private lostError: ConcordError | null = null;

  private async doRelease(options: { signal?: AbortSignal; timeoutMs?: number }): Promise<void> {
    const wasLost = this.lostError !== null;
    this.end(new ConcordError('aborted', `${this.what} released`, undefined, { name: this.name, token: this.token }));
    try {
      await this.releaseOnServer(options);
    } catch (error) {
      // Someone else's token holds now, or the lease is gone: it is not ours either way.
      if (error instanceof ConcordError && (error.code === 'stale_token' || error.code === 'not_found')) return;
      if (wasLost) return;
      throw error;
    }
  }

  private onLost(cause: ConcordError): void {
    if (this.ended) return;
    const lost = new ConcordError('lock_lost', `${this.what} lost: ${cause.message}`, undefined, { ...cause.details, name: this.name, token: this.token }, { cause });
    this.lostError = lost;
    this.end(lost);
    this.emit('lost', lost);
    // Courtesy: if the server still has it, hand it on now rather than after the TTL.
    // (On a later turn: a subclass constructor may not have finished yet.)
    this.releasing ??= Promise.resolve()
      .then(() => this.releaseOnServer({ timeoutMs: 2_000 }))
      .catch(() => undefined);
  }

  private end(reason: ConcordError): void {
    if (this.ended) return;
    this.ended = true;
    if (this.ownsLease) this.keeper.close(reason);
    this.controller.abort(reason);
  }
}
