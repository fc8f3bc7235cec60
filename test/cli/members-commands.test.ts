// `concord members add|promote|remove` as users run them: `node bin/concord.js ...` in a child
// process against an in-process cluster (one for the file; the tests run in order and each
// leaves the cluster as the next expects), checking the tables, --json, that the configuration
// really changed, and the exit codes (3 not a member, 2 usage, 4 refused by the cluster's state).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep, TestCluster, type TestMember } from '../server/cluster-harness.ts';
import { runConcord, type Run } from './run-concord.ts';

let cluster: TestCluster;
let endpoints: string;

function concord(args: readonly string[]): Promise<Run> {
  return runConcord(endpoints, args);
}

interface Member {
  id: string;
  peerAddress: string;
  clientUrl: string;
  voter: boolean;
}

/**
 * The leader, as its own role says (the harness's waitForLeader wants every member to agree, but
 * a removed node that never heard of its removal follows nobody until it is stopped).
 */
async function leader(): Promise<TestMember> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const leaders = cluster.members.filter((member) => member.node.host.role === 'leader').sort((a, b) => b.node.host.raft.currentTerm - a.node.host.raft.currentTerm);
    if (leaders[0] !== undefined) return leaders[0];
    if (Date.now() > deadline) throw new Error('no leader');
    await sleep(10);
  }
}

async function voters(): Promise<string[]> {
  return [...(await leader()).node.host.raft.members.voters].sort();
}

beforeAll(async () => {
  cluster = await TestCluster.start();
  await cluster.waitForLeader();
  endpoints = cluster.members.map((member) => member.url).join(',');
});

afterAll(async () => {
  await cluster?.stop();
});

describe('concord members add, promote and remove', () => {
  it('add ID --peer --client-url adds a voter and prints it with the member table', async () => {
    const n4 = await cluster.addNode('n4');
    const added = await concord(['members', 'add', 'n4', '--peer', '127.0.0.1:7999', '--client-url', n4.url]);
    expect(added).toMatchObject({ code: 0, stderr: '' });
    const lines = added.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('n4 added: voter');
    expect(lines[1]).toMatch(/^ID\s+ROLE\s+CLIENT URL\s+PEER ADDRESS$/);
    expect(lines.slice(2)).toHaveLength(4);
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^n4\\s+voter\\s+${n4.url}\\s+mem:n4$`)));
    expect(await voters()).toEqual(['n1', 'n2', 'n3', 'n4']);

    // The same request again is done already: exit 0, no fifth voter.
    const again = await concord(['members', 'add', 'n4', '--peer', '127.0.0.1:7999', '--client-url', n4.url, '--json']);
    expect(again.code).toBe(0);
    expect((JSON.parse(again.stdout) as { member: Member }).member).toMatchObject({ id: 'n4', voter: true });
    expect(await voters()).toHaveLength(4);
  });

  it('add --learner keeps it a learner; promote makes it a voter; remove takes it out; --json throughout', async () => {
    const n5 = await cluster.addNode('n5');
    const added = await concord(['members', 'add', 'n5', '--peer', '127.0.0.1:7998', '--learner', '--json']);
    expect(added).toMatchObject({ code: 0, stderr: '' });
    const addAnswer = JSON.parse(added.stdout) as { member: Member; members: Member[] };
    expect(addAnswer.member).toMatchObject({ id: 'n5', voter: false });
    expect(addAnswer.members.map((member) => member.id).sort()).toEqual(['n1', 'n2', 'n3', 'n4', 'n5']);
    expect((await leader()).node.host.raft.members.learners).toEqual(['n5']);
    expect(n5.node.host.raft.members.learners).toContain('n5');

    const promoted = await concord(['members', 'promote', 'n5']);
    expect(promoted).toMatchObject({ code: 0, stderr: '' });
    expect(promoted.stdout.split('\n')[0]).toBe('n5 promoted: voter');
    expect(await voters()).toEqual(['n1', 'n2', 'n3', 'n4', 'n5']);

    const removed = await concord(['members', 'remove', 'n5', '--json']);
    expect(removed).toMatchObject({ code: 0, stderr: '' });
    expect((JSON.parse(removed.stdout) as { members: Member[] }).members.map((member) => member.id).sort()).toEqual(['n1', 'n2', 'n3', 'n4']);
    expect(await voters()).toEqual(['n1', 'n2', 'n3', 'n4']);
  });

  it('exits 3 for a member that is not there, 2 for bad arguments (nothing changes)', async () => {
    const [promoteGhost, removeGhost, removeGhostJson, noPeer, badPeer, badId, badUrl, noId, help] = await Promise.all([
      concord(['members', 'promote', 'ghost']),
      concord(['members', 'remove', 'ghost']),
      concord(['members', 'remove', 'ghost', '--json']),
      concord(['members', 'add', 'n6']),
      concord(['members', 'add', 'n6', '--peer', 'no-port']),
      concord(['members', 'add', 'bad id!', '--peer', '127.0.0.1:1']),
      concord(['members', 'add', 'n6', '--peer', '127.0.0.1:1', '--client-url', 'ftp://x']),
      concord(['members', 'remove']),
      concord(['members', 'add', '--help']),
    ]);
    expect(promoteGhost.code).toBe(3);
    expect(promoteGhost.stderr).toMatch(/not_found/);
    expect(promoteGhost.stderr).toMatch(/not_member/);
    expect(removeGhost.code).toBe(3);
    expect(JSON.parse(removeGhostJson.stderr)).toMatchObject({ error: { code: 'not_found', member: 'ghost' } });
    expect(noPeer.code).toBe(2);
    expect(noPeer.stderr).toMatch(/--peer HOST:PORT is required/);
    expect(badPeer.code).toBe(2);
    expect(badPeer.stderr).toMatch(/host:port/);
    expect(badId.code).toBe(2);
    expect(badUrl.code).toBe(2);
    expect(badUrl.stderr).toMatch(/--client-url/);
    expect(noId.code).toBe(2);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/usage: concord members add ID --peer HOST:PORT/);
    expect(await voters()).toEqual(['n1', 'n2', 'n3', 'n4']);
    expect((await leader()).node.host.raft.members.learners).toEqual([]);
  });

  it('exits 4 with the reason when a removal would lose the live quorum; removing the dead member works', async () => {
    expect((await concord(['members', 'remove', 'n4'])).code).toBe(0);
    const current = await leader();
    const [down, other] = ['n1', 'n2', 'n3'].filter((id) => id !== current.id);
    if (down === undefined || other === undefined) throw new Error('two followers expected');
    cluster.network.isolated.add(down);
    await sleep(700); // several election timeouts: the leader no longer counts it as heard from

    const [refused, refusedJson] = await Promise.all([concord(['members', 'remove', other]), concord(['members', 'remove', other, '--json'])]);
    expect(refused.code).toBe(4);
    expect(refused.stderr).toMatch(/would_lose_quorum/);
    expect(refusedJson.code).toBe(4);
    expect(JSON.parse(refusedJson.stderr)).toMatchObject({ error: { code: 'invalid_argument', reason: 'would_lose_quorum', member: other } });
    expect((await leader()).node.host.raft.members.voters).toContain(other);

    const replaced = await concord(['members', 'remove', down]);
    expect(replaced.code).toBe(0);
    expect(replaced.stdout.split('\n')[0]).toBe(`${down} removed`);
    expect(await voters()).toEqual([current.id, other].sort());
  });
});
