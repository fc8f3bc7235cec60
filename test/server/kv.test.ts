// The key-value routes through HTTP on a live 3-node cluster: writes via followers are forwarded
// to the leader, linearizable reads on any node see them, conditions and idempotency hold.
import { beforeEach, describe, expect, it } from 'vitest';
import { call, TestCluster, useClusterPerTest } from './cluster-harness.ts';

describe('key-value routes', () => {
  const clusterOf = useClusterPerTest();
  let cluster: TestCluster;
  beforeEach(() => {
    cluster = clusterOf();
  });

  it('put on a follower is forwarded; a linearizable get on the other follower sees it', async () => {
    const [first, second] = await cluster.followers();
    const put = await call(first!.url, 'PUT', '/v1/kv/app/config', { json: { value: 'v1' } });
    expect(put.status).toBe(200);
    expect(put.body.revision).toBeGreaterThan(0);
    expect(put.body.prev).toBeUndefined();
    expect(put.headers['x-concord-node']).toBe(first!.id);
    expect(put.headers['x-concord-revision']).toBe(String(put.body.revision));

    const get = await call(second!.url, 'GET', '/v1/kv/app/config');
    expect(get.status).toBe(200);
    expect(get.body).toEqual({ key: 'app/config', value: 'v1', createRevision: put.body.revision, modRevision: put.body.revision, version: 1 });
    expect(Number(get.headers['x-concord-revision'])).toBeGreaterThanOrEqual(put.body.revision);

    const again = await call(second!.url, 'PUT', '/v1/kv/app/config', { json: { value: 'v2' } });
    expect(again.body.prev).toMatchObject({ key: 'app/config', value: 'v1', version: 1 });
  });

  it('keys may contain slashes and escaped characters', async () => {
    const leader = await cluster.leader();
    const key = 'a/b c/%/ü';
    const put = await call(leader.url, 'PUT', `/v1/kv/${key.split('/').map(encodeURIComponent).join('/')}`, { json: { value: 'x' } });
    expect(put.status).toBe(200);
    const list = await call(leader.url, 'GET', '/v1/kv?prefix=a%2F');
    expect(list.body.items.map((item: { key: string }) => item.key)).toEqual([key]);
  });

  it('get of an absent key is 404 not_found', async () => {
    const [follower] = await cluster.followers();
    const answer = await call(follower!.url, 'GET', '/v1/kv/missing?consistency=serializable');
    expect(answer.status).toBe(404);
    expect(answer.body.error.code).toBe('not_found');
  });

  it('range lists by prefix, sorted, with limit and more', async () => {
    const [follower] = await cluster.followers();
    for (const key of ['p/c', 'p/a', 'p/b', 'q/a']) {
      expect((await call(follower!.url, 'PUT', `/v1/kv/${key}`, { json: { value: key } })).status).toBe(200);
    }
    const all = await call(follower!.url, 'GET', '/v1/kv?prefix=p/');
    expect(all.body.items.map((item: { key: string }) => item.key)).toEqual(['p/a', 'p/b', 'p/c']);
    expect(all.body.more).toBe(false);
    const limited = await call(follower!.url, 'GET', '/v1/kv?prefix=p/&limit=2');
    expect(limited.body.items).toHaveLength(2);
    expect(limited.body.more).toBe(true);
    const everything = await call(follower!.url, 'GET', '/v1/kv');
    expect(everything.body.items).toHaveLength(4);
    expect(everything.body.revision).toBeGreaterThanOrEqual(4);
  });

  it('delete and prefix delete report what they deleted', async () => {
    const [follower] = await cluster.followers();
    for (const key of ['d/1', 'd/2', 'd/3']) await call(follower!.url, 'PUT', `/v1/kv/${key}`, { json: { value: 'x' } });
    const one = await call(follower!.url, 'DELETE', '/v1/kv/d/1');
    expect(one.status).toBe(200);
    expect(one.body.deleted).toBe(1);
    const none = await call(follower!.url, 'DELETE', '/v1/kv/d/1');
    expect(none.body.deleted).toBe(0);
    const rest = await call(follower!.url, 'DELETE', '/v1/kv?prefix=d/');
    expect(rest.body.deleted).toBe(2);
    expect((await call(follower!.url, 'GET', '/v1/kv?prefix=d/')).body.items).toEqual([]);
    const emptyPrefix = await call(follower!.url, 'DELETE', '/v1/kv?prefix=');
    expect(emptyPrefix.status).toBe(400);
    expect(emptyPrefix.body.error.code).toBe('invalid_argument');
  });

  it('ifRevision guards put and delete; a failed guard is 409 compare_failed with current', async () => {
    const [follower] = await cluster.followers();
    const created = await call(follower!.url, 'PUT', '/v1/kv/cas', { json: { value: 'a', ifRevision: 0 } });
    expect(created.status).toBe(200);
    const again = await call(follower!.url, 'PUT', '/v1/kv/cas', { json: { value: 'b', ifRevision: 0 } });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('compare_failed');
    expect(again.body.error.current).toMatchObject({ key: 'cas', value: 'a', modRevision: created.body.revision });
    const swapped = await call(follower!.url, 'PUT', '/v1/kv/cas', { json: { value: 'b', ifRevision: created.body.revision } });
    expect(swapped.status).toBe(200);
    const staleDelete = await call(follower!.url, 'DELETE', `/v1/kv/cas?ifRevision=${created.body.revision}`);
    expect(staleDelete.status).toBe(409);
    const goodDelete = await call(follower!.url, 'DELETE', `/v1/kv/cas?ifRevision=${swapped.body.revision}`);
    expect(goodDelete.body.deleted).toBe(1);
  });

  it('a retry with the same idempotency-key applies once and returns the first outcome', async () => {
    const [follower] = await cluster.followers();
    const leader = await cluster.leader();
    const headers = { 'idempotency-key': 'order-42' };
    const first = await call(follower!.url, 'PUT', '/v1/kv/counter', { json: { value: '1' }, headers });
    const viaFollower = await call(follower!.url, 'PUT', '/v1/kv/counter', { json: { value: '1' }, headers });
    const viaLeader = await call(leader.url, 'PUT', '/v1/kv/counter', { json: { value: '1' }, headers });
    expect(viaFollower.body).toEqual(first.body);
    expect(viaLeader.body).toEqual(first.body);
    const get = await call(leader.url, 'GET', '/v1/kv/counter');
    expect(get.body.version).toBe(1);
    expect(get.body.modRevision).toBe(first.body.revision);
  });

  it('concurrent writes through both followers all apply, each at its own revision', async () => {
    const followers = await cluster.followers();
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, i) => call(followers[i % 2]!.url, 'PUT', `/v1/kv/many/${String(i).padStart(2, '0')}`, { json: { value: `${i}` } })),
    );
    expect(answers.map((answer) => answer.status)).toEqual(Array(30).fill(200));
    expect(new Set(answers.map((answer) => answer.body.revision)).size).toBe(30);
    const list = await call(followers[1]!.url, 'GET', '/v1/kv?prefix=many/');
    expect(list.body.items).toHaveLength(30);
  });

  it('a write with no leader reachable is 503 no_leader with retry-after, within its timeoutMs', async () => {
    const [follower] = await cluster.followers();
    cluster.network.isolated.add(follower!.id);
    // Wait until the isolated follower has given up on its leader.
    const deadline = Date.now() + 5000;
    while (follower!.node.host.raft.leader !== '' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    // Its member table still lists the others; with no leader known it waits and gives up.
    const started = Date.now();
    const answer = await call(follower!.url, 'PUT', '/v1/kv/x', { json: { value: 'y', timeoutMs: 300 } });
    expect(Date.now() - started).toBeLessThan(3000);
    expect(answer.status).toBe(503);
    expect(answer.body.error.code).toBe('no_leader');
    expect(answer.headers['retry-after']).toBeDefined();
  });
});
