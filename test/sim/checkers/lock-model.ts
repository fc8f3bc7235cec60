/**
 * A reference model of locks and elections, written apart from src/lock so that one cannot share
 * the other's mistakes: per lock a holder, a FIFO queue of waiters (by the order their acquires
 * applied), a lock-delay; one token counter for every grant of either kind; the leases the lock
 * and election workloads use. An election is a lock whose holder carries a value, which a
 * proclaim with the leader's token (or a campaign again with the leader's lease) replaces. It
 * replays the committed log's lock entries in index order and predicts each entry's result and
 * lock events; the LockInvariantChecker compares them with what the state machine really returned.
 *
 * Locks are keyed by kind and name ("lock/lk0", "election/lk0": two different things, as in
 * src/lock). Results and events are compared as short strings ("held:7",
 * "granted:lock/lk0:7:w1-3", "proclaimed:election/lk0:7:t7-e0-3-p1", ...), so a mismatch reads
 * plainly. The ids of leases the state machine allocates (a ttlMs holding's) are
 * adopted from the real grant event: the model checks who is granted and with which token, not
 * how lease ids are spelled.
 */

export interface ModelEntry {
  readonly index: number;
  readonly body: ModelBody;
  /** The real result, summarised (see summariseResult) and the real lock events, summarised. */
  readonly result: string;
  readonly events: readonly string[];
  /** Lease ids of the real `granted` events, by "name:token". */
  readonly grantedLeases: ReadonlyMap<string, string>;
}

/** `name` is the lock's key: kind and name, as lockKey() spells it. */
export type ModelBody =
  | {
      readonly type: 'lockAcquire';
      readonly name: string;
      readonly lease?: string;
      readonly waiterId?: string;
      readonly lockDelayMs: number;
      /** Elections: the value to proclaim once elected. */
      readonly value?: string;
    }
  | { readonly type: 'electionProclaim'; readonly name: string; readonly token: number; readonly value: string }
  | { readonly type: 'lockRelease'; readonly name: string; readonly token: number }
  | { readonly type: 'lockWithdraw'; readonly name: string; readonly waiterId: string; readonly releaseIfHolding: boolean }
  | { readonly type: 'lockDelayEnd'; readonly name: string; readonly token: number }
  | { readonly type: 'leaseGrant'; readonly id: string }
  | { readonly type: 'leaseExpire' | 'leaseRevoke'; readonly id: string }
  | { readonly type: 'put'; readonly fence?: { readonly name: string; readonly token: number } };

interface Holder {
  readonly token: number;
  readonly lease: string;
  readonly owned: boolean;
  readonly waiterId: string | undefined;
  readonly lockDelayMs: number;
  /** Elections: the value proclaimed now. */
  value: string | undefined;
}

interface Waiter {
  readonly waiterId: string;
  /** Undefined: a ttlMs waiter (no lease until granted). */
  readonly lease: string | undefined;
  readonly lockDelayMs: number;
  readonly value: string | undefined;
}

/** The model's key of a lock or an election: a lock and an election may share a name. */
export function lockKey(kind: 'lock' | 'election', name: string): string {
  return `${kind}/${name}`;
}

/** The kind and name a lockKey() names. */
export function parseLockKey(key: string): { kind: 'lock' | 'election'; name: string } {
  const slash = key.indexOf('/');
  return { kind: key.slice(0, slash) === 'election' ? 'election' : 'lock', name: key.slice(slash + 1) };
}

interface LockState {
  holder: Holder | null;
  readonly queue: Waiter[];
  delayToken: number | null;
}

export interface ModelCoverage {
  handoffOnRelease: number;
  handoffOnExpiry: number;
  lockDelayEnded: number;
  withdrawn: number;
}

export class LockModel {
  private readonly locks = new Map<string, LockState>();
  /** Leases the model follows (lease-mode clients' and ttlMs holdings'), alive now. */
  private readonly leases = new Set<string>();
  private nextToken = 1;
  readonly coverage: ModelCoverage = { handoffOnRelease: 0, handoffOnExpiry: 0, lockDelayEnded: 0, withdrawn: 0 };
  private events: string[] = [];
  private entry: ModelEntry | null = null;

  /** The model's own queue of `name` (waiter ids, first in line first). */
  queueOf(name: string): readonly string[] {
    return this.locks.get(name)?.queue.map((waiter) => waiter.waiterId) ?? [];
  }

  holderOf(name: string): { token: number; lease: string; value: string | undefined } | null {
    return this.locks.get(name)?.holder ?? null;
  }

  get lockNames(): readonly string[] {
    return [...this.locks.keys()].sort();
  }

  /** Applies one entry; returns a description of the mismatch with the real one, or null. */
  step(entry: ModelEntry): string | null {
    this.entry = entry;
    this.events = [];
    const result = this.apply(entry.body);
    const expectedEvents = [...this.events].sort();
    const actualEvents = [...entry.events].sort();
    if (result !== entry.result || expectedEvents.join(' ') !== actualEvents.join(' ')) {
      return (
        `index ${entry.index} ${JSON.stringify(entry.body)}: the model expects ${result} [${expectedEvents.join(' ')}], ` +
        `the state machine gave ${entry.result} [${actualEvents.join(' ')}]`
      );
    }
    return null;
  }

  private lock(name: string): LockState {
    let state = this.locks.get(name);
    if (state === undefined) {
      state = { holder: null, queue: [], delayToken: null };
      this.locks.set(name, state);
    }
    return state;
  }

