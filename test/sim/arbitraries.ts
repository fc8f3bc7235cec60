/**
 * fast-check arbitraries for fault schedules and swarm knobs, so that a failing run shrinks
 * to a short schedule and a simple configuration rather than to a meaningless seed.
 */
import fc from 'fast-check';
import type { FaultAction, FaultEvent, Link } from './faults.ts';
import type { SwarmOptions } from './swarm.ts';

function nodeIndex(nodeCount: number): fc.Arbitrary<number> {
  return fc.integer({ min: 0, max: nodeCount - 1 });
}

function linkArbitrary(nodeCount: number): fc.Arbitrary<Link> {
  return fc
    .tuple(nodeIndex(nodeCount), nodeIndex(nodeCount))
    .filter(([from, to]) => from !== to)
    .map(([from, to]) => [from, to] as const);
}

export function faultActionArbitrary(nodeCount: number): fc.Arbitrary<FaultAction> {
  const node = nodeIndex(nodeCount);
  return fc.oneof(
    fc
      .array(linkArbitrary(nodeCount), { minLength: 1, maxLength: nodeCount * 2 })
      .map((links) => ({ kind: 'cut' as const, label: links.map(([a, b]) => `n${a}->n${b}`).join(' '), links })),
    fc.constant({ kind: 'heal' as const }),
    fc.constant({ kind: 'crash-all' as const }),
    fc.constant({ kind: 'restart-all' as const }),
    node.map((index) => ({ kind: 'crash' as const, node: index })),
    node.map((index) => ({ kind: 'restart' as const, node: index })),
    node.map((index) => ({ kind: 'pause' as const, node: index })),
    node.map((index) => ({ kind: 'resume' as const, node: index })),
    fc.double({ min: 0, max: 0.3, noNaN: true }).map((rate) => ({ kind: 'loss' as const, rate })),
    node.map((target) => ({ kind: 'transfer' as const, target })),
    fc.constant({ kind: 'isolate-leader' as const }),
  );
}

/** A schedule of up to `maxEvents` timed actions inside [0, durationMs), sorted by time. */
export function scheduleArbitrary(nodeCount: number, durationMs: number, maxEvents = 40): fc.Arbitrary<FaultEvent[]> {
  return fc
    .array(
      fc.record({ atMs: fc.integer({ min: 0, max: durationMs - 1 }), action: faultActionArbitrary(nodeCount) }),
      { maxLength: maxEvents },
    )
    .map((events) => events.slice().sort((a, b) => a.atMs - b.atMs));
}

/**
 * Network, Raft and workload knobs; they shrink toward the gentlest setting (no loss, big
 * batches, a wide window, one client, one key).
 */
export interface SwarmKnobs {
  readonly dropRate: number;
  readonly duplicateRate: number;
  readonly maxEntriesPerAppend: number;
  readonly maxInflightAppends: number;
  readonly snapshotEveryEntries: number;
  readonly clients: number;
  readonly keys: number;
  readonly readRate: number;
  readonly casRate: number;
}

export const swarmKnobsArbitrary: fc.Arbitrary<SwarmKnobs> = fc.record({
  dropRate: fc.double({ min: 0, max: 0.3, noNaN: true }),
  duplicateRate: fc.double({ min: 0, max: 0.1, noNaN: true }),
  maxEntriesPerAppend: fc.constantFrom(64, 4, 1),
  maxInflightAppends: fc.constantFrom(64, 4, 1),
  snapshotEveryEntries: fc.constantFrom(1000, 100, 16),
  clients: fc.integer({ min: 1, max: 5 }),
  keys: fc.integer({ min: 1, max: 4 }),
  readRate: fc.double({ min: 0, max: 0.6, noNaN: true }),
  casRate: fc.double({ min: 0, max: 0.3, noNaN: true }),
});

export function applyKnobs(options: SwarmOptions, knobs: SwarmKnobs): SwarmOptions {
  return {
    ...options,
    network: { ...options.network, dropRate: knobs.dropRate, duplicateRate: knobs.duplicateRate },
    raft: { ...options.raft, maxEntriesPerAppend: knobs.maxEntriesPerAppend, maxInflightAppends: knobs.maxInflightAppends },
    snapshotEveryEntries: knobs.snapshotEveryEntries,
    workload: {
      ...options.workload,
      clients: knobs.clients,
      keys: knobs.keys,
      readRate: knobs.readRate,
      casRate: knobs.casRate,
    },
  };
}
