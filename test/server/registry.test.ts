// The service registry over HTTP on a live 3-node cluster: registration through one node and
// discovery through another, heartbeats (keepalive vs. status write), blocking queries, the
// SSE watch, expiry, and the contract's errors.
import { beforeEach, describe, expect, it } from 'vitest';
import { call, sleep, TestCluster, useClusterPerTest } from './cluster-harness.ts';
import { SseStream } from './sse-client.ts';

interface Node {
  readonly url: string;
}

async function register(node: Node, service: string, id: string, body: Record<string, unknown> = {}) {
  return call(node.url, 'PUT', `/v1/services/${service}/instances/${id}`, { json: { address: '10.0.0.1', port: 8080, ttlMs: 5000, ...body } });
}

async function openWatchStreams(node: Node): Promise<number> {
  const metrics = await call(node.url, 'GET', '/metrics');
  const line = metrics.text.split('\n').find((text) => text.startsWith('concord_watch_streams'));
  return Number(line?.split(' ')[1]);
}

describe('service registry routes', () => {
  const clusterOf = useClusterPerTest();
  let cluster: TestCluster;
  let a: Node;
  let b: Node;
  beforeEach(async () => {
    cluster = clusterOf();
    const followers = await cluster.followers();
    a = followers[0]!;
    b = followers[1]!;
  });

  it('registers through one node and discovers through another, with filters and counts', async () => {
    const first = await register(a, 'web', 'i1', { tags: ['eu', 'v2'], meta: { zone: 'b' } });
    expect(first.status).toBe(200);
    expect(first.body).toEqual({ service: 'web', id: 'i1', lease: expect.any(String), revision: expect.any(Number) });
    await register(a, 'web', 'i2', { tags: ['us'] });
    await register(a, 'db', 'p1', { port: 5432 });
    const found = await call(b.url, 'GET', '/v1/services/web');
    expect(found.status).toBe(200);
    expect(found.body.instances).toEqual([
      { id: 'i1', address: '10.0.0.1', port: 8080, tags: ['eu', 'v2'], meta: { zone: 'b' }, status: 'passing', lease: first.body.lease, modRevision: first.body.revision },
      expect.objectContaining({ id: 'i2', tags: ['us'] }),
    ]);
    expect(found.headers['x-concord-index']).toBe(String(found.body.revision));
    const tagged = await call(b.url, 'GET', '/v1/services/web?tag=eu');
    expect(tagged.body.instances.map((instance: { id: string }) => instance.id)).toEqual(['i1']);
    const services = await call((await cluster.leader()).url, 'GET', '/v1/services');
    expect(services.body).toEqual({
      services: [
        { name: 'db', instances: 1, passing: 1 },
        { name: 'web', instances: 2, passing: 2 },
      ],
    });
    // Registry records are not user keys.
    expect((await call(b.url, 'GET', '/v1/kv?prefix=')).body.items).toEqual([]);
  });

  it('a plain heartbeat only renews the lease; a status change is a write; an unknown instance is 404', async () => {
    await register(a, 'web', 'i1', { ttlMs: 2000 });
    const before = await call(b.url, 'GET', '/v1/services/web');
    const plain = await call(b.url, 'POST', '/v1/services/web/instances/i1/heartbeat');
    expect(plain.status).toBe(200);
    expect(plain.body).toEqual({ remainingMs: 2000 });
    const same = await call(b.url, 'POST', '/v1/services/web/instances/i1/heartbeat', { json: { status: 'passing' } });
    expect(same.status).toBe(200);
    expect((await call(b.url, 'GET', '/v1/services/web')).body.revision).toBe(before.body.revision);
    // Both went to the leader over the peer connection, not as forwarded HTTP requests.
    const leader = await cluster.leader();
    await call(leader.url, 'GET', '/v1/services/web'); // counted under its pattern, as a heartbeat would be
    const leaderMetrics = (await call(leader.url, 'GET', '/metrics')).text;
    expect(leaderMetrics).toMatch(/^concord_http_requests_total\{method="GET",route="\/v1\/services\/:service",status="200"\} 1$/m);
    expect(leaderMetrics).not.toMatch(/^concord_http_requests_total\{method="POST",route="\/v1\/services\/:service\/instances\/:id\/heartbeat"/m);

    const changed = await call(a.url, 'POST', '/v1/services/web/instances/i1/heartbeat', { json: { status: 'critical', note: 'disk full' } });
    expect(changed.status).toBe(200);
    const after = await call(b.url, 'GET', '/v1/services/web');
    expect(after.body.revision).toBeGreaterThan(before.body.revision);
    expect(after.body.instances[0]).toMatchObject({ status: 'critical', note: 'disk full' });
    expect((await call(b.url, 'GET', '/v1/services/web?status=passing')).body.instances).toEqual([]);
    expect((await call(b.url, 'GET', '/v1/services')).body.services).toEqual([{ name: 'web', instances: 1, passing: 0 }]);

    const unknown = await call(a.url, 'POST', '/v1/services/web/instances/nope/heartbeat');
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toMatchObject({ code: 'not_found', service: 'web', id: 'nope' });
  });

  it('heartbeats keep an instance past its TTL; without them it disappears, and a blocking query sees it go', async () => {
    await register(a, 'web', 'kept', { ttlMs: 600 });
    const dying = await register(a, 'web', 'dying', { ttlMs: 600 });
    const startedMs = Date.now();
    const blocked = call(b.url, 'GET', `/v1/services/web?index=${dying.body.revision}&waitMs=10000`).then((answer) => ({
      answer,
      elapsedMs: Date.now() - startedMs,
    }));
    const beats: string[] = [];
    const heartbeats = (async () => {
      while (Date.now() - startedMs < 1500) {
        beats.push((await call(a.url, 'POST', '/v1/services/web/instances/kept/heartbeat')).text);
        await sleep(150);
      }
    })();
    const [{ answer, elapsedMs }] = await Promise.all([blocked, heartbeats]);
    expect(new Set(beats)).toEqual(new Set([JSON.stringify({ remainingMs: 600 })]));
    expect(answer.body.instances.map((instance: { id: string }) => instance.id)).toEqual(['kept']);
    expect(elapsedMs).toBeGreaterThanOrEqual(550);
    expect(Number(answer.headers['x-concord-index'])).toBeGreaterThan(dying.body.revision);
    const later = await call(b.url, 'GET', '/v1/services/web');
    expect(later.body.instances.map((instance: { id: string }) => instance.id)).toEqual(['kept']);
    const gone = await call(a.url, 'POST', '/v1/services/web/instances/dying/heartbeat');
    expect(gone.status).toBe(404);
  });

  it('a blocking query answers promptly after a change, and after waitMs with the unchanged list', async () => {
    const registered = await register(a, 'web', 'i1');
    const index = registered.body.revision as number;

    const quietStart = Date.now();
    const quiet = await call(b.url, 'GET', `/v1/services/web?index=${index}&waitMs=400`);
    const quietMs = Date.now() - quietStart;
    expect(quiet.status).toBe(200);
    expect(quietMs).toBeGreaterThanOrEqual(380);
    expect(quiet.headers['x-concord-index']).toBe(String(index));
    expect(quiet.body.instances.map((instance: { id: string }) => instance.id)).toEqual(['i1']);

    // Changes elsewhere in the store do not wake it.
    const waiting = call(b.url, 'GET', `/v1/services/web?index=${index}&waitMs=8000`);
    await call(a.url, 'PUT', '/v1/kv/unrelated', { json: { value: 'x' } });
    await register(a, 'other', 'o1');
    await sleep(200);
    const changeStart = Date.now();
    await register(a, 'web', 'i2');
    const woken = await waiting;
    expect(Date.now() - changeStart).toBeLessThan(1000);
    expect(woken.body.instances.map((instance: { id: string }) => instance.id)).toEqual(['i1', 'i2']);
    expect(Number(woken.headers['x-concord-index'])).toBeGreaterThan(index);

    // An index already behind answers at once.
    const behindStart = Date.now();
    const behind = await call(b.url, 'GET', `/v1/services/web?index=${index}&waitMs=8000`);
    expect(Date.now() - behindStart).toBeLessThan(1000);
    expect(behind.body.instances).toHaveLength(2);
  });

  it('the SSE watch sends the full list at each change and tears down when the client goes', async () => {
    await register(a, 'web', 'i1');
    const stream = await SseStream.open(b.url, '/v1/services/web/watch');
    expect(stream.status).toBe(200);
    expect(stream.headers['content-type']).toMatch(/text\/event-stream/);
    const lists = (): string[][] =>
      stream.events.filter((event) => event.event === 'instances').map((event) => event.data.instances.map((instance: { id: string; status: string }) => `${instance.id}:${instance.status}`));
    await stream.waitFor(() => lists().length === 1);
    expect(lists()).toEqual([['i1:passing']]);
    await register(a, 'web', 'i2');
    await call(a.url, 'POST', '/v1/services/web/instances/i1/heartbeat', { json: { status: 'warning' } });
    await call(a.url, 'DELETE', '/v1/services/web/instances/i2');
    await stream.waitFor(() => lists().length === 4);
    expect(lists()).toEqual([['i1:passing'], ['i1:passing', 'i2:passing'], ['i1:warning', 'i2:passing'], ['i1:warning']]);
    const ids = stream.events.filter((event) => event.event === 'instances').map((event) => Number(event.id));
    expect(ids).toEqual([...ids].sort((x, y) => x - y));
    expect(await openWatchStreams(b)).toBe(1);
    stream.close();
    const deadline = Date.now() + 3000;
    while ((await openWatchStreams(b)) !== 0 && Date.now() < deadline) await sleep(20);
    expect(await openWatchStreams(b)).toBe(0);
  });

  it('deregistering revokes the lease the instance owns, but not a shared one', async () => {
    const own = await register(a, 'web', 'i1');
    const shared = await call(a.url, 'POST', '/v1/leases', { json: { ttlMs: 5000 } });
    await register(a, 'web', 'i2', { ttlMs: undefined, lease: shared.body.id });
    expect((await call(b.url, 'DELETE', '/v1/services/web/instances/i1')).status).toBe(200);
    expect((await call(b.url, 'DELETE', '/v1/services/web/instances/i2')).status).toBe(200);
    expect((await call(b.url, 'GET', `/v1/leases/${own.body.lease}`)).status).toBe(404);
    expect((await call(b.url, 'GET', `/v1/leases/${shared.body.id}`)).status).toBe(200);
    const again = await call(b.url, 'DELETE', '/v1/services/web/instances/i1');
    expect(again.status).toBe(404);
    expect(again.body.error.code).toBe('not_found');
  });

  it('refuses bad input with the contract error shape', async () => {
    const cases: Array<[string, string, Record<string, unknown> | undefined, number]> = [
      ['PUT', '/v1/services/bad%2Fname/instances/i1', { address: 'h', port: 1, ttlMs: 500 }, 400],
      ['PUT', '/v1/services/web/instances/has%20space', { address: 'h', port: 1, ttlMs: 500 }, 400],
      ['PUT', '/v1/services/web/instances/i1', { address: 'h', port: 1, ttlMs: 499 }, 400],
      ['PUT', '/v1/services/web/instances/i1', { address: 'h', port: 1 }, 400],
      ['PUT', '/v1/services/web/instances/i1', { address: 'h', port: 1, ttlMs: 500, lease: '1' }, 400],
      ['PUT', '/v1/services/web/instances/i1', { address: 'h', port: 70000, ttlMs: 500 }, 400],
      ['PUT', '/v1/services/web/instances/i1', { address: 'h', port: 1, ttlMs: 500, tags: ['x', 'x'] }, 400],
      ['PUT', '/v1/services/web/instances/i1', { address: 'h', port: 1, ttlMs: 500, weight: 1 }, 400],
      ['PUT', '/v1/services/web/instances/i1', { address: 'h', port: 1, lease: 'missing' }, 404],
      ['POST', '/v1/services/web/instances/i1/heartbeat', { status: 'sick' }, 400],
    ];
    for (const [method, path, json, status] of cases) {
      const answer = await call(a.url, method as 'PUT' | 'POST', path, json === undefined ? {} : { json });
      expect({ path, json, status: answer.status }).toEqual({ path, json, status });
      expect(answer.body.error).toEqual(expect.objectContaining({ code: expect.any(String), message: expect.any(String) }));
    }
    const badQuery = await call(b.url, 'GET', '/v1/services/web?waitMs=-1&index=1');
    expect(badQuery.status).toBe(400);
    const reserved = await call(a.url, 'PUT', `/v1/kv/${encodeURIComponent('\uFFFFregistry/i/web/i1')}`, { json: { value: 'x' } });
    expect(reserved.status).toBe(400);
  });

  it('is documented in the OpenAPI document', async () => {
    const document = await call(a.url, 'GET', '/openapi.json');
    const paths = Object.keys(document.body.paths);
    expect(paths).toEqual(
      expect.arrayContaining([
        '/v1/services',
        '/v1/services/{service}',
        '/v1/services/{service}/watch',
        '/v1/services/{service}/instances/{id}',
        '/v1/services/{service}/instances/{id}/heartbeat',
      ]),
    );
  });
});
