/**
 * Real processes: backup and restore, and the leader's hand-off on SIGTERM.
 *
 * A live 3-node cluster gets keys (puts, overwrites, deletes) and a lease with keys on it;
 * `concord snapshot save` downloads a backup; `concord snapshot restore` seeds three fresh data
 * dirs, and a new cluster on other addresses and ports starts on them. Every key (value and
 * revisions), the lease and the revision must be the same there. Then SIGTERM on the old
 * cluster's leader must move leadership to another node before the process exits.
 */
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalCluster, waitFor, type HttpAnswer } from './harness.ts';

const BIN = fileURLToPath(new URL('../../bin/concord.js', import.meta.url));
const RESTORED_CLUSTER_ID = 'concord-restored';

let source: LocalCluster;
let restored: LocalCluster | null = null;

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function concord(args: readonly string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`concord ${args.join(' ')} did not finish: ${stdout} ${stderr}`));
    }, 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function ok(answer: HttpAnswer, what: string): Record<string, unknown> {
  expect(answer.status, `${what}: ${answer.text}`).toBe(200);
  return answer.body as Record<string, unknown>;
}

beforeAll(async () => {
  source = await LocalCluster.create({ extraArgs: ['--snapshot-every', '16'], echo: process.env['CONCORD_TEST_ECHO'] === '1' });
  source.startAll();
  await source.waitLeader(30_000);
}, 45_000);

afterAll(async () => {
  await restored?.destroy();
  await source?.destroy();
}, 30_000);

