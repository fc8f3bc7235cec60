// `concord serve --auth --auth-bootstrap-token-file` as a real process: the flag wiring end to
// end. A one-node cluster: 401 without a token, the bootstrap token works once the node leads,
// the open routes stay open, the per-token rate limit answers 429 with retry-after, and a
// restart on the same data dir keeps users and tokens (the auth table is in the log and the
// snapshots) while a changed bootstrap file is ignored.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalCluster, waitFor } from './harness.ts';

const ROOT_TOKEN = 'process-bootstrap-token-0123456789abcdef';
let cluster: LocalCluster | undefined;
let secrets: string | undefined;

afterAll(async () => {
  await cluster?.destroy();
  if (secrets !== undefined) await rm(secrets, { recursive: true, force: true });
});

describe('serve --auth (real process)', () => {
  it('bootstraps root from the file, enforces tokens and rate limits, and keeps auth across a restart', async () => {
    secrets = await mkdtemp(path.join(os.tmpdir(), 'concord-auth-'));
    const root = path.join(secrets, 'bootstrap-token');
    await writeFile(root, `${ROOT_TOKEN}\n`, { mode: 0o600 });
    cluster = await LocalCluster.create({
      size: 1,
      firstHostOctet: 61,
      extraArgs: ['--auth', '--auth-bootstrap-token-file', root, '--token-rate-limit', '20', '--snapshot-every', '5'],
    });
    cluster.startAll();
    await cluster.waitReady('n1');
    const asRoot = { authorization: `Bearer ${ROOT_TOKEN}` };
    expect((await cluster.http('n1', 'GET', '/v1/kv/a')).status).toBe(401);
    expect((await cluster.http('n1', 'GET', '/health')).status).toBe(200);
    await waitFor('the bootstrap token', 10_000, async () => ((await cluster!.http('n1', 'GET', '/v1/auth/whoami', undefined, asRoot)).status === 200 ? true : undefined));
    await cluster.http('n1', 'POST', '/v1/auth/roles', { name: 'app', permissions: [{ resource: 'key', access: 'readwrite', prefix: 'app/' }] }, asRoot);
    await cluster.http('n1', 'POST', '/v1/auth/users', { name: 'app', roles: ['app'] }, asRoot);
    const created = await cluster.http('n1', 'POST', '/v1/auth/tokens', { user: 'app' }, asRoot);
    const asApp = { authorization: `Bearer ${(created.body as { token: string }).token}` };
    for (let i = 0; i < 6; i++) expect((await cluster.http('n1', 'PUT', `/v1/kv/app/${i}`, { value: String(i) }, asApp)).status).toBe(200);

    // Rate limit: 20 per second per token (80 at once: a busy machine may spread them over a second or two).
    const burst = await Promise.all(Array.from({ length: 80 }, () => cluster!.http('n1', 'GET', '/v1/kv/app/0', undefined, asApp)));
    const limited = burst.filter((answer) => answer.status === 429);
    expect(limited.length).toBeGreaterThan(0);
    expect(limited[0]!.body).toMatchObject({ error: { code: 'overloaded' } });
    expect(limited[0]!.headers['retry-after']).toBe('1');

    // A restart with another token in the file: the state (snapshotted every 5 entries) keeps
    // users and tokens, and the changed file is ignored because an admin exists.
    await writeFile(root, 'another-bootstrap-token-0123456789abcdef\n');
    await cluster.stop('n1');
    cluster.start('n1');
    await cluster.waitReady('n1');
    await waitFor('the old root token after restart', 10_000, async () => ((await cluster!.http('n1', 'GET', '/v1/auth/whoami', undefined, asRoot)).status === 200 ? true : undefined));
    expect((await cluster.http('n1', 'GET', '/v1/kv/app/5', undefined, asApp)).body).toMatchObject({ value: '5' });
    expect((await cluster.http('n1', 'GET', '/v1/cluster', undefined, { authorization: 'Bearer another-bootstrap-token-0123456789abcdef' })).status).toBe(401);
    // The leader looks at the file every few polls: the warning comes within a moment.
    await waitFor('the ignored-file warning', 5_000, async () =>
      cluster!.findLog('n1', (line) => String(line['msg'] ?? '').includes('bootstrap token file holds no live token')),
    );
  }, 90_000);
});
