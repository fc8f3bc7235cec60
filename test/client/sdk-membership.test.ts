// Membership changes through the SDK (concord.cluster.addMember / promoteMember / removeMember)
// against an in-process 3-node cluster, with a dead endpoint first in the list so every call
// also fails over: typed answers, retries that find the change made, and the refusals as
// ConcordErrors with the contract code and the reason.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Concord, ConcordError, membershipRefusal, type MemberChange } from '../../src/client/index.ts';
import { sleep, useClusterPerTest, type TestCluster, type TestMember } from '../server/cluster-harness.ts';

const DEAD = 'http://127.0.0.1:9'; // discard port: connection refused

async function rejection(promise: Promise<unknown>): Promise<ConcordError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ConcordError);
    return error as ConcordError;
  }
  throw new Error('expected a rejection');
}

const newMember = (member: TestMember, learner?: boolean) => ({
  id: member.id,
  peerAddress: '127.0.0.1:7999',
  clientUrl: member.url,
  ...(learner === undefined ? {} : { learner }),
});

describe('membership through the SDK', () => {
  const clusterOf = useClusterPerTest();
  let cluster: TestCluster;
  let concord: Concord;
  beforeEach(() => {
    cluster = clusterOf();
    concord = new Concord({ endpoints: [DEAD, ...cluster.members.map((member) => member.url)], timeoutMs: 5_000 });
  });
  afterEach(async () => {
    await concord.close();
  });

  async function writeEntries(count: number): Promise<void> {
    for (let start = 0; start < count; start += 100) {
      await Promise.all(Array.from({ length: 100 }, (_, i) => concord.kv.put(`fill/${start + i}`, 'x')));
    }
  }

  it('addMember adds a voter that then serves; asking again answers the same without a change', async () => {
    await concord.kv.put('before', 'x');
    const n4 = await cluster.addNode('n4');
    const added: MemberChange = await concord.cluster.addMember(newMember(n4));
    expect(added.member).toEqual({ id: 'n4', peerAddress: 'mem:n4', clientUrl: n4.url, voter: true });
    expect(added.members.map((member) => member.id).sort()).toEqual(['n1', 'n2', 'n3', 'n4']);
    expect(added.members.every((member) => member.voter)).toBe(true);
    const leader = await cluster.leader();
    expect(leader.node.host.raft.members.voters).toContain('n4');

    // The new member has the data: a client that knows only n4 reads it linearizably.
    const onlyN4 = new Concord({ endpoints: [n4.url] });
    try {
      expect((await onlyN4.kv.get('before'))?.value).toBe('x');
      const status = await onlyN4.cluster.status();
      expect(status.members.find((member) => member.id === 'n4')?.voter).toBe(true);
    } finally {
      await onlyN4.close();
    }

    const indexBefore = leader.node.host.raft.members.voters.length;
    const again = await concord.cluster.addMember(newMember(n4));
    expect(again.member.voter).toBe(true);
    expect(leader.node.host.raft.members.voters).toHaveLength(indexBefore);
  });

  it('learner: true keeps it a learner until promoteMember; a voter promoted answers as it is', async () => {
    const n4 = await cluster.addNode('n4');
    const added = await concord.cluster.addMember(newMember(n4, true));
    expect(added.member).toMatchObject({ id: 'n4', voter: false });
    expect((await concord.cluster.status()).members.find((member) => member.id === 'n4')?.voter).toBe(false);

    const promoted = await concord.cluster.promoteMember('n4');
    expect(promoted.member).toMatchObject({ id: 'n4', voter: true });
    expect(promoted.members.filter((member) => member.voter)).toHaveLength(4);
    const already = await concord.cluster.promoteMember('n2');
    expect(already.member).toMatchObject({ id: 'n2', voter: true });
  });

  it('promoteMember and removeMember of a non-member: not_found with reason not_member', async () => {
    const promote = await rejection(concord.cluster.promoteMember('ghost'));
    expect(promote).toMatchObject({ code: 'not_found', status: 404, retryable: false });
    expect(membershipRefusal(promote)).toBe('not_member');
    const remove = await rejection(concord.cluster.removeMember('ghost'));
    expect(remove.code).toBe('not_found');
  });

  it('removeMember removes the leader itself (another leads, writes go on), then a follower; the last voter stays', async () => {
    const leader = await cluster.leader();
    const left = await concord.cluster.removeMember(leader.id);
    expect(left.members.map((member) => member.id).sort()).toEqual(cluster.members.map((member) => member.id).filter((id) => id !== leader.id).sort());
    const next = await cluster.waitForLeader();
    expect(next.id).not.toBe(leader.id);
    expect(next.node.host.raft.members.voters).not.toContain(leader.id);
    expect((await concord.kv.put('after', 'y')).revision).toBeGreaterThan(0);

    const follower = left.members.find((member) => member.id !== next.id);
    if (follower === undefined) throw new Error('two members expected');
    const one = await concord.cluster.removeMember(follower.id);
    expect(one.members.map((member) => member.id)).toEqual([next.id]);

    // One voter left: removing it would leave nobody to decide.
    const last = await rejection(concord.cluster.removeMember(next.id));
    expect(last).toMatchObject({ code: 'invalid_argument', status: 400 });
    expect(membershipRefusal(last)).toBe('last_voter');
    expect(next.node.host.raft.members.voters).toEqual([next.id]);
  });

  it('a removal that would lose the live quorum is refused with would_lose_quorum; removing the dead one is not', async () => {
    const [down, other] = await cluster.followers();
    if (down === undefined || other === undefined) throw new Error('two followers expected');
    cluster.network.isolated.add(down.id);
    await sleep(700); // several election timeouts: the leader no longer counts it as heard from
    const refused = await rejection(concord.cluster.removeMember(other.id));
    expect(refused).toMatchObject({ code: 'invalid_argument', status: 400 });
    expect(membershipRefusal(refused)).toBe('would_lose_quorum');
    expect((await concord.cluster.removeMember(down.id)).members.map((member) => member.id)).not.toContain(down.id);
  });

  it('a learner that cannot catch up: promoteMember ends at its deadline as unavailable with learner_behind', async () => {
    // More entries than one append carries (maxEntriesPerAppend, 512): a learner with none is behind.
    await writeEntries(600);
    const n4 = await cluster.addNode('n4');
    cluster.network.isolated.add('n4'); // it never receives the log
    await concord.cluster.addMember(newMember(n4, true));
    const started = Date.now();
    const behind = await rejection(concord.cluster.promoteMember('n4', { timeoutMs: 1_500 }));
    expect(Date.now() - started).toBeLessThan(4_000);
    expect(behind).toMatchObject({ code: 'unavailable', status: 503, retryable: true });
    expect(membershipRefusal(behind)).toBe('learner_behind');
    expect((await cluster.leader()).node.host.raft.members.learners).toEqual(['n4']);

    // Once it can hear the leader it catches up, and the same call goes through.
    cluster.network.isolated.delete('n4');
    expect((await concord.cluster.promoteMember('n4')).member.voter).toBe(true);
  });

  it('an AbortSignal stops a waiting change with aborted', async () => {
    await writeEntries(600);
    const n4 = await cluster.addNode('n4');
    cluster.network.isolated.add('n4');
    await concord.cluster.addMember(newMember(n4, true));
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    const started = Date.now();
    const aborted = await rejection(concord.cluster.promoteMember('n4', { signal: controller.signal, timeoutMs: 10_000 }));
    expect(aborted.code).toBe('aborted');
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});
