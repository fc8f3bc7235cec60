/**
 * Storage writes while Readies keep coming (src/node/write-pipeline.ts): one write in flight,
 * later Readies queue and merge behind it, each Ready's messages and advance() wait for every
 * write up to its own; and a merged batch leaves storage as the batches one after another would.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { WritePipeline } from '../../src/node/write-pipeline.ts';
import type { Ready } from '../../src/raft/ready.ts';
import type { Entry } from '../../src/raft/types.ts';
import { MemoryStorage } from '../../src/storage/memory-storage.ts';
import { mergeBatches, type PersistBatch, type Storage } from '../../src/storage/storage.ts';
import { virtualCluster } from './virtual-cluster.ts';

const entry = (index: number, term: number, text = `${index}/${term}`): Entry => ({
  index,
  term,
  type: 'normal',
  data: new TextEncoder().encode(text),
});

const batch = (entries: Entry[], term = 1): PersistBatch => ({
  snapshot: null,
  compaction: null,
  entries,
  hardState: { term, vote: 'a', commit: 0 },
  sync: true,
});

/** A Ready stand-in: the pipeline only carries it back. */
const ready = (name: string): Ready => ({ name }) as unknown as Ready;

/** Storage that holds every write until the test completes it. */
class HeldStorage implements Storage {
  readonly writes: { batch: PersistBatch; done: (error: Error | null) => void }[] = [];
  async load(): Promise<never> {
    throw new Error('not used');
  }
  persist(written: PersistBatch, done: (error: Error | null) => void): void {
    this.writes.push({ batch: written, done });
  }
  async close(): Promise<void> {}
}

describe('WritePipeline', () => {
  it('keeps one write in flight, merges what queues behind it and hands Readies back in order', () => {
    const storage = new HeldStorage();
    const durable: string[][] = [];
    const pipeline = new WritePipeline(storage, (readies) => durable.push(readies.map((r) => (r as unknown as { name: string }).name)), () => {});
    pipeline.add(ready('A'), batch([entry(1, 1), entry(2, 1)]));
    pipeline.add(ready('B'), batch([entry(3, 1)]));
    pipeline.add(ready('C'), null); // writes nothing, but follows B
    pipeline.add(ready('D'), batch([entry(3, 2), entry(4, 2)], 2)); // replaces B's entry 3
    expect(storage.writes).toHaveLength(1);
    expect(pipeline.depth).toBe(2);

    storage.writes[0]!.done(null);
    expect(durable).toEqual([['A']]);
    expect(storage.writes).toHaveLength(2);
    const merged = storage.writes[1]!.batch;
    expect(merged.entries.map((e) => `${e.index}/${e.term}`)).toEqual(['3/2', '4/2']);
    expect(merged.hardState?.term).toBe(2);

    storage.writes[1]!.done(null);
    expect(durable).toEqual([['A'], ['B', 'C', 'D']]);
    expect(pipeline.depth).toBe(0);
    pipeline.add(ready('E'), null); // nothing queued: durable at once
    expect(durable.at(-1)).toEqual(['E']);
  });

  it('keeps one write in flight when a Ready is added from inside the durable callback', () => {
    const storage = new HeldStorage();
    const durable: string[][] = [];
    const pipeline: WritePipeline = new WritePipeline(
      storage,
      (readies) => {
        durable.push(readies.map((r) => (r as unknown as { name: string }).name));
        if (durable.length === 1) pipeline.add(ready('C'), batch([entry(3, 1)]));
      },
      () => {},
    );
    pipeline.add(ready('A'), batch([entry(1, 1)]));
    pipeline.add(ready('B'), batch([entry(2, 1)]));
    storage.writes[0]!.done(null);
    expect(storage.writes).toHaveLength(2); // B and C merged, written once
    expect(storage.writes[1]!.batch.entries.map((e) => e.index)).toEqual([2, 3]);
    storage.writes[1]!.done(null);
    expect(durable).toEqual([['A'], ['B', 'C']]);
  });

  it('a failed write stops it: nothing queued is written or handed back', () => {
    const storage = new HeldStorage();
    const durable: Ready[][] = [];
    const failures: Error[] = [];
    const pipeline = new WritePipeline(storage, (readies) => durable.push([...readies]), (error) => failures.push(error));
    pipeline.add(ready('A'), batch([entry(1, 1)]));
    pipeline.add(ready('B'), batch([entry(2, 1)]));
    storage.writes[0]!.done(new Error('disk full'));
    expect(failures.map((e) => e.message)).toEqual(['disk full']);
    expect(durable).toEqual([]);
    expect(storage.writes).toHaveLength(1);
    pipeline.add(ready('C'), batch([entry(3, 1)]));
    expect(storage.writes).toHaveLength(1);
  });

  it('keeps a snapshot or a compaction in a write of its own', () => {
    const storage = new HeldStorage();
    const pipeline = new WritePipeline(storage, () => {}, () => {});
    const snapshot = { meta: { index: 2, term: 1, config: { voters: ['a'], learners: [] } }, data: new Uint8Array([1]) };
    pipeline.add(ready('A'), batch([entry(1, 1), entry(2, 1)]));
    pipeline.add(ready('B'), { ...batch([]), compaction: snapshot });
    pipeline.add(ready('C'), batch([entry(3, 1)]));
    expect(pipeline.depth).toBe(3);
  });
});

