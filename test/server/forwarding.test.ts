// Forwarding from followers to the leader under blocking requests: a lock acquire waiting in line
// holds its forwarded request (and its connection) for the whole wait, which must not stall the
// follower's other forwarded requests; and the bound on forwarded requests answers 429.
import { afterEach, describe, expect, it } from 'vitest';
import { call, sleep, TestCluster, useClusterPerTest } from './cluster-harness.ts';

const WAITERS = 24; // more than the sixteen connections the forwarder's pool once had

/** Polls the lock until `count` requests wait for it (bounded). */
async function waitersReach(url: string, name: string, count: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if ((await call(url, 'GET', `/v1/locks/${name}`)).body.waiters >= count) return;
    await sleep(25);
  }
  throw new Error(`fewer than ${count} waiters on ${name} after 10 s`);
}

describe('forwarding through a follower', () => {
  const clusterOf = useClusterPerTest();

  it('waiting lock acquires do not hold up the follower’s other forwarded requests', async () => {
    const [follower] = await clusterOf().followers();
    const url = follower!.url;
    const held = await call(url, 'POST', '/v1/locks/busy/acquire', { json: { ttlMs: 10_000 } });
    expect(held.status).toBe(200);
    let settled = 0;
    const waiting = Array.from({ length: WAITERS }, () =>
      call(url, 'POST', '/v1/locks/busy/acquire', { json: { ttlMs: 10_000, waitMs: 6000 } }).finally(() => settled++),
    );
    await waitersReach(url, 'busy', WAITERS);

    const startedMs = Date.now();
    const put = await call(url, 'PUT', '/v1/kv/after-the-waiters', { json: { value: 'v' } });
    expect(put.status).toBe(200);
    // Far below the waiters' 6 s: the put did not queue behind them.
    expect(Date.now() - startedMs).toBeLessThan(3000);
    expect(settled).toBe(0);

    await call(url, 'POST', '/v1/locks/busy/release', { json: { token: held.body.token } });
    const answers = await Promise.all(waiting);
    expect(answers.filter((answer) => answer.status === 200)).toHaveLength(1);
  });
});

describe('the bound on forwarded requests', () => {
  let cluster: TestCluster | undefined;
  afterEach(async () => {
    await cluster?.stop();
    cluster = undefined;
  });

  it('answers 429 overloaded with retry-after once maxForwardedInFlight requests are in flight', async () => {
    cluster = await TestCluster.start({ limits: { maxForwardedInFlight: 1 } });
    await cluster.waitForLeader();
    const [follower] = await cluster.followers();
    const url = follower!.url;
    const held = await call(url, 'POST', '/v1/locks/one/acquire', { json: { ttlMs: 10_000 } });
    expect(held.status).toBe(200);
    const waiter = call(url, 'POST', '/v1/locks/one/acquire', { json: { ttlMs: 10_000, waitMs: 3000 } });
    await waitersReach(url, 'one', 1);

    const refused = await call(url, 'PUT', '/v1/kv/refused', { json: { value: 'v' } });
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe('overloaded');
    expect(refused.headers['retry-after']).toBeDefined();
    // Refused before it left the follower: nothing was written.
    expect((await call(url, 'GET', '/v1/kv/refused')).status).toBe(404);

    expect((await waiter).status).toBe(423);
    expect((await call(url, 'PUT', '/v1/kv/accepted', { json: { value: 'v' } })).status).toBe(200);
  });
});
