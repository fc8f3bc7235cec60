// Maintenance over HTTP on an in-process 3-node cluster: a backup downloaded from a follower
// holds every write acknowledged before it (checked by restoring it), with the raft index and
// term it was taken at; compaction is replicated, refuses the future, and makes older watches
// 410; the SDK's maintenance client; transfer-leader without `to` picks the most caught-up voter.
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { Concord } from '../../src/client/index.ts';
import { KvStateMachine } from '../../src/kv/index.ts';
import { decodeBackup } from '../../src/maintenance/backup-format.ts';
import { call, sleep, TestCluster } from './cluster-harness.ts';

async function download(url: string): Promise<{ status: number; headers: Record<string, unknown>; bytes: Uint8Array }> {
  const response = await request(`${url}/v1/maintenance/snapshot`, { headersTimeout: 10_000, bodyTimeout: 10_000 });
  return { status: response.statusCode, headers: response.headers, bytes: new Uint8Array(await response.body.arrayBuffer()) };
}

async function until(what: string, condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe('maintenance', () => {
  let cluster: TestCluster;
  afterEach(async () => {
    await cluster.stop();
  });

  it('a follower serves a backup that holds every acknowledged write, at the raft index and term it names', async () => {
    cluster = await TestCluster.start();
    const leader = await cluster.leader();
    const [follower] = await cluster.followers();
    const lease = (await call(leader.url, 'POST', '/v1/leases', { json: { ttlMs: 60_000 } })).body.id as string;
    for (let i = 0; i < 20; i++) await call(leader.url, 'PUT', `/v1/kv/k/${i}`, { json: { value: `v${i}` } });
    const last = await call(leader.url, 'PUT', '/v1/kv/leased', { json: { value: 'x', lease } });
    expect(last.status).toBe(200);

    // Asked of a follower right after the leader acknowledged: the read barrier makes it wait.
    const answer = await download(follower!.url);
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toBe('application/octet-stream');
    expect(answer.headers['content-disposition']).toMatch(new RegExp(`^attachment; filename="concord-test-cluster-rev${last.body.revision}-\\d{8}T\\d{6}Z\\.db"$`));
    expect(answer.headers['x-concord-revision']).toBe(String(last.body.revision));
    const backup = decodeBackup(answer.bytes);
    expect(answer.headers['x-concord-backup-sha256']).toBe(backup.checksum);
    expect(backup.header.revision).toBe(last.body.revision);
    const raft = follower!.node.host.raft;
    expect(backup.header.raftIndex).toBeLessThanOrEqual(raft.appliedIndex);
    expect(backup.header.raftTerm).toBe(raft.entryAt(backup.header.raftIndex)?.term);

    const restored = new KvStateMachine();
    restored.restore(backup.payload);
    expect(restored.revision).toBe(leader.node.kv.revision);
    expect(restored.range('').items).toEqual(leader.node.kv.range('').items);
    expect(restored.lease(lease)).toEqual({ id: lease, ttlMs: 60_000, keys: ['leased'] });
  });

  it('compacts the watch history on every replica; watches from below get 410, the future is 400', async () => {
    cluster = await TestCluster.start();
    const [follower] = await cluster.followers();
    for (let i = 1; i <= 5; i++) await call(follower!.url, 'PUT', `/v1/kv/w/${i}`, { json: { value: `v${i}` } });

    const future = await call(follower!.url, 'POST', '/v1/maintenance/compact', { json: { revision: 99 } });
    expect(future.status).toBe(400);
    expect(future.body.error).toMatchObject({ code: 'invalid_argument' });
    expect(future.body.error.message).toMatch(/revision 99 is in the future \(now 5\)/);
    const bad = await call(follower!.url, 'POST', '/v1/maintenance/compact', { json: { revision: -1 } });
    expect(bad.status).toBe(400);

    const compacted = await call(follower!.url, 'POST', '/v1/maintenance/compact', { json: { revision: 3 } });
    expect(compacted.status).toBe(200);
    expect(compacted.body).toEqual({ revision: 5, compactRevision: 3 });
    await until('every replica to compact', () => cluster.members.every((member) => member.node.kv.compactRevision === 3));

    for (const member of cluster.members) {
      const gone = await call(member.url, 'GET', '/v1/watch?prefix=w/&fromRevision=3');
      expect(gone.status).toBe(410);
      expect(gone.body.error).toMatchObject({ code: 'compacted', compactRevision: 3 });
    }
    // Compacting below the point again changes nothing.
    expect((await call(follower!.url, 'POST', '/v1/maintenance/compact', { json: { revision: 2 } })).body).toEqual({ revision: 5, compactRevision: 3 });
    // The compaction point travels in backups.
    const backup = decodeBackup((await download(follower!.url)).bytes);
    const restored = new KvStateMachine();
    restored.restore(backup.payload);
    expect(restored.compactRevision).toBe(3);
    expect(restored.eventsSince(4, { prefix: 'w/' })).toMatchObject({ compacted: false, events: [{ key: 'w/4' }, { key: 'w/5' }] });
  });

  it('the SDK downloads a backup and compacts', async () => {
    cluster = await TestCluster.start();
    await cluster.leader();
    const concord = new Concord({ endpoints: cluster.members.map((member) => member.url) });
    try {
      await concord.kv.put('a', '1');
      const { revision } = await concord.kv.put('b', '2');
      const backup = await concord.maintenance.snapshot();
      expect(backup.revision).toBe(revision);
      expect(backup.fileName).toMatch(/^concord-test-cluster-rev2-/);
      expect(decodeBackup(backup.data).checksum).toBe(backup.sha256);
      expect(await concord.maintenance.compact(revision)).toEqual({ revision, compactRevision: revision });
      await expect(concord.maintenance.compact(revision + 10)).rejects.toMatchObject({ code: 'invalid_argument' });
    } finally {
      await concord.close();
    }
  });

  it('transfer-leader without `to` hands leadership to the most caught-up voter', async () => {
    cluster = await TestCluster.start();
    const leader = await cluster.leader();
    const [behind, current] = await cluster.followers();
    cluster.network.isolated.add(behind!.id);
    for (let i = 0; i < 5; i++) await call(leader.url, 'PUT', `/v1/kv/t/${i}`, { json: { value: 'x' } });
    cluster.network.isolated.delete(behind!.id);

    const moved = await call(leader.url, 'POST', '/v1/cluster/transfer-leader', { json: {} });
    expect(moved.status).toBe(200);
    expect(moved.body.leaderId).toBe(current!.id);
    await until('the new leader to be known everywhere', () => cluster.members.every((member) => member.node.host.raft.leader === current!.id));
  });
});
