// Forwarding from followers to the leader under blocking requests: a lock acquire waiting in line
// holds its forwarded request (and its connection) for the whole wait, which must not stall the
// follower's other forwarded requests; and the bound on forwarded requests answers 429.
import { afterEach, describe, expect, it } from 'vitest';
import { hashToken } from '../../src/server/auth/token-secrets.ts';
import { call, sleep, TestCluster, useClusterPerTest } from './cluster-harness.ts';

const WAITERS = 24; // more than the sixteen connections the forwarder's pool once had

const ROOT_TOKEN = 'bootstrap-secret-0123456789abcdef';
const asRoot = { authorization: `Bearer ${ROOT_TOKEN}` };

/** Polls the lock until `count` requests wait for it (bounded). */
async function waitersReach(url: string, name: string, count: number, headers: Record<string, string> = {}): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if ((await call(url, 'GET', `/v1/locks/${name}`, { headers })).body.waiters >= count) return;
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

  it("sends the leader's answer to a forwarded write in the same frame as the append carrying it", async () => {
    const cluster = clusterOf();
    const leader = await cluster.leader();
    const [follower] = await cluster.followers();
    // What the leader sent the follower in each send call (one frame) that answered a forward.
    const answeringFrames: string[][] = [];
    cluster.network.onSend = (from, messages) => {
      const types = messages.filter((message) => from === leader.id && message.to === follower!.id).map((message) => message.type);
      if (types.includes('forward-proposals-response')) answeringFrames.push(types);
    };
    for (let write = 0; write < 3; write++) {
      expect((await call(follower!.url, 'PUT', `/v1/kv/one-frame/${write}`, { json: { value: 'v' } })).status).toBe(200);
    }
    expect(answeringFrames).toHaveLength(3);
    // The answer first, and in the same frame the append carrying the entry (a heartbeat of the
    // same Ready may ride along too).
    for (const types of answeringFrames) {
      expect(types[0]).toBe('forward-proposals-response');
      expect(types).toContain('append');
    }
  });
});

describe('the bound on forwarded requests', () => {
  let cluster: TestCluster | undefined;
  afterEach(async () => {
    await cluster?.stop();
    cluster = undefined;
  });

  // With --auth a follower forwards writes as HTTP requests (the leader checks the token again).
  it('answers 429 overloaded with retry-after once maxForwardedInFlight requests are in flight', async () => {
    cluster = await TestCluster.start({ limits: { maxForwardedInFlight: 1 }, auth: { enabled: true, bootstrapTokenHash: hashToken(ROOT_TOKEN) } });
    const leader = await cluster.leader();
    const bootstrapDeadline = Date.now() + 5000;
    while ((await call(leader.url, 'GET', '/v1/auth/whoami', { headers: asRoot })).status !== 200) {
      if (Date.now() > bootstrapDeadline) throw new Error('bootstrap token never worked');
      await sleep(20);
    }
    const [follower] = await cluster.followers();
    const url = follower!.url;
    const held = await call(url, 'POST', '/v1/locks/one/acquire', { json: { ttlMs: 10_000 }, headers: asRoot });
    expect(held.status).toBe(200);
    const waiter = call(url, 'POST', '/v1/locks/one/acquire', { json: { ttlMs: 10_000, waitMs: 3000 }, headers: asRoot });
    await waitersReach(url, 'one', 1, asRoot);

    const refused = await call(url, 'PUT', '/v1/kv/refused', { json: { value: 'v' }, headers: asRoot });
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe('overloaded');
    expect(refused.headers['retry-after']).toBeDefined();
    // Refused before it left the follower: nothing was written.
    expect((await call(url, 'GET', '/v1/kv/refused', { headers: asRoot })).status).toBe(404);

    expect((await waiter).status).toBe(423);
    expect((await call(url, 'PUT', '/v1/kv/accepted', { json: { value: 'v' }, headers: asRoot })).status).toBe(200);
  });

  // Without --auth a follower sends writes to the leader over the peer connection: they hold no
  // forwarding slot, and the answer is the follower's own (no x-concord-served-by).
  it('does not apply to writes, which a follower sends over the peer connection without --auth', async () => {
    cluster = await TestCluster.start({ limits: { maxForwardedInFlight: 1 } });
    await cluster.waitForLeader();
    const [follower] = await cluster.followers();
    const url = follower!.url;
    const held = await call(url, 'POST', '/v1/locks/one/acquire', { json: { ttlMs: 10_000 } });
    expect(held.status).toBe(200);
    const waiter = call(url, 'POST', '/v1/locks/one/acquire', { json: { ttlMs: 10_000, waitMs: 3000 } });
    await waitersReach(url, 'one', 1);
    const puts = await Promise.all(Array.from({ length: 8 }, (_, n) => call(url, 'PUT', `/v1/kv/through-${n}`, { json: { value: `v${n}` } })));
    for (const put of puts) {
      expect(put.status).toBe(200);
      expect(put.headers['x-concord-served-by']).toBeUndefined();
    }
    const revisions = puts.map((put) => Number(put.headers['x-concord-revision']));
    expect(new Set(revisions).size).toBe(8);
    expect((await call(cluster.members[0]!.url, 'GET', '/v1/kv/through-7')).body.value).toBe('v7');
    expect((await waiter).status).toBe(423);
  });
});
