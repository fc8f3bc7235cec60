// Authentication and permissions over HTTP on a live 3-node cluster with --auth: the bootstrap
// token, 401 and 403 in the contract's shape, admin-only routes, ranges and txns, a watch that
// never shows keys outside the token's prefix, revocation taking effect, tokens stored hashed
// (the state and its snapshot hold no plain token), followers forwarding the identity, the open
// operational routes, and the per-token rate limit.
import { afterEach, describe, expect, it } from 'vitest';
import { hashToken } from '../../src/server/auth/token-secrets.ts';
import { call, sleep, TestCluster, type TestMember } from './cluster-harness.ts';
import { SseStream } from './sse-client.ts';

const ROOT_TOKEN = 'bootstrap-secret-0123456789abcdef';
const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });
const asRoot = bearer(ROOT_TOKEN);

async function bootstrapped(cluster: TestCluster): Promise<TestMember> {
  const leader = await cluster.leader();
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    const answer = await call(leader.url, 'GET', '/v1/auth/whoami', { headers: asRoot });
    if (answer.status === 200) return leader;
    await sleep(20);
  }
  throw new Error('bootstrap token never worked');
}

/** Role `app` (read+write under app/, read of the exact key `shared`), user alice, a token for her. */
async function alice(url: string): Promise<string> {
  const permissions = [
    { resource: 'key', access: 'readwrite', prefix: 'app/' },
    { resource: 'key', access: 'read', name: 'shared' },
    { resource: 'lock', access: 'write', prefix: 'app-' },
  ];
  expect((await call(url, 'POST', '/v1/auth/roles', { json: { name: 'app', permissions }, headers: asRoot })).status).toBe(200);
  expect((await call(url, 'POST', '/v1/auth/users', { json: { name: 'alice', roles: ['app'] }, headers: asRoot })).status).toBe(200);
  const created = await call(url, 'POST', '/v1/auth/tokens', { json: { user: 'alice', description: 'test' }, headers: asRoot });
  expect(created.status).toBe(200);
  expect(created.body.token).toMatch(/^concord_/);
  expect(created.body.info).toMatchObject({ user: 'alice', description: 'test' });
  return created.body.token as string;
}

