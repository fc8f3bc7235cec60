// Health, readiness and metrics of a live 3-node cluster, through HTTP.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { call, TestCluster } from './cluster-harness.ts';

describe('operations routes', () => {
  let cluster: TestCluster;
  beforeEach(async () => {
    cluster = await TestCluster.start();
  });
  afterEach(async () => {
    await cluster.stop();
  });

  it('/health answers 200 with the node id on every node', async () => {
    for (const member of cluster.members) {
      const answer = await call(member.url, 'GET', '/health');
      expect(answer.status).toBe(200);
      expect(answer.body).toEqual({ status: 'ok', nodeId: member.id });
      expect(answer.headers['x-concord-node']).toBe(member.id);
    }
  });

  it('/ready is 200 once a leader is known, with x-concord-leader', async () => {
    const leader = await cluster.waitForLeader();
    for (const member of cluster.members) {
      let answer = await call(member.url, 'GET', '/ready');
      for (let i = 0; i < 100 && answer.status !== 200; i++) answer = await call(member.url, 'GET', '/ready');
      expect(answer.status).toBe(200);
      expect(answer.body.leaderId).toBe(leader.id);
      expect(answer.headers['x-concord-leader']).toBe(leader.id);
    }
  });

  it('/ready is 503 in the contract shape with retry-after when no leader is known', async () => {
    await cluster.waitForLeader();
    const lonely = cluster.members[0]!;
    for (const member of cluster.members) cluster.network.isolated.add(member.id);
    // With check-quorum, the leader steps down and nobody can win an election.
    const deadline = Date.now() + 5000;
    let answer = await call(lonely.url, 'GET', '/ready');
    while (answer.status === 200 && Date.now() < deadline) answer = await call(lonely.url, 'GET', '/ready');
    expect(answer.status).toBe(503);
    expect(answer.body.error.code).toBe('no_leader');
    expect(answer.headers['retry-after']).toBeDefined();
  });
});
