// The KV checkers must catch real bugs too. Each test plants one bug in a test subclass of a
// production part (KvStateMachine, LeaseKeeper, RaftNode) or in a faulty disk, runs KV seeds,
// and shows a checker reports it. Production code is not bent: the plants live only here.
import { describe, expect, it } from 'vitest';
import { decodeCommand, encodeCommand, isKvError, KvStateMachine, type WatchListener } from '../../src/kv/index.ts';
import { LeaseKeeper } from '../../src/node/lease-keeper.ts';
import { NodeHost } from '../../src/node/node-host.ts';
import type { ForwardProposalsResponse } from '../../src/raft/messages.ts';
import type { KvApplyOutcome } from '../../src/kv/index.ts';
import { RaftNode } from '../../src/raft/raft-node.ts';
import { AcknowledgesBeforeDurable } from './plants.ts';
import { firstFailingSeed as firstFailingSeedOf, yieldToEventLoop } from './seed-batch.ts';
import { SimDisk } from './sim-disk.ts';
import { runSimulation, type SimulationOptions } from './simulation.ts';
import type { SwarmOptions } from './swarm.ts';
import type { SeededRandom } from '../../src/common/random.ts';

/** Every seed runs the KV stack. */
const kv = (options: SwarmOptions): SwarmOptions => ({ ...options, application: 'kv' });

/** Plant: lease countdowns run at half the TTL. */
class ExpiresEarly extends LeaseKeeper {
  override granted(id: string, ttlMs: number): void {
    super.granted(id, ttlMs / 2);
  }
  override becameLeader(leases: Iterable<{ id: string; ttlMs: number }>): void {
    super.becameLeader([...leases].map((lease) => ({ ...lease, ttlMs: lease.ttlMs / 2 })));
  }
}

/** Plant: every 50th watch batch never reaches watchers. */
class DropsWatchEvents extends KvStateMachine {
  override onEvents(listener: WatchListener): () => void {
    return super.onEvents((batch) => {
      if (batch.revision % 50 !== 0) listener(batch);
    });
  }
}

/** Plant: the dedup table is never consulted, so a retried command applies again. */
class ForgetsIdempotencyKeys extends KvStateMachine {
  override apply(index: number, data: Uint8Array): ReturnType<KvStateMachine['apply']> {
    const command = decodeCommand(data);
    if (isKvError(command) || command.idempotencyKey === undefined) return super.apply(index, data);
    const { idempotencyKey: _forgotten, ...withoutKey } = command;
    return super.apply(index, encodeCommand(withoutKey, this.config));
  }
}

/** Plant: a new leader serves reads before an entry of its own term commits. */
class ReadsBeforeNoopCommits extends RaftNode {
  override committedInCurrentTerm(): boolean {
    return true;
  }
}

/**
 * Plant: a follower waits for its forwarded proposal one index past where the leader put it, so
 * it answers its client with whatever command applied there (or superseded, for a no-op).
 */
class WaitsOnePastItsForward extends NodeHost<KvApplyOutcome> {
  protected override placeForwarded(response: ForwardProposalsResponse): void {
    super.placeForwarded({ ...response, indexes: response.indexes.map((index) => (index === 0 ? 0 : index + 1)) });
  }
}

/** The first KV seed (of 1..maxSeeds) whose run reports a violation. */
function firstFailingSeed(options: Omit<SimulationOptions, 'seed' | 'tweak'>, maxSeeds: number, wanted?: RegExp): ReturnType<typeof firstFailingSeedOf> {
  return firstFailingSeedOf({ ...options, tweak: kv }, maxSeeds, wanted);
}

