// The `concord` client commands as users run them: `node bin/concord.js ...` in a child process
// against an in-process 3-node cluster (one for the whole file), checking output (tables and
// --json) and exit codes.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Concord } from '../../src/client/index.ts';
import { TestCluster } from '../server/cluster-harness.ts';
import { runConcord, type Run, type RunOptions } from './run-concord.ts';

const BIN = fileURLToPath(new URL('../../bin/concord.js', import.meta.url));

let cluster: TestCluster;
let endpoints: string;

/** Runs `concord --endpoints <cluster> ...args` to completion (bounded). */
function concord(args: readonly string[], options: RunOptions & { endpoints?: string } = {}): Promise<Run> {
  return runConcord(options.endpoints ?? endpoints, args, options);
}

beforeAll(async () => {
  cluster = await TestCluster.start();
  await cluster.waitForLeader();
  endpoints = cluster.members.map((member) => member.url).join(',');
});

afterAll(async () => {
  await cluster?.stop();
});

describe('concord client commands', () => {
  it('put, get, ls and del round-trip, as tables and as --json', async () => {
    const put = await concord(['put', 'app/a', 'one']);
    expect(put).toMatchObject({ code: 0, stderr: '' });
    expect(put.stdout).toMatch(/^OK revision \d+\n$/);
    const putJson = await concord(['put', 'app/b', 'two words', '--json']);
    expect(putJson.code).toBe(0);
    const { revision } = JSON.parse(putJson.stdout) as { revision: number };
    expect(revision).toBeGreaterThan(0);

    const [get, getJson, ls, lsJson] = await Promise.all([
      concord(['get', 'app/a']),
      concord(['get', 'app/b', '--json']),
      concord(['ls', 'app/']),
      concord(['ls', 'app/', '--json']),
    ]);
    expect(get).toMatchObject({ code: 0, stdout: 'one\n' });
    expect(JSON.parse(getJson.stdout)).toMatchObject({ key: 'app/b', value: 'two words', modRevision: revision, version: 1 });
    expect(ls.code).toBe(0);
    const lines = ls.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^KEY\s+VALUE\s+MOD-REV\s+VERSION\s+LEASE$/);
    expect(lines.slice(1)).toHaveLength(2);
    expect(lines[1]).toMatch(/^app\/a\s+one\s+\d+\s+1$/);
    expect(lines[2]).toMatch(new RegExp(`^app/b\\s+two words\\s+${revision}\\s+1$`));
    const listed = JSON.parse(lsJson.stdout) as { items: { key: string; value: string }[]; more: boolean };
    expect(listed.items.map((item) => [item.key, item.value])).toEqual([['app/a', 'one'], ['app/b', 'two words']]);
    expect(listed.more).toBe(false);

    const del = await concord(['del', 'app/a', '--json']);
    expect(del.code).toBe(0);
    expect(JSON.parse(del.stdout)).toMatchObject({ deleted: 1 });
    const after = await concord(['ls', 'app/', '--keys-only']);
    expect(after).toMatchObject({ code: 0, stdout: 'app/b\n' });
  });

  it('exits 3 for not found, 4 for a failed compare, 2 for bad usage; --help exits 0', async () => {
    const [missing, missingJson, delMissing, badUsage, unknownFlag, unknownSub, help] = await Promise.all([
      concord(['get', 'no/such/key']),
      concord(['get', 'no/such/key', '--json']),
      concord(['del', 'no/such/key']),
      concord(['put', 'only-a-key']),
      concord(['ls', '--bogus']),
      concord(['lease', 'bogus']),
      concord(['put', '--help']),
    ]);
    expect(missing).toMatchObject({ code: 3, stdout: '' });
    expect(missing.stderr).toContain('not found');
    expect(JSON.parse(missingJson.stderr)).toEqual({ error: { code: 'not_found', message: 'key "no/such/key" not found', key: 'no/such/key' } });
    expect(delMissing.code).toBe(3);
    expect(badUsage.code).toBe(2);
    expect(badUsage.stderr).toContain('missing VALUE');
    expect(unknownFlag.code).toBe(2);
    expect(unknownSub.code).toBe(2);
    expect(help).toMatchObject({ code: 0, stderr: '' });
    expect(help.stdout).toContain('usage: concord put KEY VALUE');
    expect(help.stdout).toContain('--endpoints');

    await concord(['put', 'cas', 'v1']);
    const conflict = await concord(['put', 'cas', 'v2', '--if-revision', '0', '--json']);
    expect(conflict.code).toBe(4);
    expect(JSON.parse(conflict.stderr)).toMatchObject({ error: { code: 'compare_failed' } });
  });

  it('txn --file: key compares, lock and election token compares pick the branch, a stale fence refuses the txn', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'concord-txn-'));
    const sdk = new Concord({ endpoints });
    try {
      const lock = await sdk.lock('txn-db', { ttlMs: 10_000 });
      const txnFile = (name: string, body: unknown): string => {
        const path = join(dir, `${name}.json`);
        writeFileSync(path, JSON.stringify(body));
        return path;
      };
      const holding = txnFile('holding', {
        compare: [
          { key: 'txn/a', target: 'version', op: '==', value: 0 },
          { lock: 'txn-db', target: 'token', op: '==', value: lock.token },
          { election: 'txn-nobody', target: 'token', op: '==', value: 0 },
        ],
        success: [{ put: { key: 'txn/a', value: 'held' } }],
        failure: [{ get: { key: 'txn/a' } }],
        fence: { lock: 'txn-db', token: lock.token },
      });
      const held = await concord(['txn', '--file', holding, '--json']);
      expect(held).toMatchObject({ code: 0, stderr: '' });
      expect(JSON.parse(held.stdout)).toMatchObject({ succeeded: true, results: [{ put: {} }] });
      expect((await sdk.kv.get('txn/a'))?.value).toBe('held');

      // A token that is not the holder's: the failure branch runs (exit 4), the key stays.
      const otherToken = txnFile('other', {
        compare: [{ lock: 'txn-db', target: 'token', op: '==', value: lock.token + 1 }],
        success: [{ put: { key: 'txn/a', value: 'not mine' } }],
        failure: [{ get: { key: 'txn/a' } }],
      });
      const failed = await concord(['txn', '-f', otherToken]);
      expect(failed.code).toBe(4);
      expect(failed.stdout).toMatch(/^FAILED \(failure branch ran\) revision \d+\n\{"get":\{"kv":\{"key":"txn\/a","value":"held"/);
      expect((await sdk.kv.get('txn/a'))?.value).toBe('held');

      // Once released, the old token fences nothing: the whole txn is refused.
      await lock.release();
      const fenced = txnFile('fenced', { success: [{ put: { key: 'txn/a', value: 'late' } }], fence: { lock: 'txn-db', token: lock.token } });
      const stale = await concord(['txn', '--file', fenced, '--json']);
      expect(stale.code).toBe(4);
      expect(JSON.parse(stale.stderr)).toMatchObject({ error: { code: 'stale_token' } });
      expect((await sdk.kv.get('txn/a'))?.value).toBe('held');

      const malformed = await Promise.all([
        concord(['txn', '--file', txnFile('no-target', { compare: [{ lock: 'txn-db', op: '==', value: 1 }] })]),
        concord(['txn', '--file', txnFile('both', { compare: [{ lock: 'a', election: 'b', target: 'token', op: '==', value: 1 }] })]),
        concord(['txn', '--file', txnFile('bad-fence', { fence: { lock: 'txn-db' } })]),
      ]);
      for (const run of malformed) {
        expect(run.code).toBe(2);
        expect(run.stderr).toMatch(/bad (compare|fence)/);
      }
    } finally {
      await sdk.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('lock NAME -- CMD runs the command with CONCORD_LOCK_TOKEN while holding the lock, releases it and exits with its code', async () => {
    // The command shows the lock (through the CLI, on the CONCORD_ENDPOINTS it was given) and a fenced write with the token.
    const script = [
      'echo "token=$CONCORD_LOCK_TOKEN name=$CONCORD_LOCK_NAME"',
      `"${process.execPath}" "${BIN}" lock show job --json`,
      `"${process.execPath}" "${BIN}" put fenced yes --fence-lock job`,
      'exit 7',
    ].join('; ');
    const run = await concord(['lock', 'job', '--ttl-ms', '5000', '--', 'sh', '-c', script], { timeoutMs: 60_000 });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(7);
    const [first, view, put] = run.stdout.trimEnd().split('\n');
    const token = Number(/^token=(\d+) name=job$/.exec(first ?? '')?.[1]);
    expect(token).toBeGreaterThan(0);
    expect(JSON.parse(view ?? '')).toMatchObject({ name: 'job', held: true, holder: { token } });
    expect(put).toMatch(/^OK revision \d+$/);

    const after = await concord(['lock', 'show', 'job', '--json']);
    const released = JSON.parse(after.stdout) as { held: boolean; recent: { token: number; reason: string }[] };
    expect(released.held).toBe(false);
    expect(released.recent).toContainEqual(expect.objectContaining({ token, reason: 'released' }));
    // The fencing token no longer holds: a write fenced with it is refused.
    const stale = await concord(['put', 'fenced', 'no', '--fence-lock', 'job', '--token', String(token)]);
    expect(stale.code).toBe(4);
    expect(stale.stderr).toContain('stale_token');
  });

  it('lock NAME -- CMD stops the command with SIGTERM when the lock is lost', async () => {
    let leaseSeen: (lease: string) => void = () => undefined;
    const leaseId = new Promise<string>((resolve) => (leaseSeen = resolve));
    const running = concord(['lock', 'doomed', '--ttl-ms', '1500', '--', 'sh', '-c', 'echo "lease=$CONCORD_LOCK_LEASE"; exec sleep 30'], {
      onStdout: (soFar) => {
        const match = /lease=(\S+)\n/.exec(soFar);
        if (match?.[1] !== undefined) leaseSeen(match[1]);
      },
    });
    // Revoking the lock's lease behind the handle's back: its next keepalive learns the lease is gone.
    const revoked = await concord(['lease', 'revoke', await leaseId]);
    expect(revoked.code).toBe(0);
    const run = await running;
    expect(run.code).toBe(128 + 15);
    expect(run.stderr).toMatch(/concord lock: lock "doomed" .*lost.*stopping the command \(SIGTERM\)/);
  });

  it('status prints the members and one row per endpoint, and exits 5 when an endpoint is down', async () => {
    const leader = await cluster.waitForLeader();
    const status = await concord(['status']);
    expect(status.code).toBe(0);
    const text = status.stdout;
    expect(text).toMatch(/^MEMBER\s+ROLE\s+VOTER\s+CLIENT URL\s+PEER ADDRESS$/m);
    expect(text).toMatch(new RegExp(`^${leader.id}\\s+leader\\s+yes\\s+${leader.url}`, 'm'));
    expect(text).toMatch(/^ENDPOINT\s+NODE\s+LEADER\s+TERM\s+COMMIT\s+APPLIED\s+REVISION\s+HEALTH$/m);
    for (const member of cluster.members) {
      expect(text).toMatch(new RegExp(`^${member.url}\\s+${member.id}\\s+${leader.id}\\s+\\d+\\s+\\d+\\s+\\d+\\s+\\d+\\s+ok$`, 'm'));
    }

    const dead = 'http://127.0.0.1:9';
    const partly = await concord(['status', '--json', '--timeout-ms', '1000'], { endpoints: `${cluster.members[0]?.url},${dead}` });
    expect(partly.code).toBe(5);
    const parsed = JSON.parse(partly.stdout) as { members: { id: string; leader: boolean }[]; endpoints: { endpoint: string; healthy: boolean; health: string }[] };
    expect(parsed.members.filter((member) => member.leader).map((member) => member.id)).toEqual([leader.id]);
    expect(parsed.endpoints).toEqual([
      expect.objectContaining({ endpoint: cluster.members[0]?.url, healthy: true, health: 'ok' }),
      expect.objectContaining({ endpoint: dead, healthy: false, health: 'unreachable (unavailable)' }),
    ]);
  });
});
