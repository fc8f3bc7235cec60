// `concord members` and `concord transfer-leader` as users run them: `node bin/concord.js ...`
// in a child process against an in-process 3-node cluster, checking the output (table and
// --json), that leadership really moves, and the exit codes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster } from '../server/cluster-harness.ts';
import { runConcord, type Run } from './run-concord.ts';

let cluster: TestCluster;
let endpoints: string;

function concord(args: readonly string[]): Promise<Run> {
  return runConcord(endpoints, args);
}

beforeAll(async () => {
  cluster = await TestCluster.start();
  await cluster.waitForLeader();
  endpoints = cluster.members.map((member) => member.url).join(',');
});

afterAll(async () => {
  await cluster?.stop();
});

describe('concord members and transfer-leader', () => {
  it('members prints every member with the leader marked; --json marks it too', async () => {
    const leader = await cluster.waitForLeader();
    const [plain, ls, json] = await Promise.all([concord(['members']), concord(['members', 'ls']), concord(['members', '--json'])]);
    expect(plain).toMatchObject({ code: 0, stderr: '' });
    expect(ls.stdout).toBe(plain.stdout);
    const lines = plain.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID\s+ROLE\s+VOTER\s+CLIENT URL\s+PEER ADDRESS$/);
    for (const member of cluster.members) {
      const role = member.id === leader.id ? 'leader' : 'follower';
      expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^${member.id}\\s+${role}\\s+yes\\s+${member.url}\\s+mem:${member.id}$`)));
    }
    expect(lines.filter((line) => /\sleader\s/.test(line))).toHaveLength(1);
    expect(plain.stdout).toMatch(new RegExp(`leader ${leader.id}, term \\d+`));

    expect(json.code).toBe(0);
    const view = JSON.parse(json.stdout) as { clusterId: string; leaderId: string; term: number; members: { id: string; voter: boolean; leader: boolean; clientUrl: string }[] };
    expect(view).toMatchObject({ clusterId: 'test-cluster', leaderId: leader.id });
    expect(view.members.map((member) => member.id).sort()).toEqual(['n1', 'n2', 'n3']);
    expect(view.members.filter((member) => member.leader).map((member) => member.id)).toEqual([leader.id]);
  });

  it('transfer-leader --to ID moves leadership there, and members then marks the new leader', async () => {
    const before = await cluster.waitForLeader();
    const target = cluster.members.find((member) => member.id !== before.id)!;
    const moved = await concord(['transfer-leader', '--to', target.id, '--json']);
    expect(moved).toMatchObject({ code: 0, stderr: '' });
    const answer = JSON.parse(moved.stdout) as { leaderId: string; term: number };
    expect(answer.leaderId).toBe(target.id);
    expect((await cluster.waitForLeader()).id).toBe(target.id);
    expect(target.node.host.raft.currentTerm).toBeGreaterThanOrEqual(answer.term);

    const members = JSON.parse((await concord(['members', '--json'])).stdout) as { leaderId: string };
    expect(members.leaderId).toBe(target.id);

    // Without --to the leader picks another voter; the table form names it.
    const again = await concord(['transfer-leader']);
    expect(again.code).toBe(0);
    const [, newLeader] = /^leader (\S+), term \d+$/m.exec(again.stdout) ?? [];
    expect(newLeader).toBeDefined();
    expect(newLeader).not.toBe(target.id);
    expect((await cluster.waitForLeader()).id).toBe(newLeader);
  });

  it('transfer-leader to a non-member exits 3; bad usage exits 2; --help exits 0', async () => {
    const leader = await cluster.waitForLeader();
    const missing = await concord(['transfer-leader', '--to', 'n9']);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toMatch(/not_found/);
    expect((await cluster.waitForLeader()).id).toBe(leader.id);
    const [extra, unknownFlag, help, membersHelp] = await Promise.all([
      concord(['transfer-leader', 'n2']),
      concord(['members', '--leader-only']),
      concord(['transfer-leader', '--help']),
      concord(['members', '--help']),
    ]);
    expect(extra.code).toBe(2);
    expect(unknownFlag.code).toBe(2);
    expect(help).toMatchObject({ code: 0 });
    expect(help.stdout).toMatch(/usage: concord transfer-leader \[--to ID\]/);
    expect(membersHelp.code).toBe(0);
    expect(membersHelp.stdout).toMatch(/concord members/);
  });
});