describe('planted KV bugs are caught', () => {
  it('a lease expired early', async () => {
    const found = await firstFailingSeed({ kvPlants: { makeLeaseKeeper: (options) => new ExpiresEarly(options) } }, 20);
    expect(found, 'no seed caught the planted bug').not.toBeNull();
    expect(found?.violation).toMatch(/expired early/);
  });

  it('a watch event dropped', async () => {
    const found = await firstFailingSeed({ kvPlants: { makeStateMachine: (options) => new DropsWatchEvents(options) } }, 20);
    expect(found, 'no seed caught the planted bug').not.toBeNull();
    // The KV watch-feed check, or the registry's, which reads the same feed for its changes.
    expect(found?.violation).toMatch(/^watch feed|^registry: .* missing from the change stream/);
  });

  it('a duplicate retry applied twice', async () => {
    const found = await firstFailingSeed({ kvPlants: { makeStateMachine: (options) => new ForgetsIdempotencyKeys(options) } }, 30);
    expect(found, 'no seed caught the planted bug').not.toBeNull();
    expect(found?.violation).toMatch(/^idempotency/);
  });

  it('an acknowledged write not synced', async () => {
    const found = await firstFailingSeed({ makeDisk: () => new AcknowledgesBeforeDurable() }, 60);
    expect(found, 'no seed caught the planted bug').not.toBeNull();
    expect(found?.violation).toMatch(/leader completeness|state machine safety|election safety|lost|assertion|linearizability/);
  });

  it("a follower's forwarded write answered with another command's result", async () => {
    // A register write answered with another command's result, or a registry write (those
    // forward too) whose answer disagrees with the change stream the registry checks follow.
    // (Some seeds show it first as a registry client that never settles: a liveness report.)
    const wrongAnswer = /^linearizability|^registry: /;
    const found = await firstFailingSeed({ kvPlants: { makeHost: (options) => new WaitsOnePastItsForward(options) } }, 20, wrongAnswer);
    expect(found, 'no seed caught the planted bug').not.toBeNull();
    expect(found?.violation).toMatch(wrongAnswer);
  });

  it('a read served by a new leader before its no-op commits', async () => {
    // The stale window is a new leader's first round trip and fsync, once per election: these
    // seeds change leaders more often (transfers at least once a second, and isolations of the
    // leader), or the plant shows in only ~1 seed in 100.
    const elections = (options: SwarmOptions): SwarmOptions => ({
      ...options,
      rates: {
        ...options.rates,
        transferPerSecond: Math.max(options.rates.transferPerSecond, 1),
        leaderIsolationPerSecond: Math.max(options.rates.leaderIsolationPerSecond ?? 0, 0.3),
      },
    });
    const found = await firstFailingSeedOf(
      { makeRaft: (...args) => new ReadsBeforeNoopCommits(...args), tweak: (options) => elections(kv(options)) },
      100,
    );
    expect(found, 'no seed caught the planted bug').not.toBeNull();
    // A stale read (of a key, or of an election's leader: one the log did not have then), or a
    // keepalive acknowledged past a pending expiry (the keepalive's read barrier no longer waits
    // for the previous leader's entries to apply).
    expect(found?.violation).toMatch(/^linearizability|expired early|^election \S+: leader read .* but the log's leaders in that interval were/);
  });
});

/**
 * Plant: a disk without checksums. Damage at a crash changes a stored entry's bytes and the
 * restarted node reads them back as if they were sound.
 */
class UncheckedDisk extends SimDisk {
  damage(random: SeededRandom): string {
    const entries = this.durable.entries.filter((entry) => entry.data.length > 0);
    if (entries.length === 0) return 'nothing to damage';
    const entry = random.pick(entries);
    const data = entry.data.slice();
    data[random.int(data.length)]! ^= 0xff;
    const damaged = { ...entry, data };
    this.durable = { ...this.durable, entries: this.durable.entries.map((e) => (e === entry ? damaged : e)) };
    return `changed entry ${entry.index} without a checksum to notice`;
  }
}

describe('damaged disks', () => {
  const damaging = (options: SwarmOptions): SwarmOptions => ({
    ...kv(options),
    rates: { ...options.rates, crashPerSecond: Math.max(options.rates.crashPerSecond, 0.2), damagedCrashShare: 0.5 },
  });

  it('with checksums, damage stops the node and the cluster carries on', async () => {
    let refused = 0;
    for (let seed = 1; seed <= 10; seed++) {
      const result = runSimulation({ seed, tweak: (options) => ({ ...damaging(options), checksummedDisks: true }) });
      expect(result.violations, `seed ${seed}`).toEqual([]);
      refused += result.coverage['damaged-disk-refused'];
      await yieldToEventLoop();
    }
    expect(refused).toBeGreaterThan(0);
  });

  it('without checksums (planted), the damage is applied and a checker reports it', async () => {
    let found: string | undefined;
    for (let seed = 1; seed <= 40 && found === undefined; seed++) {
      found = runSimulation({ seed, tweak: damaging, makeDisk: () => new UncheckedDisk() }).violations[0];
      await yieldToEventLoop();
    }
    expect(found, 'no seed caught the planted bug').toBeDefined();
    expect(found).toMatch(/state machine safety|log matching|leader completeness|linearizability|assertion|watch feed|idempotency|decode/);
  });
});
