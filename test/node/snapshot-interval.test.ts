/**
 * When a node compacts its log (NodeHost.maybeCompact): every snapshotEveryEntries applied
 * entries, or once the entries applied since the last snapshot carry snapshotEveryBytes of data,
 * whichever comes first. The byte bound keeps the log bounded when values are large; after each
 * snapshot the count starts again from what that snapshot did not cover.
 */
import { describe, expect, it } from 'vitest';
import { virtualCluster, type VirtualClusterOptions } from './virtual-cluster.ts';

const ENTRIES = 30;

/** Proposes ENTRIES entries of `bytes` bytes on an elected leader; the compactions written by all three nodes. */
function compactionsAfter(bytes: number, options: VirtualClusterOptions): number {
  const { queue, compactions, runUntil, elect, stop } = virtualCluster(options);
  const leader = elect();
  let applied = 0;
  for (let i = 0; i < ENTRIES; i++) {
    leader.propose(new Uint8Array(bytes).fill(i), (outcome) => {
      if (outcome.ok) applied++;
    });
    runUntil(queue.now + 5);
  }
  runUntil(queue.now + 500);
  stop();
  expect(applied).toBe(ENTRIES);
  return compactions.length;
}

describe('snapshot interval', () => {
  it.each([
    ['encoded at once', undefined],
    ['encoded in slices over several turns', 4],
  ])('compacts once the applied entries carry snapshotEveryBytes, however few they are (%s)', (_, encodeSlices) => {
    const slices = encodeSlices === undefined ? {} : { encodeSlices };
    // 30 entries of 1,000 bytes against a 10,000-byte bound: about 3 snapshots on each of 3 nodes.
    const compactions = compactionsAfter(1_000, { snapshotEveryBytes: 10_000, ...slices });
    expect(compactions).toBeGreaterThanOrEqual(3);
    // The count restarts after each snapshot: not a snapshot at every entry past the first bound.
    expect(compactions).toBeLessThanOrEqual(3 * Math.floor((ENTRIES * 1_000) / 10_000));
  });

  it('does not compact on bytes while the entries stay under the bound, nor without one', () => {
    expect(compactionsAfter(10, { snapshotEveryBytes: 10_000 })).toBe(0);
    expect(compactionsAfter(1_000, {})).toBe(0);
  });

  it('still compacts on the entry count when the entries are small', () => {
    const compactions = compactionsAfter(10, { snapshotEveryEntries: 10, snapshotEveryBytes: 1_000_000 });
    expect(compactions).toBeGreaterThanOrEqual(3);
  });
});
