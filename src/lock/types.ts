/**
 * The shapes of lock and election state. An election is a lock whose holder carries a value
 * (the elected instance's address, say), so both share one table, one queue discipline and one
 * fencing-token counter; `kind` keeps their names apart (a lock "a" and an election "a" are two
 * things).
 */

export type LockKind = 'lock' | 'election';

/** Why a holding ended, as `recent` reports it. */
export type LockEndReason = 'released' | 'lease_expired' | 'lease_revoked';

/** Who holds a lock now. */
export interface LockHolder {
  readonly owner: string;
  /** The fencing token: strictly greater for every later holder of any lock. */
  readonly token: number;
  readonly lease: string;
  /** The lease was granted for this holding (acquire with ttlMs) and is revoked on release. */
  readonly leaseOwned: boolean;
  /** Chubby's lock-delay: after an involuntary loss, nobody gets the lock for this long (0: none). */
  readonly lockDelayMs: number;
  /** The request that waited for this holding, if any: the node wakes it on grant. */
  readonly waiterId?: string;
  /** Elections: the leader's proclaimed value. */
  readonly value?: string;
}

/** A request waiting in line. Exactly one of `lease` and `ttlMs`. */
export interface LockWaiter {
  readonly waiterId: string;
  readonly owner: string;
  /** An existing lease: the waiter leaves the queue when it ends. */
  readonly lease?: string;
  /** A lease of this TTL is granted at the moment the lock is (a waiter holds no lease while waiting). */
  readonly ttlMs?: number;
  readonly lockDelayMs: number;
  readonly value?: string;
}

/** One ended holding, as `recent` reports it. */
export interface LockEnd {
  readonly owner: string;
  readonly token: number;
  /** The store revision when the holding ended. */
  readonly endedRevision: number;
  readonly reason: LockEndReason;
}

/** A lock-delay in force: no grant until the entry ending it (for the holding `token`) applies. */
export interface LockDelay {
  readonly token: number;
  readonly delayMs: number;
}

/** The contract's view of a lock (GET /v1/locks/{name}); `recent` newest first. */
export interface LockView {
  readonly name: string;
  readonly held: boolean;
  readonly holder?: { readonly owner: string; readonly token: number; readonly lease: string };
  readonly waiters: number;
  readonly recent: readonly LockEnd[];
  /** A lock-delay is in force: nobody is granted the lock until it ends. */
  readonly lockDelayed: boolean;
}

/** The contract's view of an election's leader. */
export interface ElectionLeader {
  readonly value: string;
  readonly token: number;
  readonly lease: string;
}

/** A delay the leader must count down (and end with a lockDelayEnd entry). */
export interface LockDelayCountdown {
  readonly kind: LockKind;
  readonly name: string;
  readonly token: number;
  readonly delayMs: number;
}

/**
 * What an apply did to locks, for the node: wake the waiter a grant went to (or whose lease
 * died), update election observers, start or stop lock-delay countdowns on the leader.
 */
export type LockEvent =
  | { readonly type: 'granted'; readonly kind: LockKind; readonly name: string; readonly holder: LockHolder }
  | { readonly type: 'ended'; readonly kind: LockKind; readonly name: string; readonly end: LockEnd }
  | { readonly type: 'proclaimed'; readonly kind: LockKind; readonly name: string; readonly holder: LockHolder }
  | { readonly type: 'waiterRemoved'; readonly kind: LockKind; readonly name: string; readonly waiterId: string; readonly lease: string }
  | { readonly type: 'delayStarted'; readonly delay: LockDelayCountdown }
  | { readonly type: 'delayEnded'; readonly delay: LockDelayCountdown };