describe('backup and restore between real clusters', () => {
  it('restores every key, the lease and the revision into a new cluster on other addresses', async () => {
    const [first, second, third] = source.ids as [string, string, string];
    const lease = ok(await source.http(first, 'POST', '/v1/leases', { ttlMs: 120_000 }), 'grant').id as string;
    for (let i = 0; i < 40; i++) ok(await source.http(i % 2 === 0 ? second : third, 'PUT', `/v1/kv/app/k${i % 25}`, { value: `v${i}` }), 'put');
    ok(await source.http(first, 'DELETE', '/v1/kv/app/k3'), 'delete');
    ok(await source.http(first, 'PUT', '/v1/kv/svc/a', { value: 'on-lease', lease }), 'leased put');
    ok(await source.http(second, 'PUT', '/v1/kv/svc/b', { value: 'on-lease too', lease }), 'leased put');
    const lastWrite = ok(await source.http(third, 'PUT', '/v1/kv/last', { value: 'acknowledged just before the backup' }), 'put');

    const root = source.root;
    const file = path.join(root, 'backup.db');
    const endpoints = source.ids.map((id) => source.url(id)).join(',');
    const saved = await concord(['snapshot', 'save', file, '--endpoints', endpoints, '--json']);
    expect(saved.code, saved.stderr).toBe(0);
    const summary = JSON.parse(saved.stdout) as { revision: number; keys: number; leases: number; sha256: string; sizeBytes: number };
    expect(summary).toMatchObject({ revision: lastWrite.revision, keys: 25 - 1 + 3, leases: 1 });
    expect(summary.sha256).toMatch(/^[0-9a-f]{64}$/);
    const before = ok(await source.http(first, 'GET', '/v1/kv?prefix='), 'range') as { revision: number; items: unknown[] };
    const leaseBefore = ok(await source.http(first, 'GET', `/v1/leases/${lease}`), 'lease');
    expect(before.revision).toBe(summary.revision);

    // A damaged or cut-short copy is refused (exit 7), and so is a used data dir (exit 2).
    const bytes = await readFile(file);
    expect(bytes.length).toBe(summary.sizeBytes);
    await writeFile(path.join(root, 'cut.db'), bytes.subarray(0, bytes.length - 100));
    const flipped = Buffer.from(bytes);
    flipped[200] = (flipped[200] ?? 0) ^ 0x04;
    await writeFile(path.join(root, 'flipped.db'), flipped);
    const cut = await concord(['snapshot', 'status', path.join(root, 'cut.db')]);
    expect(cut.code).toBe(7);
    expect(cut.stderr).toMatch(/backup file is truncated/);
    const damaged = await concord(['snapshot', 'restore', path.join(root, 'flipped.db'), '--data-dir', path.join(root, 'never'), '--id', 'n1', '--initial-cluster', 'n1=127.0.0.1:1']);
    expect(damaged.code).toBe(7);
    expect(damaged.stderr).toMatch(/backup file is corrupt: SHA-256/);
    expect(await concord(['snapshot', 'status', file])).toMatchObject({ code: 0 });

    restored = await LocalCluster.create({ firstHostOctet: 21, clusterId: RESTORED_CLUSTER_ID, echo: process.env['CONCORD_TEST_ECHO'] === '1' });
    const target = restored;
    for (const id of target.ids) {
      const { dataDir, initialCluster } = target.node(id).spec;
      const run = await concord(['snapshot', 'restore', file, '--data-dir', dataDir, '--id', id, '--initial-cluster', initialCluster, '--cluster-id', RESTORED_CLUSTER_ID, '--json']);
      expect(run.code, run.stderr).toBe(0);
      expect(JSON.parse(run.stdout)).toMatchObject({ id, clusterId: RESTORED_CLUSTER_ID, revision: summary.revision, sha256: summary.sha256 });
    }
    const again = await concord(['snapshot', 'restore', file, '--data-dir', target.node('n1').spec.dataDir, '--id', 'n1', '--initial-cluster', target.node('n1').spec.initialCluster]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/is not empty/);

    // A node started on a restored data dir under another explicit cluster id refuses to start.
    const intruder = target.startExtra({ ...target.node('n1').spec, clusterId: 'someone-else' });
    expect(await intruder.exited).toBe(1);
    expect(intruder.rawLines.join('\n')).toMatch(/belongs to cluster \\?"concord-restored\\?"/);

    target.startAll();
    const newLeader = await target.waitLeader(30_000);
    for (const id of target.ids) {
      const view = ok(await target.http(id, 'GET', '/v1/cluster'), 'cluster');
      expect(view).toMatchObject({ clusterId: RESTORED_CLUSTER_ID, leaderId: newLeader });
      const after = ok(await target.http(id, 'GET', '/v1/kv?prefix='), 'range');
      expect(after).toEqual(before);
      expect(ok(await target.http(id, 'GET', '/v1/kv/last'), 'get')).toMatchObject({ value: 'acknowledged just before the backup', modRevision: lastWrite.revision });
    }
    const leaseAfter = ok(await target.http(newLeader, 'GET', `/v1/leases/${lease}`), 'lease');
    expect(leaseAfter).toMatchObject({ id: lease, ttlMs: 120_000, keys: leaseBefore.keys });
    // The revision continues from the backup's.
    const next = ok(await target.http('n2', 'PUT', '/v1/kv/after-restore', { value: 'x' }), 'put');
    expect(next.revision).toBe(summary.revision + 1);
    // The old cluster is another cluster: its nodes and the new ones do not talk.
    expect(ok(await source.http(first, 'GET', '/v1/cluster'), 'cluster').clusterId).toBe('concord-test');
  }, 120_000);
});

describe('rolling restarts', () => {
  it('SIGTERM on the leader hands leadership to another node before the process exits', async () => {
    const leader = await source.waitLeader();
    const term = ok(await source.http(leader, 'GET', '/v1/cluster'), 'cluster').term as number;
    expect(await source.stop(leader, 'SIGTERM')).toBe(0);

    const handed = source.findLog(leader, (line) => typeof line.msg === 'string' && line.msg.startsWith('leadership handed to'));
    expect(handed, source.tail(leader)).toBeDefined();
    const successor = handed?.['leader'] as string;
    expect(successor).not.toBe(leader);
    expect(source.ids).toContain(successor);
    // The successor won by the transfer (no pre-vote, no election timeout): one term later.
    expect(source.findLog(successor, (line) => line.msg === 'raft: leadership-transferred')).toBeDefined();
    const view = ok(await source.http(successor, 'GET', '/v1/cluster'), 'cluster');
    expect(view).toMatchObject({ leaderId: successor, term: term + 1 });
    ok(await source.http(successor, 'PUT', '/v1/kv/after-handoff', { value: 'x' }), 'write on the new leader');

    source.start(leader);
    await waitFor('the old leader to rejoin as a follower', 30_000, async () => {
      const answer = await source.http(leader, 'GET', '/v1/cluster', undefined, {}, 1_000);
      return answer.status === 200 && (answer.body as { leaderId: string }).leaderId === successor ? true : undefined;
    });
  }, 60_000);
});
