/**
 * Storage writes while Readies keep coming (src/node/write-pipeline.ts): one write in flight,
 * later Readies queue and merge behind it, each Ready's messages and advance() wait for every
 * write up to its own; and a merged batch leaves storage as the batches one after another would.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../../src/common/random.ts';
import { NodeHost } from '../../src/node/node-host.ts';
import { WritePipeline } from '../../src/node/write-pipeline.ts';
import { DEFAULT_RAFT_CONFIG } from '../../src/raft/config.ts';
import type { Message } from '../../src/raft/messages.ts';
import type { Ready } from '../../src/raft/ready.ts';
import { EMPTY_HARD_STATE, type Entry, type NodeId } from '../../src/raft/types.ts';
import { MemoryStorage } from '../../src/storage/memory-storage.ts';
import { mergeBatches, type PersistBatch, type Storage } from '../../src/storage/storage.ts';
import { EventQueue } from '../sim/event-queue.ts';
import { SimClock } from '../sim/sim-clock.ts';

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
  /** Three NodeHosts in virtual time; `slow` nodes take 50 ms per synced write, others 1 ms. */
  function cluster(
    snapshotEveryEntries = 1_000_000,
    /** Whether the state machine encodes its snapshots in slices (three turns each). */
    sliced = false,
  ): {
    queue: EventQueue;
    hosts: Map<NodeId, NodeHost<string>>;
    writes: Map<NodeId, number>;
    slow: Set<NodeId>;
    hung: Set<NodeId>;
    /** Every compaction written: the index it is labelled with, and the one its data reflects. */
    compactions: { labelled: number; reflects: number }[];
  } {
    const queue = new EventQueue();
    const ids = ['a', 'b', 'c'];
    const hosts = new Map<NodeId, NodeHost<string>>();
    const writes = new Map<NodeId, number>(ids.map((id) => [id, 0]));
    const slow = new Set<NodeId>();
    /** Nodes whose next writes never finish (a disk that stalled). */
    const hung = new Set<NodeId>();
    const compactions: { labelled: number; reflects: number }[] = [];
    for (const id of ids) {
      const clock = new SimClock(queue, 1);
      const storage = new MemoryStorage({
        scheduler: (delayMs, fn) => clock.schedule(delayMs, fn),
        latencyMs: (written) => (written.sync ? (hung.has(id) ? 1e9 : slow.has(id) ? 50 : 1) : 0),
      });
      const counted: Storage = {
        load: () => storage.load(),
        close: () => storage.close(),
        persist: (written, done) => {
          writes.set(id, (writes.get(id) ?? 0) + 1);
          if (written.compaction !== null) {
            const { meta, data } = written.compaction;
            compactions.push({ labelled: meta.index, reflects: Number(new TextDecoder().decode(data)) });
          }
          storage.persist(written, done);
        },
      };
      let applied = 0;
      /** The last index applied: what a snapshot of this state machine reflects. */
      let lastIndex = 0;
      const host: NodeHost<string> = new NodeHost<string>({
        raftConfig: { ...DEFAULT_RAFT_CONFIG, id },
        bootstrap: { voters: ids, learners: [] },
        persisted: { hardState: EMPTY_HARD_STATE, snapshot: null, entries: [] },
        random: new SeededRandom(ids.indexOf(id) + 1),
        clock,
        transport: {
          send: (messages: readonly Message[]) => {
            for (const message of messages) {
              // Only the KV node sends keepalive forwards; NodeHost alone never does.
              if (message.type === 'forward-keepalives' || message.type === 'forward-keepalives-response') continue;
              queue.schedule(0.5, () => hosts.get(message.to)?.receive(message));
            }
          },
        },
        storage: counted,
        stateMachine: {
          apply: (index, data) => {
            lastIndex = index;
            return `applied ${++applied}: ${new TextDecoder().decode(data)}`;
          },
          snapshot: () => new TextEncoder().encode(String(lastIndex)),
          ...(sliced
            ? {
                snapshotInSlices: function* (): Generator<void, Uint8Array, void> {
                  const captured = lastIndex;
                  for (let slice = 0; slice < 3; slice++) yield;
                  return new TextEncoder().encode(String(captured));
                },
              }
            : {}),
          restore: (data) => {
            lastIndex = Number(new TextDecoder().decode(data));
          },
        },
        tickMs: 10,
        snapshotEveryEntries,
        maxPendingProposals: 1000,
        maxPendingReads: 1000,
      });
      hosts.set(id, host);
    }
    for (const host of hosts.values()) host.start();
    return { queue, hosts, writes, slow, hung, compactions };
  }

  /** Runs events until `done()` or until `untilMs` of virtual time. */
  const runUntilIn = (queue: EventQueue, untilMs: number, done: () => boolean = () => false): void => {
    let more = true;
    while (more && !done()) more = queue.runNext(untilMs);
    if (!done()) queue.advanceTo(untilMs);
  };

  /** Elects a leader and lets the election's writes finish. */
  const elect = (queue: EventQueue, hosts: Map<NodeId, NodeHost<string>>): NodeHost<string> => {
    const leaderOf = (): NodeHost<string> | undefined => [...hosts.values()].find((host) => host.role === 'leader');
    runUntilIn(queue, 5_000, () => leaderOf() !== undefined);
    const leader = leaderOf()!;
    runUntilIn(queue, queue.now + 100);
    return leader;
  };

  it('answers what both followers hold before its own fsync ends, and writes what came meanwhile in one write', () => {
    const { queue, hosts, writes, slow } = cluster();
    const runUntil = (untilMs: number, done?: () => boolean): void => runUntilIn(queue, untilMs, done);
    const leader = elect(queue, hosts);
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
    for (const host of hosts.values()) host.stop();
  });

  it.each([
    ['encoded at once', false],
    ['encoded in slices over several turns', true],
  ])('labels a compaction with the index its snapshot reflects, although later Readies applied more meanwhile (%s)', (_, sliced) => {
    const { queue, hosts, slow, compactions } = cluster(5, sliced);
    const leader = elect(queue, hosts);
    slow.add(leader.id);
    for (let i = 0; i < 60; i++) {
      leader.propose(new TextEncoder().encode(`p${i}`), () => {});
      runUntilIn(queue, queue.now + 3);
    }
    runUntilIn(queue, queue.now + 500);
    expect(compactions.length).toBeGreaterThan(10);
    expect(compactions.filter((c) => c.labelled !== c.reflects)).toEqual([]);
    for (const host of hosts.values()) host.stop();
  });

  it('stops taking Readies when its disk stalls, instead of queueing without bound', () => {
    const { queue, hosts, hung } = cluster();
    const leader = elect(queue, hosts);
    hung.add(leader.id);
    let answered = 0;
    for (let i = 0; i < 2_000; i++) {
      leader.propose(new TextEncoder().encode(`p${i}`), (outcome) => {
        if (outcome.ok) answered++;
      });
      runUntilIn(queue, queue.now + 1);
    }
    // The followers commit without the leader's disk, so it answers for a while, then waits.
    expect(answered).toBeGreaterThan(100);
    expect(answered).toBeLessThan(600);
    for (const host of hosts.values()) host.stop();
  });
});
