/**
 * Seeds a fresh data dir from a backup file, as `concord snapshot restore` does: the backup's
 * KV snapshot becomes the node's installed Raft snapshot (at the backup's index and term, with
 * the new cluster's configuration), so `concord serve` on that dir starts with the same keys,
 * leases, locks and revision, and its log continues after the backup's index. Every member of
 * the new cluster is restored from the same file with the same configuration, so all start from
 * identical snapshots and the first leader is elected in the next term.
 *
 * Nothing is written until the whole file has verified: its header and SHA-256, then the payload
 * as a KV snapshot (loaded into a scratch state machine, whose revision must be the header's).
 */
import { readdir, mkdir } from 'node:fs/promises';
import { ConcordError } from '../common/errors.ts';
import { KvStateMachine } from '../kv/index.ts';
import type { ClusterConfig, NodeId } from '../raft/types.ts';
import { WalStorage } from '../storage/wal-storage.ts';
import { BackupFormatError, decodeBackup, type BackupHeader } from './backup-format.ts';
import { writeStoredCluster } from './cluster-id.ts';

export interface RestoreOptions {
  /** The backup file's bytes. */
  readonly file: Uint8Array;
  /** Must not exist, or be an empty directory. */
  readonly dataDir: string;
  readonly nodeId: NodeId;
  /** The new cluster's configuration (this node among its voters). */
  readonly config: ClusterConfig;
  /** The new cluster's id; derive it with deriveClusterId when the operator gave none. */
  readonly clusterId: (checksum: string) => string;
}

export interface VerifiedBackup {
  readonly header: BackupHeader;
  readonly checksum: string;
  readonly payload: Uint8Array;
  /** User-visible keys and leases in the backup. */
  readonly keys: number;
  readonly leases: number;
}

export interface RestoreResult extends VerifiedBackup {
  readonly clusterId: string;
}

/** Checks a backup file whole, payload included; throws a BackupFormatError saying what is wrong. */
export function verifyBackup(file: Uint8Array): VerifiedBackup {
  const { header, payload, checksum } = decodeBackup(file);
  const machine = new KvStateMachine();
  try {
    machine.restore(payload);
  } catch (error) {
    // The checksum held, so the file is as the node wrote it: a payload it cannot read is from
    // a newer build (an unknown KV snapshot version), or the node wrote something wrong.
    throw new BackupFormatError('corrupt', `backup payload is not a KV snapshot this build can load: ${(error as Error).message}`);
  }
  if (machine.revision !== header.revision || machine.appliedIndex > header.raftIndex) {
    throw new BackupFormatError(
      'corrupt',
      `backup header (revision ${header.revision}, index ${header.raftIndex}) disagrees with its payload ` +
        `(revision ${machine.revision}, applied index ${machine.appliedIndex})`,
    );
  }
  return { header, checksum, payload, keys: machine.range('').items.length, leases: machine.leases().length };
}

async function ensureEmptyDir(dataDir: string): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dataDir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      await mkdir(dataDir, { recursive: true });
      return;
    }
    if (code === 'ENOTDIR') throw new ConcordError('invalid_argument', `--data-dir ${dataDir} is a file, not a directory`, { dataDir });
    throw error;
  }
  if (names.length > 0) {
    throw new ConcordError('invalid_argument', `data dir ${dataDir} is not empty (${names.length} entries); restore only seeds a new, empty one`, { dataDir });
  }
}

export async function restoreDataDir(options: RestoreOptions): Promise<RestoreResult> {
  const { dataDir, nodeId, config } = options;
  if (!config.voters.includes(nodeId)) {
    throw new ConcordError('invalid_argument', `--id ${nodeId} is not one of the new cluster's members (${config.voters.join(', ')})`);
  }
  const verified = verifyBackup(options.file);
  const clusterId = options.clusterId(verified.checksum);
  await ensureEmptyDir(dataDir);
  const storage = await WalStorage.open(dataDir);
  try {
    await storage.load();
    const { raftIndex: index, raftTerm: term } = verified.header;
    await new Promise<void>((resolve, reject) => {
      storage.persist(
        {
          snapshot: { meta: { index, term, config }, data: verified.payload },
          compaction: null,
          entries: [],
          hardState: { term, vote: '', commit: index },
          sync: true,
        },
        (error) => (error === null ? resolve() : reject(error)),
      );
    });
  } finally {
    await storage.close();
  }
  await writeStoredCluster(dataDir, {
    clusterId,
    restoredFrom: { sha256: verified.checksum, raftIndex: verified.header.raftIndex, revision: verified.header.revision },
  });
  return { ...verified, clusterId };
}
