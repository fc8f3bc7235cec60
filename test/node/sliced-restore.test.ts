/**
 * A follower restoring its leader's snapshot a slice per turn (StateMachine.restoreInSlices):
 * it keeps writing and acknowledging appends meanwhile, applies nothing until the restore is
 * done, then applies every entry after the snapshot once and in order; reads wait for that too.
 */
import { describe, expect, it } from 'vitest';
import { virtualCluster } from './virtual-cluster.ts';

describe('a follower restoring a snapshot in slices', () => {
  it('acknowledges appends while it restores, then applies what came meanwhile in order; reads wait for it', () => {
    // 40 slices of 1 ms each: a restore that lasts about 40 ms of virtual time.
    const cluster = virtualCluster({ snapshotEveryEntries: 5, restoreSlices: 40, sliceDelayMs: 1 });
    const { queue, hosts, cut, machineEvents, runUntil } = cluster;
    const leader = cluster.elect();
    const [lagging, other] = [...hosts.values()].filter((host) => host !== leader);
    const events = machineEvents.get(lagging!.id)!;
    const restored = (): boolean => events.some((event) => event.startsWith('restore'));

    // The lagging follower misses 30 entries, which the others compact away.
    cut.add(lagging!.id);
    for (let i = 0; i < 30; i++) {
      leader.propose(new TextEncoder().encode(`early ${i}`), () => {});
      runUntil(queue.now + 2);
    }
    runUntil(queue.now + 50);
    expect(leader.raft.snapshotIndex).toBeGreaterThan(20);
    const appliedBeforeCut = events.length;

    // It comes back as the other follower goes: nothing commits without it from now on.
    other!.stop();
    cut.delete(lagging!.id);
    const answers: { ok: boolean; duringRestore: boolean }[] = [];
    let read: { ok: boolean; afterRestore: boolean } | undefined;
    let readIssued = false;
    for (let i = 0; i < 40; i++) {
      leader.propose(new TextEncoder().encode(`late ${i}`), (outcome) => {
        answers.push({ ok: outcome.ok, duringRestore: !restored() });
        if (!readIssued && !restored()) {
          readIssued = true;
          lagging!.read((result) => (read = { ok: result.ok, afterRestore: restored() }));
        }
      });
      runUntil(queue.now + 2);
    }
    runUntil(queue.now + 200, () => answers.length === 40 && restored());
    runUntil(queue.now + 50); // the follower hears the last commit index

    expect(answers.every((answer) => answer.ok)).toBe(true);
    // Only the restoring follower could make a quorum with the leader: it acknowledged appends
    // while its state machine was still being restored.
    expect(answers.filter((answer) => answer.duringRestore).length).toBeGreaterThan(5);
    expect(read).toEqual({ ok: true, afterRestore: true });

    // One restore, then every later entry applied once, in order, through the leader's last.
    const after = events.slice(appliedBeforeCut);
    expect(after[0]).toMatch(/^restore \d+$/);
    const snapshotIndex = Number(after[0]!.split(' ')[1]);
    const applied = after.slice(1).map((event) => Number(event.replace('apply ', '')));
    expect(applied).toEqual(Array.from({ length: applied.length }, (_, i) => snapshotIndex + 1 + i));
    expect(applied.at(-1)).toBe(leader.raft.commitIndex);
    cluster.stop();
  });
});