  private apply(body: ModelBody): string {
    switch (body.type) {
      case 'lockAcquire':
        return this.acquire(body);
      case 'lockRelease': {
        const state = this.lock(body.name);
        if (state.holder?.token !== body.token) return 'stale';
        this.releaseHolding(body.name, state);
        return 'ok';
      }
      case 'lockWithdraw': {
        const state = this.lock(body.name);
        const at = state.queue.findIndex((waiter) => waiter.waiterId === body.waiterId);
        if (at >= 0) {
          state.queue.splice(at, 1);
          this.coverage.withdrawn++;
          return 'withdrawn';
        }
        const holder = state.holder;
        if (holder === null || holder.waiterId !== body.waiterId) return 'absent';
        if (!body.releaseIfHolding) return `holding:${holder.token}`;
        this.releaseHolding(body.name, state);
        return 'released';
      }
      case 'electionProclaim': {
        const holder = this.lock(body.name).holder;
        if (holder?.token !== body.token) return 'stale';
        holder.value = body.value;
        this.events.push(`proclaimed:${body.name}:${holder.token}:${body.value}`);
        return 'ok';
      }
      case 'lockDelayEnd': {
        const state = this.lock(body.name);
        if (state.delayToken !== body.token) return 'ended:false';
        state.delayToken = null;
        this.events.push(`delayEnded:${body.name}:${body.token}`);
        this.coverage.lockDelayEnded++;
        this.settle(body.name, state, null);
        return 'ended:true';
      }
      case 'leaseGrant':
        this.leases.add(body.id);
        return 'ok';
      case 'leaseExpire':
      case 'leaseRevoke':
        // Leases the model does not follow (other workloads') end without touching locks.
        if (!this.leases.has(body.id)) return this.entry?.result ?? 'ok';
        this.leaseEnded(body.id, body.type === 'leaseExpire' ? 'lease_expired' : 'lease_revoked');
        return 'ok';
      case 'put':
        if (body.fence === undefined) return 'ok';
        return this.lock(body.fence.name).holder?.token === body.fence.token ? 'ok' : 'stale';
    }
  }

  private acquire(body: Extract<ModelBody, { type: 'lockAcquire' }>): string {
    if (body.lease !== undefined && !this.leases.has(body.lease)) return 'not_found';
    const state = this.lock(body.name);
    if (state.holder !== null && body.lease !== undefined && state.holder.lease === body.lease) {
      // Campaigning again with the leader's lease proclaims the new value, keeping the token.
      if (body.value !== undefined && body.value !== state.holder.value) {
        state.holder.value = body.value;
        this.events.push(`proclaimed:${body.name}:${state.holder.token}:${body.value}`);
      }
      return `held:${state.holder.token}`;
    }
    if (state.holder === null && state.delayToken === null && state.queue.length === 0) {
      const holder = this.grant(body.name, state, { waiterId: body.waiterId ?? '', lease: body.lease, lockDelayMs: body.lockDelayMs, value: body.value });
      return `held:${holder.token}`;
    }
    if (body.waiterId === undefined) return 'locked';
    const waiterId = body.waiterId;
    if (!state.queue.some((waiter) => waiter.waiterId === waiterId)) {
      state.queue.push({ waiterId, lease: body.lease, lockDelayMs: body.lockDelayMs, value: body.value });
    }
    return 'queued';
  }

  private grant(name: string, state: LockState, waiter: Waiter): Holder {
    const token = this.nextToken++;
    const lease = waiter.lease ?? this.entry?.grantedLeases.get(`${name}:${token}`) ?? `?ttl-lease-of-${name}:${token}`;
    if (waiter.lease === undefined) this.leases.add(lease);
    const holder: Holder = {
      token,
      lease,
      owned: waiter.lease === undefined,
      waiterId: waiter.waiterId === '' ? undefined : waiter.waiterId,
      lockDelayMs: waiter.lockDelayMs,
      value: waiter.value,
    };
    state.holder = holder;
    this.events.push(`granted:${name}:${token}:${waiter.waiterId}${waiter.value === undefined ? '' : `:${waiter.value}`}`);
    return holder;
  }

  private releaseHolding(name: string, state: LockState): void {
    const holder = state.holder;
    if (holder === null) return;
    state.holder = null;
    this.events.push(`ended:${name}:${holder.token}:released`);
    this.settle(name, state, 'release');
    // A ttlMs holding's lease is revoked with the release (it holds nothing else).
    if (holder.owned) this.leaseEnded(holder.lease, 'lease_revoked');
  }

  private leaseEnded(lease: string, reason: 'lease_expired' | 'lease_revoked'): void {
    this.leases.delete(lease);
    for (const name of this.lockNames) {
      const state = this.lock(name);
      for (let i = state.queue.length - 1; i >= 0; i--) {
        const waiter = state.queue[i];
        if (waiter?.lease !== lease) continue;
        state.queue.splice(i, 1);
        this.events.push(`removed:${name}:${waiter.waiterId}`);
      }
      const holder = state.holder;
      if (holder?.lease === lease) {
        state.holder = null;
        this.events.push(`ended:${name}:${holder.token}:${reason}`);
        if (holder.lockDelayMs > 0) {
          state.delayToken = holder.token;
          this.events.push(`delayStarted:${name}:${holder.token}`);
        }
      }
      this.settle(name, state, reason === 'lease_expired' ? 'expiry' : 'revoke');
    }
  }

  private settle(name: string, state: LockState, cause: 'release' | 'expiry' | 'revoke' | null): void {
    if (state.holder !== null || state.delayToken !== null) return;
    const next = state.queue.shift();
    if (next === undefined) return;
    this.grant(name, state, next);
    if (cause === 'release') this.coverage.handoffOnRelease++;
    if (cause === 'expiry') this.coverage.handoffOnExpiry++;
  }
}
