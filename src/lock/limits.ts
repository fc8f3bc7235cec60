/**
 * The bounds of the lock table, in one place. Every one is enforced at apply (so replicas agree)
 * and documented in the OpenAPI schemas; a request beyond them earns the contract's error.
 */

/** A lock or election name, in UTF-8 bytes. */
export const MAX_LOCK_NAME_BYTES = 512;
/** The free-form owner label of a holder or waiter. */
export const MAX_LOCK_OWNER_BYTES = 256;
/** The id a node gives a waiting request (it wakes that request on grant). */
export const MAX_WAITER_ID_BYTES = 128;
/** An election's proclaimed value (an address, a small JSON document). */
export const MAX_ELECTION_VALUE_BYTES = 64 * 1024;
/** Waiters queued on one lock; beyond it an acquire that would wait is refused (429 overloaded). */
export const MAX_WAITERS_PER_LOCK = 10_000;
/** Locks and elections that are held, waited on or delayed; beyond it a new one is refused (429). */
export const MAX_ACTIVE_LOCKS = 100_000;
/** Idle locks kept only for their `recent` history; beyond it the longest-idle is forgotten. */
export const MAX_IDLE_LOCKS = 10_000;
/** Holdings remembered per lock in `recent`. */
export const RECENT_HOLDERS = 10;
/** The longest lock-delay (Chubby's is at most a minute). */
export const MAX_LOCK_DELAY_MS = 60_000;
