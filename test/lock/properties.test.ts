// The lock table against a reference model small enough to be obviously right: random acquires
// (try-once and waiting), releases (current and stale tokens), withdrawals and lease expiries
// over a few clients and locks, checking holders, queues and tokens after every step.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KvStateMachine } from '../../src/kv/index.ts';
import { LockHarness } from './lock-harness.ts';

const CLIENTS = ['c0', 'c1', 'c2', 'c3'];
const LOCKS = ['a', 'b'];

type Op =
  | { readonly op: 'acquire'; readonly client: number; readonly lock: number; readonly wait: boolean }
  | { readonly op: 'release'; readonly client: number; readonly lock: number; readonly stale: boolean }
  | { readonly op: 'withdraw'; readonly client: number; readonly lock: number }
  | { readonly op: 'expire'; readonly client: number }
  | { readonly op: 'restore' };

const client = fc.integer({ min: 0, max: CLIENTS.length - 1 });
const lock = fc.integer({ min: 0, max: LOCKS.length - 1 });
const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('acquire' as const), client, lock, wait: fc.boolean() }),
  fc.record({ op: fc.constant('release' as const), client, lock, stale: fc.boolean() }),
  fc.record({ op: fc.constant('withdraw' as const), client, lock }),
  fc.record({ op: fc.constant('expire' as const), client }),
  fc.constant({ op: 'restore' as const }),
);

/** Per lock: the holding client and token, and the queue of waiting clients. */
class ReferenceLocks {
  readonly holder = new Map<string, { client: string; token: number }>();
  readonly queue = new Map<string, string[]>();
  nextToken = 1;

  private grant(lockName: string, clientName: string): void {
    this.holder.set(lockName, { client: clientName, token: this.nextToken++ });
  }

  private handOn(lockName: string): void {
    if (this.holder.has(lockName)) return;
    const next = this.queue.get(lockName)?.shift();
    if (next !== undefined) this.grant(lockName, next);
  }

  acquire(lockName: string, clientName: string, wait: boolean): void {
    const holder = this.holder.get(lockName);
    if (holder?.client === clientName) return;
    if (holder === undefined) return this.grant(lockName, clientName);
    const queue = this.queue.get(lockName) ?? [];
    if (wait && !queue.includes(clientName)) queue.push(clientName);
    this.queue.set(lockName, queue);
  }

  release(lockName: string, token: number): void {
    if (this.holder.get(lockName)?.token !== token) return;
    this.holder.delete(lockName);
    this.handOn(lockName);
  }

  withdraw(lockName: string, clientName: string): void {
    this.queue.set(lockName, (this.queue.get(lockName) ?? []).filter((waiting) => waiting !== clientName));
  }

  /** The client's lease ended: its waits everywhere first, then its holdings, handed on. */
  leaseEnded(clientName: string): void {
    for (const lockName of LOCKS) this.withdraw(lockName, clientName);
    for (const lockName of LOCKS) {
      if (this.holder.get(lockName)?.client !== clientName) continue;
      this.holder.delete(lockName);
      this.handOn(lockName);
    }
  }
}

describe('lock table properties', () => {
  it('matches the reference model: holders, queue lengths, tokens strictly increasing per lock', () => {
    fc.assert(
      fc.property(fc.array(opArbitrary, { minLength: 20, maxLength: 80 }), (ops) => {
        let h = new LockHarness();
        const model = new ReferenceLocks();
        // Each client holds one lease (renewed after it expires); its waiter id is per lock.
        const leases = new Map(CLIENTS.map((name) => [name, h.grant(1000)]));
        const lastToken = new Map<string, number>();
        for (const step of ops) {
          const clientName = CLIENTS[step.op === 'restore' ? 0 : step.client] as string;
          const lockName = LOCKS['lock' in step ? step.lock : 0] as string;
          const lease = leases.get(clientName) as string;
          switch (step.op) {
            case 'acquire':
              h.acquire(lockName, { lease, owner: clientName, ...(step.wait ? { waiterId: `${clientName}/${lockName}` } : {}) });
              model.acquire(lockName, clientName, step.wait);
              break;
            case 'release': {
              const token = Math.max(0, (h.holderToken(lockName) ?? 0) - (step.stale ? 1 : 0));
              h.release(lockName, token);
              model.release(lockName, token);
              break;
            }
            case 'withdraw':
              h.withdraw(lockName, `${clientName}/${lockName}`);
              model.withdraw(lockName, clientName);
              break;
            case 'expire':
              h.expire(lease);
              model.leaseEnded(clientName);
              leases.set(clientName, h.grant(1000));
              break;
            case 'restore': {
              const copy = new KvStateMachine();
              copy.restore(h.machine.snapshot());
              const index = h.index;
              h = new LockHarness(copy);
              h.index = index;
              break;
            }
          }
          for (const name of LOCKS) {
            const holder = h.machine.locks.holder('lock', name);
            const expected = model.holder.get(name);
            expect(holder?.owner ?? null).toBe(expected?.client ?? null);
            expect(h.machine.locks.view('lock', name)?.waiters ?? 0).toBe(model.queue.get(name)?.length ?? 0);
            if (holder !== null) {
              // Tokens differ from the model's numbering only by nothing: one counter, one grant each.
              expect(holder.token).toBe(expected?.token);
              expect(holder.token).toBeGreaterThanOrEqual(lastToken.get(name) ?? 0);
              lastToken.set(name, holder.token);
            }
          }
        }
      }),
      { numRuns: 200 },
    );
  });
});