describe('auth over HTTP', () => {
  let cluster: TestCluster;
  const streams: SseStream[] = [];
  afterEach(async () => {
    for (const stream of streams.splice(0)) stream.close();
    await cluster.stop();
  });

  async function start(limits = {}): Promise<TestMember> {
    cluster = await TestCluster.start({ auth: { enabled: true, bootstrapTokenHash: hashToken(ROOT_TOKEN) }, limits });
    return bootstrapped(cluster);
  }

  it('answers 401 without a token or with a bad one, and keeps operational routes open', async () => {
    const leader = await start();
    for (const headers of [{}, bearer('nope'), { authorization: 'Basic abc' }, bearer('x'.repeat(600))]) {
      const answer = await call(leader.url, 'GET', '/v1/kv/a', { headers });
      expect(answer.status).toBe(401);
      expect(answer.body).toMatchObject({ error: { code: 'unauthenticated' } });
    }
    expect((await call(leader.url, 'PUT', '/v1/kv/a', { json: { value: '1' } })).status).toBe(401);
    for (const path of ['/health', '/ready', '/metrics', '/openapi.json']) {
      expect((await call(leader.url, 'GET', path)).status, path).toBe(200);
    }
    expect((await call(leader.url, 'GET', '/docs/')).status).toBe(200);
    // Open by the matched route, not the spelling of the URL: anything else needs a token.
    for (const path of ['/%76%31/kv/a', '/v1//kv/a', '/V1/kv/a', '/nope', '/health/../v1/kv/a']) {
      const answer = await call(leader.url, 'GET', path);
      expect(answer.status, path).toBe(401);
    }
    expect((await call(leader.url, 'GET', '/nope', { headers: asRoot })).status).toBe(404);
    // The document says so: a bearer scheme, the auth routes, and no token for the open routes.
    const document = (await call(leader.url, 'GET', '/openapi.json')).body;
    expect(document.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(document.security).toEqual([{ bearer: [] }]);
    expect(document.paths['/health'].get.security).toEqual([]);
    expect(Object.keys(document.paths)).toEqual(expect.arrayContaining(['/v1/auth/users', '/v1/auth/roles/{name}', '/v1/auth/tokens/{id}', '/v1/auth/whoami']));
    expect(document.paths['/v1/auth/tokens'].post.requestBody.content['application/json'].schema.required).toEqual(['user']);
    const whoami = await call(leader.url, 'GET', '/v1/auth/whoami', { headers: asRoot });
    expect(whoami.body).toMatchObject({ authEnabled: true, user: 'root', tokenId: 'bootstrap', roles: ['root'], permissions: [{ resource: 'admin' }] });
  });

  it('allows what a role grants and answers 403 permission_denied for the rest, on any node', async () => {
    const leader = await start();
    const token = await alice(leader.url);
    const asAlice = bearer(token);
    await call(leader.url, 'PUT', '/v1/kv/shared', { json: { value: 's' }, headers: asRoot });
    for (const member of cluster.members) {
      // Followers check, then forward the authorization header; the leader checks again.
      const put = await call(member.url, 'PUT', `/v1/kv/app/${member.id}`, { json: { value: member.id }, headers: asAlice });
      expect(put.status, member.id).toBe(200);
      expect((await call(member.url, 'GET', `/v1/kv/app/${member.id}`, { headers: asAlice })).body.value).toBe(member.id);
      const outside = await call(member.url, 'PUT', '/v1/kv/secret', { json: { value: 'x' }, headers: asAlice });
      expect(outside.status).toBe(403);
      expect(outside.body).toMatchObject({ error: { code: 'permission_denied', required: 'key:write:name="secret"' } });
    }
    expect((await call(leader.url, 'GET', '/v1/kv/shared', { headers: asAlice })).status).toBe(200);
    expect((await call(leader.url, 'PUT', '/v1/kv/shared', { json: { value: 'w' }, headers: asAlice })).status).toBe(403);
    expect((await call(leader.url, 'GET', '/v1/kv/shared/sub', { headers: asAlice })).status).toBe(403); // exact, not a prefix
    expect((await call(leader.url, 'GET', '/v1/kv/apps', { headers: asAlice })).status).toBe(403);
    // Locks by name prefix.
    expect((await call(leader.url, 'POST', '/v1/locks/app-1/acquire', { json: { ttlMs: 5000 }, headers: asAlice })).status).toBe(200);
    expect((await call(leader.url, 'POST', '/v1/locks/other/acquire', { json: { ttlMs: 5000 }, headers: asAlice })).status).toBe(403);
    expect((await call(leader.url, 'GET', '/v1/locks/app-1', { headers: asAlice })).status).toBe(403); // write does not read
  });

  it('refuses ranges the token cannot read whole, and txns touching a key it may not', async () => {
    const leader = await start();
    const asAlice = bearer(await alice(leader.url));
    await call(leader.url, 'PUT', '/v1/kv/app/1', { json: { value: '1' }, headers: asRoot });
    await call(leader.url, 'PUT', '/v1/kv/zzz', { json: { value: 'z' }, headers: asRoot });
    const inside = await call(leader.url, 'GET', '/v1/kv?prefix=app/', { headers: asAlice });
    expect(inside.body.items.map((kv: { key: string }) => kv.key)).toEqual(['app/1']);
    expect((await call(leader.url, 'GET', '/v1/kv?prefix=', { headers: asAlice })).status).toBe(403);
    expect((await call(leader.url, 'GET', '/v1/kv?prefix=app', { headers: asAlice })).status).toBe(403);
    expect((await call(leader.url, 'GET', '/v1/kv?prefix=', { headers: asRoot })).body.items).toHaveLength(2);
    const ok = { compare: [{ key: 'app/1', target: 'version', op: '>', value: 0 }], success: [{ put: { key: 'app/2', value: '2' } }] };
    expect((await call(leader.url, 'POST', '/v1/txn', { json: ok, headers: asAlice })).body.succeeded).toBe(true);
    const sneaky = { compare: [], success: [{ put: { key: 'app/3', value: '3' } }], failure: [{ get: { key: 'zzz' } }] };
    expect((await call(leader.url, 'POST', '/v1/txn', { json: sneaky, headers: asAlice })).status).toBe(403);
    const peek = { compare: [{ key: 'zzz', target: 'value', op: '==', value: 'z' }], success: [] };
    expect((await call(leader.url, 'POST', '/v1/txn', { json: peek, headers: asAlice })).status).toBe(403);
    expect((await call(leader.url, 'GET', '/v1/kv/app/3', { headers: asAlice })).status).toBe(404); // nothing applied
  });

  it("never shows a write-only token a value: no prev, no current, no lease's keys", async () => {
    const leader = await start();
    await call(leader.url, 'POST', '/v1/auth/roles', { json: { name: 'writer', permissions: [{ resource: 'key', access: 'write', prefix: 'wo/' }] }, headers: asRoot });
    await call(leader.url, 'POST', '/v1/auth/users', { json: { name: 'walt', roles: ['writer'] }, headers: asRoot });
    const asWalt = bearer((await call(leader.url, 'POST', '/v1/auth/tokens', { json: { user: 'walt' }, headers: asRoot })).body.token);
    await call(leader.url, 'PUT', '/v1/kv/wo/k', { json: { value: 'secret' }, headers: asRoot });
    const [follower] = await cluster.followers();
    const put = await call(follower!.url, 'PUT', '/v1/kv/wo/k', { json: { value: 'new' }, headers: asWalt });
    expect(put.status).toBe(200);
    expect(put.body.prev).toBeUndefined();
    expect((await call(leader.url, 'PUT', '/v1/kv/wo/k', { json: { value: 'x' }, headers: asRoot })).body.prev.value).toBe('new');
    for (const [method, path, json] of [['PUT', '/v1/kv/wo/k', { value: 'y', ifRevision: 1 }], ['DELETE', '/v1/kv/wo/k?ifRevision=1', undefined]] as const) {
      const refused = await call(follower!.url, method, path, { headers: asWalt, ...(json === undefined ? {} : { json }) });
      expect(refused.status).toBe(409);
      expect(refused.body.error.code).toBe('compare_failed');
      expect(refused.body.error.current).toBeUndefined();
      expect(refused.text).not.toContain('"x"');
    }
    const lease = await call(leader.url, 'POST', '/v1/leases', { json: { ttlMs: 60_000 }, headers: asWalt });
    expect((await call(leader.url, 'GET', `/v1/leases/${lease.body.id}`, { headers: asWalt })).status).toBe(200);
    await call(leader.url, 'PUT', '/v1/kv/wo/leased', { json: { value: 'v', lease: lease.body.id }, headers: asWalt });
    expect((await call(leader.url, 'GET', `/v1/leases/${lease.body.id}`, { headers: asWalt })).status).toBe(403);
    expect((await call(leader.url, 'GET', `/v1/leases/${lease.body.id}`, { headers: asRoot })).body.keys).toEqual(['wo/leased']);
  });

  it('keeps admin routes to admins', async () => {
    const leader = await start();
    const asAlice = bearer(await alice(leader.url));
    const adminOnly: Array<['GET' | 'POST' | 'DELETE', string, unknown?]> = [
      ['GET', '/v1/auth/users'],
      ['POST', '/v1/auth/users', { name: 'mallory', roles: ['root'] }],
      ['POST', '/v1/auth/tokens', { user: 'root' }],
      ['DELETE', '/v1/auth/tokens/bootstrap'],
      ['GET', '/v1/maintenance/snapshot'],
      ['POST', '/v1/maintenance/compact', { revision: 1 }],
      ['POST', '/v1/cluster/transfer-leader', {}],
      ['DELETE', '/v1/cluster/members/n3'],
    ];
    for (const [method, path, json] of adminOnly) {
      const answer = await call(leader.url, method, path, { headers: asAlice, ...(json === undefined ? {} : { json }) });
      expect(answer.status, `${method} ${path}`).toBe(403);
      expect(answer.body.error.code).toBe('permission_denied');
    }
    expect((await call(leader.url, 'GET', '/v1/cluster', { headers: asAlice })).status).toBe(200);
    expect((await call(leader.url, 'GET', '/v1/auth/users', { headers: asRoot })).body.users.map((u: { name: string }) => u.name)).toEqual(['alice', 'root']);
    expect((await call(leader.url, 'GET', '/v1/maintenance/snapshot', { headers: asRoot })).status).toBe(200);
  });

  it('never shows a watcher keys outside its prefix, and ends the stream when its token is revoked', async () => {
    const leader = await start();
    const created = await call(leader.url, 'POST', '/v1/auth/roles', {
      json: { name: 'watcher', permissions: [{ resource: 'key', access: 'read', prefix: 'pub/' }] },
      headers: asRoot,
    });
    expect(created.status).toBe(200);
    await call(leader.url, 'POST', '/v1/auth/users', { json: { name: 'wanda', roles: ['watcher'] }, headers: asRoot });
    const token = await call(leader.url, 'POST', '/v1/auth/tokens', { json: { user: 'wanda' }, headers: asRoot });
    const [follower] = await cluster.followers();
    const refused = await SseStream.open(follower!.url, '/v1/watch?prefix=priv/', bearer(token.body.token));
    expect(refused.status).toBe(403);
    const first = await call(leader.url, 'PUT', '/v1/kv/priv/0', { json: { value: 'hidden' }, headers: asRoot });
    const stream = await SseStream.open(follower!.url, `/v1/watch?prefix=&fromRevision=${first.body.revision}&resync=true`, bearer(token.body.token));
    streams.push(stream);
    expect(stream.status).toBe(200);
    for (const key of ['pub/1', 'priv/1', 'pub/2', 'privé', 'pub/3']) await call(leader.url, 'PUT', `/v1/kv/${encodeURIComponent(key)}`, { json: { value: key }, headers: asRoot });
    await call(leader.url, 'POST', '/v1/txn', { json: { success: [{ put: { key: 'pub/4', value: 'x' } }, { put: { key: 'priv/2', value: 'y' } }] }, headers: asRoot });
    await stream.waitFor((s) => s.changes().length === 4);
    await sleep(100);
    expect(stream.changes().map((event) => event.data.key)).toEqual(['pub/1', 'pub/2', 'pub/3', 'pub/4']);
    expect(JSON.stringify(stream.events)).not.toContain('priv');

    await call(leader.url, 'DELETE', `/v1/auth/tokens/${token.body.info.id}`, { headers: asRoot });
    await call(leader.url, 'PUT', '/v1/kv/pub/5', { json: { value: 'after' }, headers: asRoot });
    const deadline = Date.now() + 3000;
    while (!stream.ended && Date.now() < deadline) await sleep(20);
    expect(stream.ended).toBe(true);
    expect(stream.changes().map((event) => event.data.key)).not.toContain('pub/5');
  });

  it('ends every kind of stream of a revoked token, idle ones within a progress interval', async () => {
    const leader = await start();
    const permissions = [
      { resource: 'key', access: 'read', prefix: '' },
      { resource: 'election', access: 'read', prefix: '' },
      { resource: 'service', access: 'read', prefix: '' },
    ];
    await call(leader.url, 'POST', '/v1/auth/roles', { json: { name: 'observer', permissions }, headers: asRoot });
    await call(leader.url, 'POST', '/v1/auth/users', { json: { name: 'olga', roles: ['observer'] }, headers: asRoot });
    const token = await call(leader.url, 'POST', '/v1/auth/tokens', { json: { user: 'olga' }, headers: asRoot });
    const asOlga = bearer(token.body.token);
    const opened = await Promise.all(
      ['/v1/watch?prefix=idle/', '/v1/elections/e1/observe', '/v1/services/web/watch'].map((path) => SseStream.open(leader.url, path, asOlga)),
    );
    streams.push(...opened);
    expect(opened.map((stream) => stream.status)).toEqual([200, 200, 200]);
    await call(leader.url, 'DELETE', `/v1/auth/tokens/${token.body.info.id}`, { headers: asRoot });
    const deadline = Date.now() + 5000;
    while (opened.some((stream) => !stream.ended) && Date.now() < deadline) await sleep(20);
    expect(opened.map((stream) => stream.ended)).toEqual([true, true, true]);
  });

  it('makes a revoked token, a deleted user and a changed role take effect on every node', async () => {
    const leader = await start();
    const token = await alice(leader.url);
    const asAlice = bearer(token);
    expect((await call(leader.url, 'PUT', '/v1/kv/app/x', { json: { value: '1' }, headers: asAlice })).status).toBe(200);
    await call(leader.url, 'POST', '/v1/auth/roles', { json: { name: 'app', permissions: [{ resource: 'key', access: 'read', prefix: 'app/' }] }, headers: asRoot });
    expect((await call(leader.url, 'PUT', '/v1/kv/app/x', { json: { value: '2' }, headers: asAlice })).status).toBe(403);
    const info = await call(leader.url, 'GET', '/v1/auth/tokens?user=alice', { headers: asRoot });
    expect(info.body.tokens).toHaveLength(1);
    const revoked = await call(leader.url, 'DELETE', `/v1/auth/tokens/${info.body.tokens[0].id}`, { headers: asRoot });
    expect(revoked.status).toBe(200);
    // The revocation is committed; each node refuses the token once it has applied it.
    for (const member of cluster.members) {
      const deadline = Date.now() + 3000;
      let status = 0;
      while (Date.now() < deadline) {
        status = (await call(member.url, 'GET', '/v1/kv/app/x', { headers: asAlice })).status;
        if (status === 401) break;
        await sleep(10);
      }
      expect(status, member.id).toBe(401);
    }
    // Deleting a user revokes every token it has.
    const second = await call(leader.url, 'POST', '/v1/auth/tokens', { json: { user: 'alice', ttlMs: 60_000 }, headers: asRoot });
    expect(second.body.info.expiresAtMs).toBe(second.body.info.createdAtMs + 60_000);
    expect((await call(leader.url, 'GET', '/v1/kv/app/x', { headers: bearer(second.body.token) })).status).toBe(200);
    expect((await call(leader.url, 'DELETE', '/v1/auth/users/alice', { headers: asRoot })).body.tokensRevoked).toBe(1);
    expect((await call(leader.url, 'GET', '/v1/kv/app/x', { headers: bearer(second.body.token) })).status).toBe(401);
    // The last admin cannot be deleted.
    const lockout = await call(leader.url, 'DELETE', '/v1/auth/users/root', { headers: asRoot });
    expect(lockout.status).toBe(400);
    expect(lockout.body.error.message).toContain('no user holding admin');
  });

  it('confirms a refusal on a node that is behind: what the leader acknowledged works at once on any node', async () => {
    const leader = await start();
    const [follower] = await cluster.followers();
    // The follower gets no appends: the role, the user and the token below commit without it.
    let release = cluster.network.holdAppendsTo(follower!.id);
    const asAlice = bearer(await alice(leader.url));
    let releasedAt = Infinity;
    const first = call(follower!.url, 'GET', '/v1/kv/app/x', { headers: asAlice });
    await sleep(100);
    releasedAt = Date.now();
    release();
    const answer = await first;
    // Not a 401 from the follower's stale table: it caught up (which it could only do once
    // released) and checked again. 404: authenticated and allowed, the key does not exist.
    expect(answer.status).toBe(404);
    expect(Date.now()).toBeGreaterThanOrEqual(releasedAt);
    // A grant the follower has not applied yet: the same for a 403.
    release = cluster.network.holdAppendsTo(follower!.id);
    const wider = [
      { resource: 'key', access: 'readwrite', prefix: 'app/' },
      { resource: 'key', access: 'read', prefix: 'more/' },
    ];
    expect((await call(leader.url, 'POST', '/v1/auth/roles', { json: { name: 'app', permissions: wider }, headers: asRoot })).status).toBe(200);
    const second = call(follower!.url, 'GET', '/v1/kv/more/x', { headers: asAlice });
    await sleep(100);
    release();
    expect((await second).status).toBe(404);
    // Caught up, a refusal still stands: an unknown token, a key outside the role.
    expect((await call(follower!.url, 'GET', '/v1/kv/app/x', { headers: bearer('concord_unknown') })).status).toBe(401);
    const outside = await call(follower!.url, 'GET', '/v1/kv/other/x', { headers: asAlice });
    expect(outside.status).toBe(403);
    expect(outside.body.error.code).toBe('permission_denied');
  });

  it('stores tokens hashed: neither the state, nor the API, nor a snapshot holds a plain token', async () => {
    const leader = await start();
    const token = await alice(leader.url);
    await sleep(100); // every replica applies the creation
    for (const member of cluster.members) {
      const kv = member.node.kv;
      const hash = hashToken(token);
      expect(kv.auth.tokenByHash(hash)?.user).toBe('alice');
      const snapshot = Buffer.from(kv.snapshot());
      expect(snapshot.includes(Buffer.from(token))).toBe(false);
      expect(snapshot.includes(Buffer.from(ROOT_TOKEN))).toBe(false);
      expect(snapshot.includes(Buffer.from(hash))).toBe(true);
    }
    const backup = await call(leader.url, 'GET', '/v1/maintenance/snapshot', { headers: asRoot });
    expect(backup.text.includes(token)).toBe(false);
    const listed = await call(leader.url, 'GET', '/v1/auth/tokens', { headers: asRoot });
    expect(listed.text).not.toContain(token);
    expect(listed.text).not.toContain(hashToken(token));
  });

  it('limits requests per token with 429 overloaded and retry-after', async () => {
    const leader = await start({ tokenRequestsPerSecond: 5, tokenBurst: 5 });
    const asAlice = bearer(await alice(leader.url));
    await sleep(1100); // root's bucket refills after setting alice up
    // 30 at once: even spread over a couple of seconds by a busy machine, most find the bucket empty.
    const answers = await Promise.all(Array.from({ length: 30 }, () => call(leader.url, 'GET', '/v1/cluster', { headers: asRoot })));
    const limited = answers.filter((answer) => answer.status === 429);
    expect(limited.length).toBeGreaterThanOrEqual(10);
    expect(answers.length - limited.length).toBeGreaterThanOrEqual(5); // the burst
    expect(limited[0]!.body).toMatchObject({ error: { code: 'overloaded' } });
    expect(Number(limited[0]!.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    // Another token has its own bucket; and the first refills.
    expect((await call(leader.url, 'GET', '/v1/cluster', { headers: asAlice })).status).toBe(200);
    await sleep(1100);
    expect((await call(leader.url, 'GET', '/v1/cluster', { headers: asRoot })).status).toBe(200);
  });
});

describe('auth off', () => {
  it('behaves as before: no token needed, whoami says auth is off', async () => {
    const cluster = await TestCluster.start();
    try {
      const leader = await cluster.leader();
      expect((await call(leader.url, 'PUT', '/v1/kv/a', { json: { value: '1' } })).status).toBe(200);
      expect((await call(leader.url, 'GET', '/v1/auth/whoami')).body).toEqual({ authEnabled: false });
    } finally {
      await cluster.stop();
    }
  });
});