describe('mergeBatches', () => {
  /** Batches a Raft node could write one after another: each may replace a suffix. */
  const batchSequence = fc
    .array(fc.record({ back: fc.nat(3), count: fc.nat(3), hard: fc.boolean(), sync: fc.boolean() }), { minLength: 2, maxLength: 8 })
    .map((steps) => {
      let last = 0;
      let term = 1;
      return steps.map(({ back, count, hard, sync }) => {
        const first = Math.max(1, last + 1 - back);
        if (back > 0) term++;
        const entries = Array.from({ length: count }, (_, i) => entry(first + i, term));
        if (count > 0) last = first + count - 1;
        return { ...batch(entries, term), hardState: hard ? { term, vote: 'a', commit: 0 } : null, sync };
      });
    });

  it('one merged write leaves storage as the writes one after another do', async () => {
    await fc.assert(
      fc.asyncProperty(batchSequence, async (batches) => {
        const oneByOne = new MemoryStorage();
        const merged = new MemoryStorage();
        await oneByOne.load();
        await merged.load();
        let combined: PersistBatch | null = null;
        for (const next of batches) {
          oneByOne.persist(next, (error) => expect(error).toBeNull());
          combined = combined === null ? next : mergeBatches(combined, next);
          expect(combined).not.toBeNull();
        }
        merged.persist(combined!, (error) => expect(error).toBeNull());
        expect(merged.loadNow()).toEqual(oneByOne.loadNow());
        expect(combined!.sync).toBe(batches.some((b) => b.sync));
      }),
      { numRuns: 300 },
    );
  });
});

describe('a leader whose own write is slow', () => {
  it('answers what both followers hold before its own fsync ends, and writes what came meanwhile in one write', () => {
    const { queue, writes, slow, runUntil, elect, stop } = virtualCluster();
    const leader = elect();
    slow.add(leader.id);
    const before = writes.get(leader.id)!;

    const start = queue.now;
    const answered: { at: number; ok: boolean }[] = [];
    const put = (text: string): void =>
      leader.propose(new TextEncoder().encode(text), (outcome) => answered.push({ at: queue.now - start, ok: outcome.ok }));
    put('x');
    runUntil(start + 40, () => answered.length === 1);
    // Committed on b and c (1 ms fsyncs, 0.5 ms hops) long before the leader's 50 ms write ends.
    expect(answered).toEqual([{ at: expect.any(Number), ok: true }]);
    expect(answered[0]!.at).toBeLessThan(10);
    expect(writes.get(leader.id)! - before).toBe(1); // still in flight

    put('y');
    runUntil(queue.now + 1);
    put('z');
    runUntil(start + 45, () => answered.length === 3);
    expect(answered.map((a) => a.ok)).toEqual([true, true, true]);
    expect(queue.now - start).toBeLessThan(50);
    runUntil(start + 200);
    // y and z were proposed in two turns while x's write was in flight: one write after it.
    expect(writes.get(leader.id)! - before).toBe(2);
    stop();
  });

  it.each([
    ['encoded at once', undefined],
    ['encoded in slices over several turns', 4],
  ])('labels a compaction with the index its snapshot reflects, although later Readies applied more meanwhile (%s)', (_, encodeSlices) => {
    const { queue, slow, compactions, runUntil, elect, stop } = virtualCluster({ snapshotEveryEntries: 5, ...(encodeSlices === undefined ? {} : { encodeSlices }) });
    const leader = elect();
    slow.add(leader.id);
    for (let i = 0; i < 60; i++) {
      leader.propose(new TextEncoder().encode(`p${i}`), () => {});
      runUntil(queue.now + 3);
    }
    runUntil(queue.now + 500);
    expect(compactions.length).toBeGreaterThan(10);
    expect(compactions.filter((c) => c.labelled !== c.reflects)).toEqual([]);
    stop();
  });

  it('stops taking Readies when its disk stalls, instead of queueing without bound', () => {
    const { queue, hung, runUntil, elect, stop } = virtualCluster();
    const leader = elect();
    hung.add(leader.id);
    let answered = 0;
    for (let i = 0; i < 2_000; i++) {
      leader.propose(new TextEncoder().encode(`p${i}`), (outcome) => {
        if (outcome.ok) answered++;
      });
      runUntil(queue.now + 1);
    }
    // The followers commit without the leader's disk, so it answers for a while, then waits.
    expect(answered).toBeGreaterThan(100);
    expect(answered).toBeLessThan(600);
    stop();
  });
});
