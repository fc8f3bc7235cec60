/**
 * The lease table: each lease's TTL and the keys attached to it. Time is not here: the leader
 * counts each lease down on its monotonic clock (src/node/lease-keeper.ts) from the TTLs this
 * table exposes, keepalives only reset that countdown, and an expiry arrives as a leaseExpire
 * command. So the table is pure, and every replica holds the same one.
 *
 * Ids are strings. Unless the client asks for one, they come from a counter ("1", "2", ...); the
 * counter is kept above every decimal id ever requested, so it never hands out an id a client
 * has used (a stale keepalive or expiry for an old lease cannot hit a new one by accident).
 * Order matters for determinism: leases list in grant order, and a lease's keys in key order
 * (a Set's insertion order would differ after a restore).
 */
import { assert } from '../common/assert.ts';
import type { LeaseAttachments } from './mvcc-store.ts';

/** What the leader needs to run a countdown. */
export interface LeaseCountdown {
  readonly id: string;
  readonly ttlMs: number;
}

export interface LeaseInfo {
  readonly id: string;
  readonly ttlMs: number;
  /** Attached keys, sorted. */
  readonly keys: readonly string[];
}

interface Lease {
  readonly ttlMs: number;
  readonly keys: Set<string>;
}

/** The table as a snapshot carries it; keys are rebuilt from the store's records. */
export interface LeaseTableState {
  readonly nextId: number;
  readonly leases: readonly LeaseCountdown[];
}

const DECIMAL_ID = /^[1-9][0-9]{0,14}$/; // stays a safe integer

export class LeaseTable implements LeaseAttachments {
  private readonly leases = new Map<string, Lease>();
  private nextId = 1;

  get size(): number {
    return this.leases.size;
  }

  has(id: string): boolean {
    return this.leases.has(id);
  }

  ttlMsOf(id: string): number | undefined {
    return this.leases.get(id)?.ttlMs;
  }

  /** Grants a lease; the caller has checked that a requested id is free. Returns its id. */
  grant(ttlMs: number, requestedId?: string): string {
    let id = requestedId;
    if (id === undefined) {
      while (this.leases.has(String(this.nextId))) this.nextId++;
      id = String(this.nextId++);
    } else if (DECIMAL_ID.test(id)) {
      this.nextId = Math.max(this.nextId, Number(id) + 1);
    }
    assert(!this.leases.has(id), () => `lease ${id} granted twice`);
    this.leases.set(id, { ttlMs, keys: new Set() });
    return id;
  }

  /** Forgets a lease whose keys the caller has already deleted. */
  remove(id: string): void {
    const lease = this.leases.get(id);
    assert(lease !== undefined && lease.keys.size === 0, () => `lease ${id} removed while absent or holding keys`);
    this.leases.delete(id);
  }

  /** The attached keys, sorted (the order revocation deletes them in). */
  keysOf(id: string): string[] {
    const lease = this.leases.get(id);
    assert(lease !== undefined, () => `keys of unknown lease ${id}`);
    return [...lease.keys].sort();
  }

  info(id: string): LeaseInfo | undefined {
    const lease = this.leases.get(id);
    return lease === undefined ? undefined : { id, ttlMs: lease.ttlMs, keys: this.keysOf(id) };
  }

  /** Every lease, in grant order: what a new leader restarts its countdowns from. */
  list(): LeaseCountdown[] {
    return [...this.leases].map(([id, lease]) => ({ id, ttlMs: lease.ttlMs }));
  }

  attach(leaseId: string, key: string): void {
    const lease = this.leases.get(leaseId);
    assert(lease !== undefined, () => `key ${key} attached to unknown lease ${leaseId}`);
    lease.keys.add(key);
  }

  detach(leaseId: string, key: string): void {
    const removed = this.leases.get(leaseId)?.keys.delete(key) ?? false;
    assert(removed, () => `key ${key} was not attached to lease ${leaseId}`);
  }

  exportState(): LeaseTableState {
    return { nextId: this.nextId, leases: this.list() };
  }

  /** Replaces the table; keys are attached afterwards, as the store loads them. */
  load(state: LeaseTableState): void {
    this.leases.clear();
    this.nextId = state.nextId;
    for (const lease of state.leases) {
      assert(!this.leases.has(lease.id), () => `snapshot lease ${lease.id} twice`);
      this.leases.set(lease.id, { ttlMs: lease.ttlMs, keys: new Set() });
    }
  }
}
