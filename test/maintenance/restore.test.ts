// Restoring a backup into a data dir: the backup's KV snapshot becomes the installed Raft
// snapshot (its index and term, the new voters), the cluster id is stored (given, or derived the
// same way for every member), and nothing is written for a bad file, a used dir or a non-member.
import { mkdtemp, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConcordError } from '../../src/common/errors.ts';
import { KvStateMachine } from '../../src/kv/index.ts';
import { BackupFormatError, encodeBackup } from '../../src/maintenance/backup-format.ts';
import { deriveClusterId, readStoredCluster, resolveClusterId } from '../../src/maintenance/cluster-id.ts';
import { restoreDataDir } from '../../src/maintenance/restore.ts';
import { WalStorage } from '../../src/storage/wal-storage.ts';
import { Harness } from '../kv/harness.ts';

const members = new Map([['a', '10.0.0.1:7101'], ['b', '10.0.0.2:7101'], ['c', '10.0.0.3:7101']]);
const config = { voters: ['a', 'b', 'c'], learners: [] };

function backupFile(): { file: Uint8Array; machine: KvStateMachine } {
  const h = new Harness();
  const lease = h.grant(30_000, 'L1');
  h.put('x', '1', { lease });
  h.put('y', '2');
  h.put('x', '3', { lease });
  const file = encodeBackup({ raftIndex: h.machine.appliedIndex + 2, raftTerm: 4, revision: h.machine.revision, takenAtMs: 1 }, h.machine.snapshot());
  return { file, machine: h.machine };
}

describe('restore', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'concord-restore-'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('installs the backup as the Raft snapshot at its index and term, with the new voters', async () => {
    const { file, machine } = backupFile();
    const dataDir = path.join(root, 'a');
    const result = await restoreDataDir({ file, dataDir, nodeId: 'a', config, clusterId: (sha) => deriveClusterId(sha, members) });
    expect(result).toMatchObject({ keys: 2, leases: 1, header: { raftIndex: machine.appliedIndex + 2, raftTerm: 4, revision: 3 } });

    const storage = await WalStorage.open(dataDir);
    const loaded = await storage.load();
    await storage.close();
    expect(loaded.snapshot?.meta).toEqual({ index: machine.appliedIndex + 2, term: 4, config });
    expect(loaded.hardState).toEqual({ term: 4, vote: '', commit: machine.appliedIndex + 2 });
    expect(loaded.entries).toEqual([]);
    const restored = new KvStateMachine();
    restored.restore(loaded.snapshot!.data);
    expect(restored.range('')).toEqual(machine.range(''));
    expect(restored.lease('L1')).toEqual({ id: 'L1', ttlMs: 30_000, keys: ['x'] });

    expect(await readStoredCluster(dataDir)).toEqual({
      clusterId: result.clusterId,
      restoredFrom: { sha256: result.checksum, raftIndex: machine.appliedIndex + 2, revision: 3 },
    });
  });

  it('derives one cluster id for every member restored with the same file and members', async () => {
    const { file } = backupFile();
    const ids = [];
    for (const nodeId of ['a', 'b', 'c']) {
      const reordered = new Map([...members].reverse());
      const result = await restoreDataDir({ file, dataDir: path.join(root, nodeId), nodeId, config, clusterId: (sha) => deriveClusterId(sha, nodeId === 'b' ? reordered : members) });
      ids.push(result.clusterId);
    }
    expect(new Set(ids).size).toBe(1);
    expect(ids[0]).toMatch(/^restored-[0-9a-f]{16}$/);
    const { checksum } = await restoreDataDir({ file, dataDir: path.join(root, 'given'), nodeId: 'a', config, clusterId: () => 'chosen' });
    expect(deriveClusterId(checksum, new Map([...members, ['d', '10.0.0.4:7101']]))).not.toBe(ids[0]);
    expect(deriveClusterId('0'.repeat(64), members)).not.toBe(ids[0]);
    expect((await readStoredCluster(path.join(root, 'given')))?.clusterId).toBe('chosen');
  });

  it('refuses a corrupt file, a used data dir and a node that is not a member, writing nothing', async () => {
    const { file } = backupFile();
    const damaged = file.slice();
    damaged[100] = (damaged[100] ?? 0) ^ 1;
    const fresh = path.join(root, 'fresh');
    await expect(restoreDataDir({ file: damaged, dataDir: fresh, nodeId: 'a', config, clusterId: () => 'x' })).rejects.toBeInstanceOf(BackupFormatError);
    await expect(restoreDataDir({ file: file.subarray(0, 80), dataDir: fresh, nodeId: 'a', config, clusterId: () => 'x' })).rejects.toMatchObject({ problem: 'truncated' });
    await expect(restoreDataDir({ file, dataDir: fresh, nodeId: 'z', config, clusterId: () => 'x' })).rejects.toThrow(/--id z is not one of the new cluster's members \(a, b, c\)/);
    await expect(readdir(fresh)).rejects.toMatchObject({ code: 'ENOENT' });

    const used = path.join(root, 'used');
    await mkdir(used);
    await writeFile(path.join(used, 'something'), 'x');
    await expect(restoreDataDir({ file, dataDir: used, nodeId: 'a', config, clusterId: () => 'x' })).rejects.toThrow(/data dir .*used is not empty/);
    expect(await readdir(used)).toEqual(['something']);
  });

  it('a node runs under its stored cluster id; an explicit different one is refused', () => {
    const stored = { clusterId: 'restored-1' };
    expect(resolveClusterId('/d', { clusterId: 'concord', explicit: false }, stored)).toBe('restored-1');
    expect(resolveClusterId('/d', { clusterId: 'restored-1', explicit: true }, stored)).toBe('restored-1');
    expect(resolveClusterId('/d', { clusterId: 'prod', explicit: true }, null)).toBe('prod');
    expect(() => resolveClusterId('/d', { clusterId: 'prod', explicit: true }, stored)).toThrow(ConcordError);
    expect(() => resolveClusterId('/d', { clusterId: 'prod', explicit: true }, stored)).toThrow(
      'data dir /d belongs to cluster "restored-1" (concord-cluster.json), but --cluster-id is "prod"; drop the flag or give the stored id',
    );
  });
});
