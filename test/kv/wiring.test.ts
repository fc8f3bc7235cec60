// The state machine fits the node's interfaces as they are: the StateMachine a Raft log drives,
// and the lease countdowns LeaseKeeper restarts when a node becomes leader.
import { describe, expect, expectTypeOf, it } from 'vitest';
import { KvStateMachine, type KvApplyOutcome, type LeaseCountdown as KvLeaseCountdown } from '../../src/kv/index.ts';
import type { LeaseCountdown } from '../../src/node/lease-keeper.ts';
import type { StateMachine } from '../../src/node/state-machine.ts';
import { Harness } from './harness.ts';

describe('wiring', () => {
  it('is a StateMachine<KvApplyOutcome> and lists leases as LeaseKeeper takes them', () => {
    const machine: StateMachine<KvApplyOutcome> = new KvStateMachine();
    expectTypeOf<KvLeaseCountdown>().toMatchTypeOf<LeaseCountdown>();
    const h = new Harness(machine as KvStateMachine);
    const outcome = h.apply({ type: 'leaseGrant', ttlMs: 800 });
    const countdowns: Iterable<LeaseCountdown> = h.machine.leases();
    expect([...countdowns]).toEqual(outcome.leasesGranted);
  });
});
