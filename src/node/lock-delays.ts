/**
 * Lock-delays are counted down on the leader exactly as leases are, by a second LeaseKeeper:
 * a countdown starts when the entry that started the delay applies on the leader, and every
 * countdown restarts at full length when a node becomes leader. When one runs out the leader
 * proposes a lockDelayEnd entry, and only that entry lets the lock be granted again.
 *
 * So a delay is never shorter than promised, whatever the clocks do: it is measured on one
 * node's monotonic clock, from a moment after the loss was applied, and a new leader starts
 * over. (A delay measured on the proposers' wall clocks, from the entries' proposedAtMs, would
 * end early when a new leader's clock runs ahead or the wall clock jumps.) The price is that a
 * leader change lengthens a delay in force by up to its full length.
 */
import type { LockDelayCountdown, LockEvent } from '../lock/index.ts';
import type { LockDelayEndCommand } from '../kv/index.ts';
import type { LeaseCountdown, LeaseKeeper } from './lease-keeper.ts';

/** The countdown id of a delay: its lock and the token of the holding whose loss started it. */
export function lockDelayCountdown(delay: LockDelayCountdown): LeaseCountdown {
  return { id: JSON.stringify([delay.kind, delay.name, delay.token]), ttlMs: delay.delayMs };
}

/** The entry that ends the delay a countdown id names. */
export function lockDelayEndBody(countdownId: string): LockDelayEndCommand {
  const [kind, name, token] = JSON.parse(countdownId) as [LockDelayEndCommand['kind'], string, number];
  return { type: 'lockDelayEnd', kind, name, token };
}

/** Starts and stops countdowns as an applied entry started or ended delays. */
export function followLockDelays(keeper: LeaseKeeper, events: readonly LockEvent[]): void {
  for (const event of events) {
    if (event.type === 'delayStarted') {
      const countdown = lockDelayCountdown(event.delay);
      keeper.granted(countdown.id, countdown.ttlMs);
    } else if (event.type === 'delayEnded') {
      keeper.removed(lockDelayCountdown(event.delay).id);
    }
  }
}
