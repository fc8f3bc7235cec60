/**
 * Snapshots (Raft §7): a follower behind the leader's compacted log receives the leader's
 * snapshot in chunks of snapshotChunkBytes, installs it and continues from its index; a lost
 * chunk is sent again.
 */
import { describe, expect, it } from 'vitest';
import type { Message, SnapshotChunk } from '../../src/raft/messages.ts';
import { Network } from './harness.ts';

const CHUNK = 16;

const chunksTo = (messages: readonly Message[], to: string): SnapshotChunk[] =>
  messages.filter((m): m is SnapshotChunk => m.type === 'snapshot' && m.to === to);

/** A cluster whose leader a compacted past everything c holds (c was cut off meanwhile). */
function leaderCompactedPastC(): Network {
  const net = new Network(['a', 'b', 'c'], { config: { snapshotChunkBytes: CHUNK } });
  net.elect('a');
  net.isolate('c');
  for (let i = 0; i < 10; i++) net.propose('a', `value-${i}`);
  net.stabilize();
  net.compact('a');
  net.stabilize();
  expect(net.node('a').snapshotIndex).toBe(11);
  return net;
}

describe('snapshots', () => {
  it('a follower behind the compacted log gets the snapshot in chunks, installs it and catches up', () => {
    const net = leaderCompactedPastC();
    const snapshotBytes = new TextEncoder().encode(JSON.stringify(net.member('a').state)).byteLength;
    net.heal();
    const mark = net.sent.length;
    net.tickAll(3);

    const chunks = chunksTo(net.sentSince(mark), 'c');
    expect(chunks.length).toBe(Math.ceil(snapshotBytes / CHUNK));
    expect(chunks.map((c) => c.offset)).toEqual(chunks.map((_, i) => i * CHUNK));
    for (const chunk of chunks) {
      expect(chunk.totalBytes).toBe(snapshotBytes);
      expect(chunk.data.byteLength).toBeLessThanOrEqual(CHUNK);
      expect(chunk.meta).toMatchObject({ index: 11, term: net.node('a').currentTerm });
    }
    const c = net.node('c');
    expect(net.member('c').events).toContain('snapshot-installed');
    expect(c.snapshotIndex).toBe(11);
    expect(net.member('c').disk.load().snapshot?.meta.index).toBe(11);
    expect(net.member('c').state).toEqual(net.member('a').state);

    // Replication continues normally after the snapshot's index.
    net.propose('a', 'after');
    net.stabilize();
    expect(net.member('c').state.at(-1)).toBe('after');
    // Index 1 was applied before the partition; 2-11 came only through the snapshot.
    expect(net.member('c').applied.map((e) => e.index)).toEqual([1, 12]);
  });

  it('a lost chunk is sent again and the transfer completes', () => {
    const net = leaderCompactedPastC();
    net.heal();
    let lost = false;
    net.filter = (m: Message) => {
      if (m.type !== 'snapshot' || m.offset !== CHUNK || lost) return true;
      lost = true;
      return false;
    };
    const mark = net.sent.length;
    net.tickAll(10);
    expect(lost).toBe(true);
    const offsets = chunksTo(net.sentSince(mark), 'c').map((c) => c.offset);
    expect(offsets.filter((o) => o === CHUNK)).toHaveLength(2);
    expect(net.node('c').snapshotIndex).toBe(11);
    expect(net.member('c').state).toEqual(net.member('a').state);
  });

  it('duplicated answers do not multiply the chunks in flight (a storm on a duplicating network)', () => {
    const net = leaderCompactedPastC();
    const snapshotBytes = new TextEncoder().encode(JSON.stringify(net.member('a').state)).byteLength;
    net.heal();
    net.filter = (m: Message) => {
      // Deliver every snapshot answer twice: the copy first, then the original.
      if (m.type === 'snapshot-response') net.node(m.to).step(m);
      return true;
    };
    const mark = net.sent.length;
    net.tickAll(3);
    const offsets = chunksTo(net.sentSince(mark), 'c').map((c) => c.offset);
    // One chunk per offset, as without duplication: each answer that moves the transfer sends
    // the next chunk once; its duplicate sends nothing.
    expect(offsets).toEqual(Array.from({ length: Math.ceil(snapshotBytes / CHUNK) }, (_, i) => i * CHUNK));
    expect(net.node('c').snapshotIndex).toBe(11);
  });

  it('a snapshot installed survives a restart', () => {
    const net = leaderCompactedPastC();
    net.heal();
    net.tickAll(3);
    net.crash('c');
    net.restart('c');
    expect(net.node('c').snapshotIndex).toBe(11);
    expect(net.member('c').state).toEqual(net.member('a').state);
    net.tickAll(2);
    expect(net.node('c').commitIndex).toBe(net.node('a').commitIndex);
  });

  it('a follower that holds the log is sent entries, not the snapshot', () => {
    const net = new Network(['a', 'b', 'c'], { config: { snapshotChunkBytes: CHUNK } });
    net.elect('a');
    for (let i = 0; i < 5; i++) net.propose('a', `v${i}`);
    net.stabilize();
    net.compact('a');
    net.propose('a', 'next');
    net.tickAll(3);
    expect(net.sent.some((m) => m.type === 'snapshot')).toBe(false);
    expect(net.member('c').state).toEqual(net.member('a').state);
  });
});
