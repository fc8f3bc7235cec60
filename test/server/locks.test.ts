// Locks and elections over HTTP on a live 3-node cluster, called through followers so every
// write is forwarded: contention through different nodes, blocking waits and their timeouts,
// handoff on release and on lease expiry, client disconnects, fenced writes, elections + SSE.
import { request } from 'undici';
import { beforeEach, describe, expect, it } from 'vitest';
import { call, sleep, TestCluster, useClusterPerTest } from './cluster-harness.ts';
import { SseStream } from './sse-client.ts';

/** Polls `read` until `done` holds (bounded). */
async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await sleep(20);
  }
}

describe('locks over HTTP', () => {
  const clusterOf = useClusterPerTest();
  let cluster: TestCluster;
  let one: string;
  let two: string;
  beforeEach(async () => {
    cluster = clusterOf();
    const [a, b] = await cluster.followers();
    one = a!.url;
    two = b!.url;
  });

  it('two clients contend through different nodes: the waiter is blocked until the release hands it the lock', async () => {
    const first = await call(one, 'POST', '/v1/locks/db/acquire', { json: { ttlMs: 5000, owner: 'a' } });
    expect(first.status).toBe(200);
    expect(first.body).toEqual({ name: 'db', token: expect.any(Number), lease: expect.any(String), owner: 'a' });
    let settled = false;
    const waiting = call(two, 'POST', '/v1/locks/db/acquire', { json: { ttlMs: 5000, owner: 'b', waitMs: 8000 } }).finally(() => {
      settled = true;
    });
    const queued = await eventually(() => call(two, 'GET', '/v1/locks/db'), (answer) => answer.body.waiters === 1);
    expect(queued.body).toMatchObject({ held: true, holder: { owner: 'a', token: first.body.token }, waiters: 1 });
    await sleep(200);
    expect(settled).toBe(false);
    const released = await call(one, 'POST', '/v1/locks/db/release', { json: { token: first.body.token } });
    expect(released.status).toBe(200);
    const second = await waiting;
    expect(second.status).toBe(200);
    expect(second.body.owner).toBe('b');
    expect(second.body.token).toBeGreaterThan(first.body.token);
    const view = await call(one, 'GET', '/v1/locks/db');
    expect(view.body).toMatchObject({ held: true, holder: { owner: 'b' }, waiters: 0, recent: [{ owner: 'a', reason: 'released' }] });
    // The first holder's own lease went with its release.
    expect((await call(one, 'GET', `/v1/leases/${first.body.lease}`)).status).toBe(404);
  });

  it('try-once on a held lock is 423 naming the holder; a wait that runs out is 423 and leaves the queue', async () => {
    const held = await call(one, 'POST', '/v1/locks/job/acquire', { json: { ttlMs: 5000, owner: 'holder' } });
    const tryOnce = await call(two, 'POST', '/v1/locks/job/acquire', { json: { ttlMs: 5000 } });
    expect(tryOnce.status).toBe(423);
    expect(tryOnce.body.error).toMatchObject({ code: 'locked', holder: { owner: 'holder', token: held.body.token } });
    const startedMs = Date.now();
    const timedOut = await call(two, 'POST', '/v1/locks/job/acquire', { json: { ttlMs: 5000, waitMs: 300 } });
    expect(timedOut.status).toBe(423);
    expect(timedOut.body.error).toMatchObject({ code: 'locked', holder: { owner: 'holder' } });
    expect(Date.now() - startedMs).toBeGreaterThanOrEqual(250);
    expect((await call(one, 'GET', '/v1/locks/job')).body.waiters).toBe(0);
  });

  it('a wait that runs out while no quorum can commit its withdrawal is 504 timeout (outcome unknown), not 423', async () => {
    const held = await call(one, 'POST', '/v1/locks/quorumless/acquire', { json: { ttlMs: 10_000, owner: 'holder' } });
    expect(held.status).toBe(200);
    const waiting = call(two, 'POST', '/v1/locks/quorumless/acquire', { json: { ttlMs: 10_000, waitMs: 600, timeoutMs: 5000 } });
    await eventually(() => call(two, 'GET', '/v1/locks/quorumless'), (answer) => answer.body.waiters === 1);
    // Two of three nodes cut off: nothing commits anywhere, so the waiter cannot leave the queue.
    const leader = await cluster.leader();
    cluster.network.isolated.add(leader.id);
    const [otherFollower] = (await cluster.followers()).filter((member) => member.url !== two);
    cluster.network.isolated.add(otherFollower!.id);
    const answer = await waiting;
    expect(answer.status).toBe(504);
    expect(answer.body.error).toMatchObject({ code: 'timeout' });
    cluster.network.isolated.clear();
  });

  it('a waiter whose client disconnects leaves the queue', async () => {
    await call(one, 'POST', '/v1/locks/gone/acquire', { json: { ttlMs: 5000 } });
    const controller = new AbortController();
    const abandoned = request(`${two}/v1/locks/gone/acquire`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ttlMs: 5000, waitMs: 20_000 }),
      signal: controller.signal,
    }).catch(() => 'aborted');
    await eventually(() => call(one, 'GET', '/v1/locks/gone'), (answer) => answer.body.waiters === 1);
    controller.abort();
    expect(await abandoned).toBe('aborted');
    const after = await eventually(() => call(one, 'GET', '/v1/locks/gone'), (answer) => answer.body.waiters === 0);
    expect(after.body.waiters).toBe(0);
  });

  it("a holder whose lease expires loses the lock to the waiter, with a larger token and lease_expired in recent", async () => {
    const lease = (await call(one, 'POST', '/v1/leases', { json: { ttlMs: 500 } })).body.id as string;
    const first = await call(one, 'POST', '/v1/locks/exp/acquire', { json: { lease, owner: 'paused' } });
    const second = await call(two, 'POST', '/v1/locks/exp/acquire', { json: { ttlMs: 5000, owner: 'next', waitMs: 5000 } });
    expect(second.status).toBe(200);
    expect(second.body.token).toBeGreaterThan(first.body.token);
    const view = await call(two, 'GET', '/v1/locks/exp');
    expect(view.body.recent[0]).toMatchObject({ owner: 'paused', token: first.body.token, reason: 'lease_expired' });
  });

  it('lockDelayMs: after the holder is lost involuntarily, the waiter gets the lock only once the delay has passed', async () => {
    // Taken before the grant is sent: the lease's countdown starts later, when the grant applies.
    const startedMs = Date.now();
    const lease = (await call(one, 'POST', '/v1/leases', { json: { ttlMs: 500 } })).body.id as string;
    await call(one, 'POST', '/v1/locks/delayed/acquire', { json: { lease, lockDelayMs: 1000 } });
    const next = await call(two, 'POST', '/v1/locks/delayed/acquire', { json: { ttlMs: 5000, waitMs: 8000 } });
    expect(next.status).toBe(200);
    // The lease runs out after at least 500 ms, then nobody may hold the lock for 1000 ms more.
    expect(Date.now() - startedMs).toBeGreaterThanOrEqual(1500);
    expect((await call(one, 'GET', '/v1/locks/delayed')).body).toMatchObject({ lockDelayed: false, recent: [{ reason: 'lease_expired' }] });
  });

  it('release with a stale token is 409 stale_token; re-acquire with the holding lease returns the same token', async () => {
    const lease = (await call(one, 'POST', '/v1/leases', { json: { ttlMs: 5000 } })).body.id as string;
    const first = await call(one, 'POST', '/v1/locks/re/acquire', { json: { lease } });
    const again = await call(two, 'POST', '/v1/locks/re/acquire', { json: { lease } });
    expect(again.body.token).toBe(first.body.token);
    const stale = await call(two, 'POST', '/v1/locks/re/release', { json: { token: first.body.token + 1 } });
    expect(stale.status).toBe(409);
    expect(stale.body.error.code).toBe('stale_token');
    const both = await call(two, 'POST', '/v1/locks/re/acquire', { json: { lease, ttlMs: 1000 } });
    expect(both.status).toBe(400);
    const held = await call(two, 'GET', '/v1/locks?prefix=r');
    expect(held.body.locks.map((lock: { name: string }) => lock.name)).toEqual(['re']);
  });

  it('a fenced PUT applies only while its token holds the lock', async () => {
    const first = await call(one, 'POST', '/v1/locks/res/acquire', { json: { ttlMs: 5000 } });
    const fence = { lock: 'res', token: first.body.token };
    expect((await call(two, 'PUT', '/v1/kv/resource', { json: { value: 'by-first', fence } })).status).toBe(200);
    await call(one, 'POST', '/v1/locks/res/release', { json: { token: first.body.token } });
    const second = await call(two, 'POST', '/v1/locks/res/acquire', { json: { ttlMs: 5000 } });
    const stale = await call(one, 'PUT', '/v1/kv/resource', { json: { value: 'late-write', fence } });
    expect(stale.status).toBe(409);
    expect(stale.body.error.code).toBe('stale_token');
    const fresh = await call(one, 'PUT', '/v1/kv/resource', { json: { value: 'by-second', fence: { lock: 'res', token: second.body.token } } });
    expect(fresh.status).toBe(200);
    expect((await call(two, 'GET', '/v1/kv/resource')).body.value).toBe('by-second');
    const txn = { success: [{ put: { key: 'resource', value: 'txn-late' } }], fence };
    expect((await call(two, 'POST', '/v1/txn', { json: txn })).status).toBe(409);
  });

  it('a txn compare on a lock token picks the branch: success while the token holds, failure after a new holder', async () => {
    const first = await call(one, 'POST', '/v1/locks/job/acquire', { json: { ttlMs: 5000 } });
    const whileHeld = (token: number): Record<string, unknown> => ({
      compare: [{ lock: 'job', target: 'token', op: '==', value: token }],
      success: [{ put: { key: 'job/out', value: `by-${token}` } }],
      failure: [{ get: { key: 'job/out' } }],
    });
    const held = await call(two, 'POST', '/v1/txn', { json: whileHeld(first.body.token) });
    expect(held.status).toBe(200);
    expect(held.body).toMatchObject({ succeeded: true, results: [{ put: { revision: expect.any(Number) } }] });
    await call(one, 'POST', '/v1/locks/job/release', { json: { token: first.body.token } });
    const free = await call(two, 'POST', '/v1/txn', { json: { compare: [{ lock: 'job', target: 'token', op: '==', value: 0 }] } });
    expect(free.body.succeeded).toBe(true);
    const second = await call(two, 'POST', '/v1/locks/job/acquire', { json: { ttlMs: 5000 } });
    const late = await call(one, 'POST', '/v1/txn', { json: whileHeld(first.body.token) });
    expect(late.status).toBe(200);
    expect(late.body).toMatchObject({ succeeded: false, results: [{ get: { kv: { value: `by-${first.body.token}` } } }] });
    const current = await call(one, 'POST', '/v1/txn', { json: whileHeld(second.body.token) });
    expect(current.body.succeeded).toBe(true);
  });

  it('refuses a malformed lock compare with 400 invalid_argument, and documents it in /openapi.json', async () => {
    const lockCompare = { lock: 'job', target: 'token', op: '==', value: 1 };
    for (const compare of [
      { ...lockCompare, key: 'k' }, // a key and a lock at once
      { ...lockCompare, election: 'job' },
      { ...lockCompare, holder: 'a' },
      { ...lockCompare, target: 'version' },
      { ...lockCompare, value: -1 },
      { ...lockCompare, lock: '' },
      { key: 'k', target: 'token', op: '==', value: 1 },
    ]) {
      const refused = await call(two, 'POST', '/v1/txn', { json: { compare: [compare] } });
      expect(refused.status, JSON.stringify(compare)).toBe(400);
      expect(refused.body.error.code).toBe('invalid_argument');
    }
    const doc = await call(one, 'GET', '/openapi.json');
    expect(JSON.stringify(doc.body.paths['/v1/txn'].post.requestBody)).toContain('"target":{"type":"string","enum":["token"]}');
  });
});

