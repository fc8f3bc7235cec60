// Auth as replicated state: the commands applied through the KV state machine (encoded into log
// entries as a node would), their refusals, determinism across replicas, and the snapshot
// round trip (hashes only, and equal bytes for equal states).
import { describe, expect, it } from 'vitest';
import { KvStateMachine, encodeCommand, type KvCommandBody } from '../../src/kv/index.ts';
import { Harness, digest } from '../kv/harness.ts';

const HASH_A = 'a'.repeat(64);
const HASH_B = 'b'.repeat(64);
const HASH_C = 'c'.repeat(64);

function withAdmin(): Harness {
  const h = new Harness();
  expect(h.run({ type: 'authBootstrap', hash: HASH_A })).toMatchObject({ bootstrapped: true, authRevision: 1 });
  return h;
}

describe('auth commands', () => {
  it('bootstraps root once: a second bootstrap, even with another hash, changes nothing', () => {
    const h = withAdmin();
    const auth = h.machine.auth;
    expect(auth.user('root')).toEqual({ name: 'root', roles: ['root'] });
    expect(auth.role('root')?.permissions).toEqual([{ resource: 'admin' }]);
    expect(auth.tokenByHash(HASH_A)).toMatchObject({ id: 'bootstrap', user: 'root' });
    expect(h.run({ type: 'authBootstrap', hash: HASH_B })).toMatchObject({ bootstrapped: false, authRevision: 1 });
    expect(auth.tokenByHash(HASH_B)).toBeUndefined();
    expect(auth.hasAdmin()).toBe(true);
  });

  it('creates roles and users, resolves permissions, and refuses unknown roles', () => {
    const h = withAdmin();
    const permissions = [{ resource: 'key' as const, access: 'read' as const, prefix: 'app/' }];
    expect(h.run({ type: 'authRolePut', name: 'reader', permissions })).toMatchObject({ created: true, role: { name: 'reader', permissions } });
    expect(h.run({ type: 'authUserPut', name: 'alice', roles: ['reader', 'reader'] })).toMatchObject({ user: { name: 'alice', roles: ['reader'] } });
    expect(h.machine.auth.permissionsOf('alice')).toEqual(permissions);
    expect(h.run({ type: 'authUserPut', name: 'bob', roles: ['nope'] })).toMatchObject({ error: { code: 'not_found', role: 'nope' } });
    expect(h.machine.auth.user('bob')).toBeUndefined();
  });

  it('takes a deleted role from every user, and deletes a user with its tokens', () => {
    const h = withAdmin();
    h.run({ type: 'authRolePut', name: 'reader', permissions: [] });
    h.run({ type: 'authUserPut', name: 'alice', roles: ['reader'] });
    h.run({ type: 'authTokenCreate', id: 't1', user: 'alice', hash: HASH_B });
    expect(h.run({ type: 'authRoleDelete', name: 'reader' })).toMatchObject({ tokensRevoked: 0 });
    expect(h.machine.auth.user('alice')?.roles).toEqual([]);
    expect(h.run({ type: 'authUserDelete', name: 'alice' })).toMatchObject({ tokensRevoked: 1 });
    expect(h.machine.auth.tokenByHash(HASH_B)).toBeUndefined();
    expect(h.run({ type: 'authUserDelete', name: 'alice' })).toMatchObject({ error: { code: 'not_found' } });
  });

  it('refuses any change that would leave no admin', () => {
    const h = withAdmin();
    expect(h.run({ type: 'authUserDelete', name: 'root' })).toMatchObject({ error: { code: 'invalid_argument', message: expect.stringContaining('no user holding admin') } });
    expect(h.run({ type: 'authRoleDelete', name: 'root' })).toMatchObject({ error: { code: 'invalid_argument' } });
    expect(h.run({ type: 'authRolePut', name: 'root', permissions: [] })).toMatchObject({ error: { code: 'invalid_argument' } });
    expect(h.run({ type: 'authUserPut', name: 'root', roles: [] })).toMatchObject({ error: { code: 'invalid_argument' } });
    expect(h.machine.auth.hasAdmin()).toBe(true);
    // With a second admin, the first may go.
    h.run({ type: 'authUserPut', name: 'ops', roles: ['root'] });
    expect(h.run({ type: 'authUserDelete', name: 'root' })).toMatchObject({ tokensRevoked: 1 });
  });

  it('creates and revokes tokens, refusing duplicates and unknown users', () => {
    const h = withAdmin();
    expect(h.run({ type: 'authTokenCreate', id: 't1', user: 'root', hash: HASH_B, description: 'ci' })).toMatchObject({
      token: { id: 't1', user: 'root', createdAtMs: h.nowMs, description: 'ci' },
    });
    expect(h.run({ type: 'authTokenCreate', id: 't1', user: 'root', hash: HASH_C })).toMatchObject({ error: { code: 'compare_failed' } });
    expect(h.run({ type: 'authTokenCreate', id: 't2', user: 'root', hash: HASH_B })).toMatchObject({ error: { code: 'invalid_argument' } });
    expect(h.run({ type: 'authTokenCreate', id: 't3', user: 'ghost', hash: HASH_C })).toMatchObject({ error: { code: 'not_found' } });
    expect(h.machine.auth.tokens().map((token) => token.id)).toEqual(['bootstrap', 't1']);
    expect(JSON.stringify(h.machine.auth.tokens())).not.toContain(HASH_B);
    expect(h.run({ type: 'authTokenRevoke', id: 't1' })).toMatchObject({ tokensRevoked: 1 });
    expect(h.machine.auth.tokenByHash(HASH_B)).toBeUndefined();
  });

  it('expires tokens by the proposer time carried in the entry, not by any replica clock', () => {
    const h = withAdmin();
    h.run({ type: 'authTokenCreate', id: 'short', user: 'root', hash: HASH_B, ttlMs: 5000 });
    expect(h.machine.auth.tokenByHash(HASH_B)).toMatchObject({ expiresAtMs: h.nowMs + 5000 });
    h.run({ type: 'authRolePut', name: 'x', permissions: [] }, { proposedAtMs: h.nowMs + 4999 });
    expect(h.machine.auth.tokenByHash(HASH_B)).toBeDefined();
    h.run({ type: 'authRolePut', name: 'y', permissions: [] }, { proposedAtMs: h.nowMs + 5000 });
    expect(h.machine.auth.tokenByHash(HASH_B)).toBeUndefined();
  });

  it('refuses malformed bodies before they reach the log', () => {
    const bad: unknown[] = [
      { type: 'authRolePut', name: 'r', permissions: [{ resource: 'key', access: 'read' }] },
      { type: 'authRolePut', name: 'r', permissions: [{ resource: 'key', access: 'read', prefix: 'a', name: 'b' }] },
      { type: 'authRolePut', name: 'r', permissions: [{ resource: 'disk', access: 'read', prefix: '' }] },
      { type: 'authRolePut', name: 'r', permissions: [{ resource: 'key', access: 'all', prefix: '' }] },
      { type: 'authRolePut', name: 'r', permissions: [{ resource: 'admin', access: 'read' }] },
      { type: 'authRolePut', name: 'r', permissions: [{ resource: 'key', access: 'read', name: '' }] },
      { type: 'authUserPut', name: '-bad', roles: [] },
      { type: 'authUserPut', name: 'a b', roles: [] },
      { type: 'authTokenCreate', id: 't', user: 'root', hash: 'xyz' },
      { type: 'authTokenCreate', id: 't', user: 'root', hash: HASH_B, ttlMs: 10 },
      { type: 'authBootstrap', hash: HASH_B.toUpperCase() },
    ];
    for (const body of bad) {
      expect(() => encodeCommand({ proposedAtMs: 1, body: body as KvCommandBody }), JSON.stringify(body)).toThrow(
        expect.objectContaining({ code: 'invalid_argument' }) as Error,
      );
    }
  });

  it('leaves the KV revision and the watch feed alone', () => {
    const h = new Harness();
    h.put('a', '1');
    const outcome = h.apply({ type: 'authBootstrap', hash: HASH_A });
    expect(outcome.revision).toBe(1);
    expect(h.machine.eventsSince(1, { prefix: '' })).toMatchObject({ events: [{ key: 'a' }] });
  });
});

