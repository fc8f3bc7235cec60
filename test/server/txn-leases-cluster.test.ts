// Txn, lease and cluster routes through HTTP on a live 3-node cluster, called on followers so
// that every leader-only step is forwarded.
import { beforeEach, describe, expect, it } from 'vitest';
import { call, sleep, TestCluster, useClusterPerTest } from './cluster-harness.ts';

describe('txn, lease and cluster routes', () => {
  const clusterOf = useClusterPerTest();
  let cluster: TestCluster;
  beforeEach(() => {
    cluster = clusterOf();
  });

  it('txn runs the success branch when the guards hold and the failure branch otherwise', async () => {
    const [follower] = await cluster.followers();
    await call(follower!.url, 'PUT', '/v1/kv/t/a', { json: { value: '1' } });
    const txn = {
      compare: [{ key: 't/a', target: 'value', op: '==', value: '1' }],
      success: [{ put: { key: 't/b', value: '2' } }, { get: { key: 't/a' } }, { range: { prefix: 't/' } }],
      failure: [{ delete: { key: 't/a' } }],
    };
    const first = await call(follower!.url, 'POST', '/v1/txn', { json: txn });
    expect(first.status).toBe(200);
    expect(first.body.succeeded).toBe(true);
    expect(first.body.results[0]).toEqual({ put: { revision: first.body.revision } });
    expect(first.body.results[1].get.kv).toMatchObject({ key: 't/a', value: '1' });
    expect(first.body.results[2].range.items.map((kv: { key: string }) => kv.key)).toEqual(['t/a', 't/b']);

    const changed = { ...txn, compare: [{ key: 't/a', target: 'version', op: '>', value: 5 }] };
    const second = await call(follower!.url, 'POST', '/v1/txn', { json: changed });
    expect(second.body.succeeded).toBe(false);
    expect(second.body.results).toEqual([{ delete: { deleted: 1 } }]);
    expect((await call(follower!.url, 'GET', '/v1/kv/t/a')).status).toBe(404);
  });

  it('txn refuses unknown op shapes and more than 128 ops', async () => {
    const [follower] = await cluster.followers();
    const badOp = await call(follower!.url, 'POST', '/v1/txn', { json: { success: [{ bump: { key: 'x' } }] } });
    expect(badOp.status).toBe(400);
    expect(badOp.body.error.code).toBe('invalid_argument');
    const tooMany = Array.from({ length: 129 }, (_, i) => ({ get: { key: `k${i}` } }));
    const big = await call(follower!.url, 'POST', '/v1/txn', { json: { success: tooMany } });
    expect(big.status).toBe(400);
  });

  it('leases: grant, attach keys, keepalive and read via a follower, revoke deletes the keys', async () => {
    const [follower] = await cluster.followers();
    const granted = await call(follower!.url, 'POST', '/v1/leases', { json: { ttlMs: 5000 } });
    expect(granted.status).toBe(200);
    const id: string = granted.body.id;
    expect(granted.body).toEqual({ id, ttlMs: 5000 });
    await call(follower!.url, 'PUT', '/v1/kv/svc/one', { json: { value: 'x', lease: id } });
    const kept = await call(follower!.url, 'POST', `/v1/leases/${id}/keepalive`);
    expect(kept.status).toBe(200);
    expect(kept.body).toEqual({ id, ttlMs: 5000, remainingMs: 5000 });
    const withJsonHeader = await call(follower!.url, 'POST', `/v1/leases/${id}/keepalive`, { rawBody: '', headers: { 'content-type': 'application/json' } });
    expect(withJsonHeader.status).toBe(200);
    const info = await call(follower!.url, 'GET', `/v1/leases/${id}`);
    expect(info.body.keys).toEqual(['svc/one']);
    expect(info.body.remainingMs).toBeGreaterThan(4000);
    expect(info.body.remainingMs).toBeLessThanOrEqual(5000);
    const list = await call(follower!.url, 'GET', '/v1/leases');
    expect(list.body.leases.map((lease: { id: string }) => lease.id)).toEqual([id]);
    const revoked = await call(follower!.url, 'DELETE', `/v1/leases/${id}`);
    expect(revoked.status).toBe(200);
    expect((await call(follower!.url, 'GET', '/v1/kv/svc/one')).status).toBe(404);
    const gone = await call(follower!.url, 'POST', `/v1/leases/${id}/keepalive`);
    expect(gone.status).toBe(404);
    expect(gone.body.error.code).toBe('not_found');
    expect((await call(follower!.url, 'DELETE', `/v1/leases/${id}`)).status).toBe(404);
    // The follower sent its keepalives to the leader over the peer connection, not as forwarded
    // HTTP requests: the leader answered none over HTTP.
    const leader = await cluster.leader();
    await call(leader.url, 'GET', `/v1/leases/${id}`); // counted under its pattern, as a keepalive would be
    const leaderMetrics = (await call(leader.url, 'GET', '/metrics')).text;
    expect(leaderMetrics).toMatch(/^concord_http_requests_total\{method="GET",route="\/v1\/leases\/:id",status="404"\} 1$/m);
    expect(leaderMetrics).not.toMatch(/^concord_http_requests_total\{method="POST",route="\/v1\/leases\/:id\/keepalive"/m);
  });

  it('a lease expires on its own after ttlMs without keepalives, deleting its keys', async () => {
    const [follower] = await cluster.followers();
    const granted = await call(follower!.url, 'POST', '/v1/leases', { json: { ttlMs: 500 } });
    await call(follower!.url, 'PUT', '/v1/kv/eph', { json: { value: 'x', lease: granted.body.id } });
    expect((await call(follower!.url, 'GET', '/v1/kv/eph')).status).toBe(200);
    const deadline = Date.now() + 5000;
    let status = 200;
    while (status === 200 && Date.now() < deadline) {
      await sleep(100);
      status = (await call(follower!.url, 'GET', '/v1/kv/eph')).status;
    }
    expect(status).toBe(404);
  });

  it('a lease ttl below 500 ms or a put on an unknown lease is refused', async () => {
    const [follower] = await cluster.followers();
    const short = await call(follower!.url, 'POST', '/v1/leases', { json: { ttlMs: 100 } });
    expect(short.status).toBe(400);
    const unknown = await call(follower!.url, 'PUT', '/v1/kv/k', { json: { value: 'x', lease: 'nope' } });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('not_found');
  });

  it('GET /v1/cluster describes the cluster from any node', async () => {
    const leader = await cluster.leader();
    const [follower] = await cluster.followers();
    const answer = await call(follower!.url, 'GET', '/v1/cluster');
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ clusterId: 'test-cluster', nodeId: follower!.id, leaderId: leader.id });
    expect(answer.body.term).toBeGreaterThan(0);
    expect(answer.body.members).toHaveLength(3);
    expect(answer.body.members[0]).toEqual({ id: 'n1', peerAddress: 'mem:n1', clientUrl: cluster.member('n1').url, voter: true });
  });

  it('transfer-leader via a follower moves leadership to the named node', async () => {
    const leader = await cluster.leader();
    const [follower, other] = await cluster.followers();
    const answer = await call(follower!.url, 'POST', '/v1/cluster/transfer-leader', { json: { to: other!.id } });
    expect(answer.status).toBe(200);
    expect(answer.body.leaderId).toBe(other!.id);
    expect((await cluster.waitForLeader()).id).toBe(other!.id);
    expect(other!.id).not.toBe(leader.id);
    const unknown = await call(other!.url, 'POST', '/v1/cluster/transfer-leader', { json: { to: 'n9' } });
    expect(unknown.status).toBe(404);
  });
});