describe('elections over HTTP', () => {
  const clusterOf = useClusterPerTest();

  it('campaign, a waiting candidate, proclaim, resign hands over; observe streams each leader', async () => {
    const [a, b] = await clusterOf().followers();
    const stream = await SseStream.open(b!.url, '/v1/elections/svc/observe');
    expect(stream.status).toBe(200);
    await stream.waitFor((s) => s.events.some((event) => event.event === 'leader'));
    expect(stream.events[0]).toMatchObject({ event: 'leader', data: { name: 'svc' } });
    expect(stream.events[0]!.data.leader).toBeUndefined();

    const won = await call(a!.url, 'POST', '/v1/elections/svc/campaign', { json: { value: 'http://a', ttlMs: 5000 } });
    expect(won.status).toBe(200);
    expect(won.body).toEqual({ name: 'svc', leader: { value: 'http://a', token: expect.any(Number), lease: expect.any(String) } });
    const waiting = call(b!.url, 'POST', '/v1/elections/svc/campaign', { json: { value: 'http://b', ttlMs: 5000, waitMs: 8000 } });
    const stale = await call(b!.url, 'POST', '/v1/elections/svc/proclaim', { json: { token: won.body.leader.token + 1, value: 'x' } });
    expect(stale.status).toBe(409);
    const proclaimed = await call(b!.url, 'POST', '/v1/elections/svc/proclaim', { json: { token: won.body.leader.token, value: 'http://a2' } });
    expect(proclaimed.status).toBe(200);
    expect((await call(a!.url, 'GET', '/v1/elections/svc')).body.leader.value).toBe('http://a2');
    expect((await call(a!.url, 'POST', '/v1/elections/svc/resign', { json: { token: won.body.leader.token } })).status).toBe(200);
    const next = await waiting;
    expect(next.status).toBe(200);
    expect(next.body.leader).toMatchObject({ value: 'http://b' });
    expect(next.body.leader.token).toBeGreaterThan(won.body.leader.token);
    // Keepalive comments arrive between frames; only `leader` events count.
    const leaders = (): Array<string | null> => stream.events.filter((event) => event.event === 'leader').map((event) => event.data.leader?.value ?? null);
    await stream.waitFor(() => leaders().includes('http://b'));
    expect(leaders()).toEqual([null, 'http://a', 'http://a2', 'http://b']);
    stream.close();
  });

  it('a campaign that is not elected within waitMs is 423', async () => {
    const [a, b] = await clusterOf().followers();
    await call(a!.url, 'POST', '/v1/elections/e/campaign', { json: { value: 'one', ttlMs: 5000 } });
    const late = await call(b!.url, 'POST', '/v1/elections/e/campaign', { json: { value: 'two', ttlMs: 5000, waitMs: 200 } });
    expect(late.status).toBe(423);
    expect(late.body.error.code).toBe('locked');
  });

  it('the routes are in the OpenAPI document', async () => {
    const [a] = await clusterOf().followers();
    const doc = await call(a!.url, 'GET', '/openapi.json');
    for (const path of ['/v1/locks/{name}/acquire', '/v1/locks/{name}/release', '/v1/locks/{name}', '/v1/locks', '/v1/elections/{name}/campaign', '/v1/elections/{name}/observe']) {
      expect(Object.keys(doc.body.paths)).toContain(path);
    }
  });
});