describe('auth in snapshots', () => {
  function populated(): Harness {
    const h = withAdmin();
    h.run({ type: 'authRolePut', name: 'reader', permissions: [{ resource: 'key', access: 'read', prefix: '' }, { resource: 'lock', access: 'write', name: 'l' }] });
    h.run({ type: 'authRolePut', name: 'alpha', permissions: [] });
    h.run({ type: 'authUserPut', name: 'zed', roles: ['reader', 'alpha'] });
    h.run({ type: 'authTokenCreate', id: 'tz', user: 'zed', hash: HASH_B, ttlMs: 60_000, description: 'z' });
    h.put('k', 'v');
    return h;
  }

  it('round-trips users, roles, tokens and the auth revision, byte for byte, with hashes only', () => {
    const h = populated();
    const restored = new KvStateMachine();
    restored.restore(h.machine.snapshot());
    expect(restored.auth.users()).toEqual(h.machine.auth.users());
    expect(restored.auth.roles()).toEqual(h.machine.auth.roles());
    expect(restored.auth.tokens()).toEqual(h.machine.auth.tokens());
    expect(restored.auth.tokenByHash(HASH_B)).toEqual(h.machine.auth.tokenByHash(HASH_B));
    expect(restored.auth.authRevision).toBe(h.machine.auth.authRevision);
    expect(digest(restored.snapshot())).toBe(digest(h.machine.snapshot()));
  });

  it('keeps restored replicas applying auth commands in step', () => {
    const h = populated();
    const twin = new Harness(new KvStateMachine());
    twin.machine.restore(h.machine.snapshot());
    twin.index = h.index;
    const next: KvCommandBody[] = [
      { type: 'authUserDelete', name: 'zed' },
      { type: 'authTokenCreate', id: 't9', user: 'root', hash: HASH_C },
      { type: 'authRoleDelete', name: 'alpha' },
    ];
    for (const body of next) expect(twin.run(body)).toEqual(h.run(body));
    expect(digest(twin.machine.snapshot())).toBe(digest(h.machine.snapshot()));
  });

  it('encodes equal states equally whatever order they were built in', () => {
    const one = withAdmin();
    const two = withAdmin();
    for (const name of ['b', 'a']) one.run({ type: 'authRolePut', name, permissions: [] });
    for (const name of ['a', 'b']) two.run({ type: 'authRolePut', name, permissions: [] });
    expect(digest(one.machine.snapshot())).toBe(digest(two.machine.snapshot()));
  });

  it('refuses a snapshot whose tokens name an unknown user, leaving the machine as it was', async () => {
    const { Packr } = await import('msgpackr');
    const packr = new Packr({ useRecords: false, mapsAsObjects: true });
    const h = populated();
    const snapshot = h.machine.snapshot();
    const root = packr.unpack(snapshot.subarray(5)) as { auth: { tokens: unknown[][] } };
    const token = root.auth.tokens[0];
    if (token === undefined) throw new Error('no token');
    token[1] = 'ghost';
    const payload = packr.pack(root);
    const tampered = new Uint8Array(5 + payload.length);
    tampered.set(snapshot.subarray(0, 5));
    tampered.set(payload, 5);
    const target = new Harness();
    target.put('x', '1');
    const before = digest(target.machine.snapshot());
    expect(() => target.machine.restore(tampered)).toThrow(expect.objectContaining({ code: 'storage_failure' }) as Error);
    expect(digest(target.machine.snapshot())).toBe(before);
  });
});
