// `concord auth ...` and `--token` as users run them: `node bin/concord.js` in child processes
// against an in-process cluster running --auth (one cluster for the file; the tests run in order
// and each leaves the state the next expects): role, user and token management with tables and
// --json, a scoped token through --token, exit 8 when unauthenticated or denied, and the
// permission syntax.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatPermission, parsePermissionSpec } from '../../src/cli/auth-commands.ts';
import { hashToken } from '../../src/server/auth/token-secrets.ts';
import { call, sleep, TestCluster } from '../server/cluster-harness.ts';
import { runConcord } from './run-concord.ts';

const ROOT_TOKEN = 'cli-bootstrap-token-0123456789abcdef';
let cluster: TestCluster;
let endpoints: string;
let appToken = '';

beforeAll(async () => {
  cluster = await TestCluster.start({ auth: { enabled: true, bootstrapTokenHash: hashToken(ROOT_TOKEN) } });
  const leader = await cluster.waitForLeader();
  endpoints = cluster.members.map((member) => member.url).join(',');
  for (let i = 0; i < 100; i++) {
    if ((await call(leader.url, 'GET', '/v1/auth/whoami', { headers: { authorization: `Bearer ${ROOT_TOKEN}` } })).status === 200) return;
    await sleep(20);
  }
  throw new Error('no bootstrap');
});

afterAll(async () => {
  await cluster?.stop();
});

describe('permission specs', () => {
  it('parses and prints admin, prefix and exact permissions, and refuses bad ones', () => {
    for (const spec of ['admin', 'key:read:prefix=app/', 'key:readwrite:prefix=', 'lock:write:name=leader', 'service:read:name=a=b']) {
      expect(formatPermission(parsePermissionSpec(spec))).toBe(spec);
    }
    expect(parsePermissionSpec('election:read:prefix=x')).toEqual({ resource: 'election', access: 'read', prefix: 'x' });
    for (const bad of ['', 'key', 'key:read', 'key:all:prefix=a', 'disk:read:prefix=a', 'key:read:name=', 'key:read:app/']) {
      expect(() => parsePermissionSpec(bad), bad).toThrow(/bad permission/);
    }
  });
});

describe('concord auth', () => {
  const root = ['--token', ROOT_TOKEN];
  let tokenId = '';

  it('manages roles, users and tokens as admin, with tables and --json', async () => {
    const role = await runConcord(endpoints, [...root, 'auth', 'role', 'add', 'app', '--permission', 'key:readwrite:prefix=app/', '--permission', 'lock:write:name=app-lock']);
    expect(role.stderr).toBe('');
    expect(role.code).toBe(0);
    expect(role.stdout).toContain('role app created: key:readwrite:prefix=app/ lock:write:name=app-lock');
    const user = await runConcord(endpoints, [...root, '--json', 'auth', 'user', 'add', 'ci', '--role', 'app']);
    expect(JSON.parse(user.stdout)).toMatchObject({ user: { name: 'ci', roles: ['app'] }, created: true });
    const token = await runConcord(endpoints, [...root, '--json', 'auth', 'token', 'create', 'ci', '--description', 'pipeline', '--ttl-ms', '3600000']);
    expect(token.code).toBe(0);
    const created = JSON.parse(token.stdout) as { token: string; id: string; user: string; expiresAtMs: number; createdAtMs: number };
    expect(created).toMatchObject({ user: 'ci', description: 'pipeline' });
    expect(created.expiresAtMs - created.createdAtMs).toBe(3_600_000);
    appToken = created.token;
    tokenId = created.id;
    const tokens = await runConcord(endpoints, [...root, 'auth', 'token', 'ls']);
    expect(tokens.stdout.split('\n')[0]).toMatch(/^ID\s+USER\s+CREATED\s+EXPIRES\s+DESCRIPTION$/);
    expect(tokens.stdout).toMatch(new RegExp(`${created.id}\\s+ci\\s+\\S+\\s+\\S+\\s+pipeline`));
    expect(tokens.stdout).toMatch(/bootstrap\s+root\s+\S+\s+never\s+bootstrap token/);
    expect(tokens.stdout).not.toContain(created.token);
  });

  it('uses a scoped token given before the command or as --token after it, and exits 8 when unauthenticated or denied', async () => {
    const [put, whoami, denied, anonymous] = await Promise.all([
      runConcord(endpoints, ['--token', appToken, 'put', 'app/x', '1']),
      runConcord(endpoints, ['auth', 'whoami', '--token', appToken]),
      runConcord(endpoints, ['--token', appToken, 'put', 'other', '1']),
      runConcord(endpoints, ['get', 'app/x']),
    ]);
    expect(put.code).toBe(0);
    expect(whoami.stdout).toMatch(/ci\s+t[0-9a-f]+\s+app\s+key:readwrite:prefix=app\/ lock:write:name=app-lock/);
    expect(denied.code).toBe(8);
    expect(denied.stderr).toContain('permission_denied');
    expect(anonymous.code).toBe(8);
    expect(anonymous.stderr).toContain('unauthenticated');
  });

  it('revokes a token', async () => {
    const revoke = await runConcord(endpoints, [...root, 'auth', 'token', 'revoke', tokenId]);
    expect(revoke.code).toBe(0);
    expect(revoke.stdout).toContain(`token ${tokenId} revoked`);
    await sleep(100);
    const after = await runConcord(endpoints, ['--token', appToken, 'get', 'app/x']);
    expect(after.code).toBe(8);
  });
});
