/**
 * Swarm testing: every seed draws its own cluster size, network quality, fault mix and Raft
 * tunables, so a batch of seeds explores many different regions rather than one average.
 */
import { SeededRandom } from '../../src/common/random.ts';
import type { FaultRates } from './faults.ts';
import type { NetworkOptions } from './sim-network.ts';
import type { WorkloadOptions } from './workload.ts';

export interface RaftTunables {
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly maxEntriesPerAppend: number;
  readonly maxInflightAppends: number;
  readonly snapshotChunkBytes: number;
}

export interface SwarmOptions {
  readonly nodeCount: number;
  /** What the nodes run: the register test machine, or the production KV stack. */
  readonly application: 'register' | 'kv';
  readonly network: NetworkOptions;
  readonly rates: FaultRates;
  readonly raft: RaftTunables;
  readonly tickMs: number;
  readonly clockRates: readonly number[];
  readonly fsyncMinMs: number;
  readonly fsyncMaxMs: number;
  readonly snapshotEveryEntries: number;
  /** List elements of a KV snapshot encoded or restored per turn (small: much happens meanwhile). */
  readonly snapshotSliceElements: number;
  /**
   * Virtual milliseconds each such slice takes (0: none, and the whole snapshot is encoded or
   * restored before any message arrives; more: messages, ticks and crashes come between slices).
   */
  readonly snapshotSliceDelayMs: number;
  readonly workload: WorkloadOptions;
  /** Disks that keep the production records (checksums, format version) rather than objects. */
  readonly checksummedDisks: boolean;
  /**
   * Nodes beyond `nodeCount` that start with no configuration and empty disks, for membership
   * changes to add (0 when this seed changes no membership). Node indexes in the fault schedule
   * cover them too.
   */
  readonly spareNodes: number;
}

/** Either zero (the fault is off for this seed) or a rate up to `max`. */
function sometimes(random: SeededRandom, offChance: number, max: number): number {
  return random.chance(offChance) ? 0 : random.float() * max;
}

export function swarmOptions(seed: number, nodeCount?: number): SwarmOptions {
  const random = new SeededRandom(seed ^ 0x5eed5eed);
  const nodes = nodeCount ?? (random.chance(0.3) ? 5 : 3);
  const drift = random.float() * 0.3; // up to ±30 % tick-rate skew
  const application: SwarmOptions['application'] = random.chance(0.5) ? 'kv' : 'register';
  const options = {
    nodeCount: nodes,
    application,
    network: {
      latencyMs: 0.5 + random.float() * 5,
      jitterMs: random.float() * 10,
      dropRate: sometimes(random, 0.3, 0.3),
      duplicateRate: sometimes(random, 0.5, 0.1),
      reorderRate: sometimes(random, 0.5, 0.2),
      reorderDelayMs: 5 + random.float() * 50,
    },
    rates: {
      partitionPerSecond: sometimes(random, 0.2, 0.5),
      crashPerSecond: sometimes(random, 0.3, 0.3),
      crashAllPerSecond: sometimes(random, 0.8, 0.05),
      pausePerSecond: sometimes(random, 0.5, 0.2),
      transferPerSecond: sometimes(random, 0.4, 0.3),
      lossChangePerSecond: sometimes(random, 0.6, 0.2),
      maxLossRate: 0.3,
      flapPerSecond: sometimes(random, 0.7, 0.1),
    },
    raft: {
      electionTicks: 10 + random.int(10),
      heartbeatTicks: 2 + random.int(2),
      maxEntriesPerAppend: random.pick([1, 4, 64]),
      maxInflightAppends: random.pick([1, 4, 64]),
      // Small enough that a snapshot always takes many chunks, large enough that a KV snapshot
      // (with its dedup table, tens of KB) arrives within the liveness window: chunks go one per
      // round trip, and at 64 bytes a lagging follower of seed 3000467 was still catching up
      // 15 s after the heal (production sends 256 KiB).
      snapshotChunkBytes: random.pick([512, 4096, 64 * 1024]),
    },
    tickMs: 10,
    clockRates: Array.from({ length: nodes }, () => 1 + (random.float() * 2 - 1) * drift),
    fsyncMinMs: 0.2 + random.float(),
    fsyncMaxMs: 2 + random.float() * 8,
    snapshotEveryEntries: random.pick([16, 100, 1000]),
    workload: {
      clients: 2 + random.int(5),
      keys: 1 + random.int(4),
      readRate: 0.2 + random.float() * 0.4,
      casRate: random.float() * 0.3,
      thinkMaxMs: 20 + random.int(200),
      opTimeoutMs: 1500,
      retryDelayMs: 20,
      clientLatencyMs: 0.5,
      maxOps: 1200,
      deleteRate: random.float() * 0.15,
      // Only the KV stack deduplicates retries by idempotency key.
      retryUnansweredAfterMs: application === 'kv' ? 300 + random.int(700) : 0,
    },
  };
  // Drawn last, so that adding them left every earlier choice of a seed as it was.
  const checksummedDisks = random.chance(0.5);
  const damagedCrashShare = checksummedDisks && random.chance(0.6) ? 0.5 : 0;
  // Half the seeds change membership: a few times a minute to a few times a second.
  const membershipPerSecond = random.chance(0.5) ? 0 : 0.05 + random.float() * 0.5;
  const spareNodes = membershipPerSecond > 0 ? 1 + random.int(2) : 0;
  // Partitions drawn above pick their nodes blindly, and so rarely cut the leader off long
  // enough for a stale read to show; most seeds also isolate the leader itself now and then.
  const leaderIsolationPerSecond = sometimes(random, 0.3, 0.2);
  // Some seeds get a slow disk, with fsyncs as long as several network round trips: Readies
  // then queue behind a write in flight and their writes merge (src/node/write-pipeline.ts),
  // which fast disks and light workloads rarely make happen.
  const slowDisk = random.chance(0.3);
  const snapshotSliceElements = random.pick([2, 16, 2_000]);
  const snapshotSliceDelayMs = random.pick([0, 0.1, 0.5]);
  return {
    ...options,
    snapshotSliceElements,
    snapshotSliceDelayMs,
    ...(slowDisk ? { fsyncMinMs: 3 + random.float() * 5, fsyncMaxMs: 10 + random.float() * 15 } : {}),
    checksummedDisks,
    spareNodes,
    rates: { ...options.rates, damagedCrashShare, membershipPerSecond, leaderIsolationPerSecond },
  };
}
