// The SDK with a token against an in-process 3-node cluster running --auth: an admin client
// manages roles, users and tokens through concord.auth; a client with a scoped token reads and
// writes inside its prefix, gets permission_denied outside it and unauthenticated once revoked;
// a client without a token gets unauthenticated.
import { afterEach, describe, expect, it } from 'vitest';
import { Concord, ConcordError } from '../../src/client/index.ts';
import { hashToken } from '../../src/server/auth/token-secrets.ts';
import { sleep, TestCluster } from '../server/cluster-harness.ts';

const ROOT_TOKEN = 'sdk-bootstrap-token-0123456789abcdef';

async function rejection(promise: Promise<unknown>): Promise<ConcordError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ConcordError);
    return error as ConcordError;
  }
  throw new Error('expected a rejection');
}

describe('the SDK with auth', () => {
  let cluster: TestCluster;
  const clients: Concord[] = [];
  const client = (token?: string): Concord => {
    const concord = new Concord({ endpoints: cluster.members.map((member) => member.url), timeoutMs: 3000, ...(token === undefined ? {} : { token }) });
    clients.push(concord);
    return concord;
  };
  afterEach(async () => {
    for (const concord of clients.splice(0)) await concord.close();
    await cluster.stop();
  });

  it('manages users, roles and tokens, and enforces them on scoped clients', async () => {
    cluster = await TestCluster.start({ auth: { enabled: true, bootstrapTokenHash: hashToken(ROOT_TOKEN) } });
    await cluster.leader();
    const admin = client(ROOT_TOKEN);
    let whoami = await admin.auth.whoami().catch(() => null);
    for (let i = 0; whoami === null && i < 100; i++) {
      await sleep(20);
      whoami = await admin.auth.whoami().catch(() => null);
    }
    expect(whoami).toMatchObject({ authEnabled: true, user: 'root', roles: ['root'] });

    await admin.auth.putRole('svc', [
      { resource: 'key', access: 'readwrite', prefix: 'svc/' },
      { resource: 'lock', access: 'readwrite', prefix: 'svc-' },
    ]);
    await admin.auth.putUser('svc-user', ['svc']);
    const created = await admin.auth.createToken('svc-user', { description: 'sdk test', ttlMs: 600_000 });
    expect(created.info).toMatchObject({ user: 'svc-user', description: 'sdk test' });
    expect((await admin.auth.user('svc-user')).tokens.map((token) => token.id)).toEqual([created.info.id]);
    expect((await admin.auth.roles()).map((role) => role.name)).toEqual(['root', 'svc']);

    const scoped = client(created.token);
    await scoped.kv.put('svc/a', '1');
    expect((await scoped.kv.get('svc/a'))?.value).toBe('1');
    expect((await scoped.kv.range('svc/')).items).toHaveLength(1);
    const lock = await scoped.lock('svc-lock', { ttlMs: 2000 });
    await lock.release();
    expect((await rejection(scoped.kv.put('other', 'x'))).code).toBe('permission_denied');
    expect((await rejection(scoped.kv.range(''))).code).toBe('permission_denied');
    expect((await rejection(scoped.auth.users())).code).toBe('permission_denied');
    expect((await rejection(client().kv.get('svc/a'))).code).toBe('unauthenticated');
    expect((await rejection(client('concord_wrong').kv.get('svc/a'))).code).toBe('unauthenticated');

    await admin.auth.revokeToken(created.info.id);
    const deadline = Date.now() + 3000;
    let code = '';
    while (Date.now() < deadline && code !== 'unauthenticated') {
      code = await scoped.kv.get('svc/a').then(() => 'ok', (error: ConcordError) => error.code);
    }
    expect(code).toBe('unauthenticated');
  });
});
