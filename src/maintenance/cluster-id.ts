/**
 * A data dir's cluster id, kept beside its LevelDB files in `concord-cluster.json`, so a node
 * knows which cluster its state belongs to whatever flags it is restarted with.
 *
 * `concord snapshot restore` writes it (the new cluster's id, and which backup the state came
 * from); `concord serve` writes it when it first uses a data dir, and afterwards runs under the
 * stored id: a `--cluster-id` that names another cluster is refused, as etcd refuses a member
 * whose WAL names another cluster. (LevelDB ignores files whose names are not its own.)
 *
 * A restored cluster gets a new id, derived when none is given from the backup's checksum and
 * the new membership, so every member restored with the same arguments gets the same id
 * (etcd's --initial-cluster-token plays this part) and no member of the old cluster, whose id
 * differs, can be mistaken for one of the new.
 */
import { createHash } from 'node:crypto';
import { open, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { ConcordError } from '../common/errors.ts';

export const CLUSTER_ID_FILE = 'concord-cluster.json';

export interface StoredCluster {
  readonly clusterId: string;
  /** Set by a restore: the backup the state was seeded from. */
  readonly restoredFrom?: { readonly sha256: string; readonly raftIndex: number; readonly revision: number };
}

/**
 * The id of a cluster restored from the backup with checksum `backupSha256` onto the members
 * `members` (id → peer address). The order members were listed in does not matter.
 */
export function deriveClusterId(backupSha256: string, members: ReadonlyMap<string, string>): string {
  const canonical = [...members].map(([id, address]) => `${id}=${address}`).sort().join(',');
  const digest = createHash('sha256').update(`concord-restore\n${backupSha256}\n${canonical}`).digest('hex');
  return `restored-${digest.slice(0, 16)}`;
}

/** The stored cluster of `dataDir`, or null when none is stored. Throws when the file is unreadable. */
export async function readStoredCluster(dataDir: string): Promise<StoredCluster | null> {
  const file = path.join(dataDir, CLUSTER_ID_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new ConcordError('storage_failure', `cannot read ${file}: ${(error as Error).message}`, { dataDir });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = null;
  }
  const clusterId = (parsed as { clusterId?: unknown } | null)?.clusterId;
  if (typeof clusterId !== 'string' || clusterId === '') {
    throw new ConcordError('storage_failure', `${file} does not hold a cluster id (expected {"clusterId": "..."})`, { dataDir });
  }
  return parsed as StoredCluster;
}

/** Writes `stored` to `dataDir` durably: a temporary file, fsynced, renamed over the old one. */
export async function writeStoredCluster(dataDir: string, stored: StoredCluster): Promise<void> {
  const file = path.join(dataDir, CLUSTER_ID_FILE);
  const temporary = `${file}.tmp`;
  const handle = await open(temporary, 'w');
  try {
    await handle.writeFile(`${JSON.stringify(stored, null, 2)}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temporary, file).catch(async (error: unknown) => {
    await rm(temporary, { force: true });
    throw error;
  });
}

/**
 * The cluster id a node runs under: the stored one when there is one (a `--cluster-id` given
 * explicitly must agree with it), else the flag's.
 */
export function resolveClusterId(
  dataDir: string,
  flag: { readonly clusterId: string; readonly explicit: boolean },
  stored: StoredCluster | null,
): string {
  if (stored === null) return flag.clusterId;
  if (flag.explicit && flag.clusterId !== stored.clusterId) {
    throw new ConcordError(
      'invalid_argument',
      `data dir ${dataDir} belongs to cluster ${JSON.stringify(stored.clusterId)} (${CLUSTER_ID_FILE}), ` +
        `but --cluster-id is ${JSON.stringify(flag.clusterId)}; drop the flag or give the stored id`,
      { dataDir, storedClusterId: stored.clusterId, clusterId: flag.clusterId },
    );
  }
  return stored.clusterId;
}
