/**
 * `concord snapshot save|status|restore`: backups (etcdctl snapshot save, etcdutl snapshot
 * status|restore). `save` downloads a consistent backup through the SDK and writes it only once
 * it verifies; `status` verifies a file offline; `restore` seeds a new data dir from one
 * (src/maintenance/restore.ts) for `concord serve` to start a new cluster on. A corrupt or
 * truncated file is refused with exit code 7 (EXIT.badBackup) before anything is written.
 */
import { open, readFile, rename, rm } from 'node:fs/promises';
import { ConcordError } from '../common/errors.ts';
import { BackupFormatError } from '../maintenance/backup-format.ts';
import { deriveClusterId } from '../maintenance/cluster-id.ts';
import { restoreDataDir, verifyBackup, type VerifiedBackup } from '../maintenance/restore.ts';
import { initialClusterConfig } from './initial-cluster.ts';
import { EXIT, expectPositionals, optionalString, out, table, UsageError, type Command } from './common.ts';
import { parseInitialCluster } from './serve-options.ts';

/** A backup of a large store takes longer than an ordinary call's 5 s. */
const DEFAULT_SAVE_TIMEOUT_MS = 60_000;

function summary(file: string, verified: VerifiedBackup, fileBytes: number): Record<string, string | number> {
  const { header } = verified;
  return {
    file,
    revision: header.revision,
    raftIndex: header.raftIndex,
    raftTerm: header.raftTerm,
    keys: verified.keys,
    leases: verified.leases,
    sizeBytes: fileBytes,
    takenAt: new Date(header.takenAtMs).toISOString(),
    sha256: verified.checksum,
  };
}

function printSummary(fields: Record<string, string | number>, json: boolean): void {
  if (json) return out.json(fields);
  // The checksum whole (a table cell would shorten it), for comparing with another copy's.
  const { sha256, ...rest } = fields;
  const width = Math.max(...Object.keys(fields).map((name) => name.length));
  out.line(table(['FIELD'.padEnd(width), 'VALUE'], Object.entries(rest).map(([name, value]) => [name.padEnd(width), value])));
  out.line(`${'sha256'.padEnd(width)}  ${String(sha256)}`);
}

async function readBackupFile(file: string): Promise<Uint8Array> {
  try {
    return await readFile(file);
  } catch (error) {
    throw new UsageError(`cannot read ${file}: ${(error as Error).message}`);
  }
}

/** Writes `data` to `file` durably and whole, or not at all (a partial download never shows). */
async function writeWhole(file: string, data: Uint8Array): Promise<void> {
  const partial = `${file}.part`;
  const handle = await open(partial, 'w');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(partial, file);
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
}

const save: Command = {
  summary: 'download a consistent backup to FILE (verified before it is written)',
  help: `usage: concord snapshot save FILE

Downloads a backup of the cluster's state (keys, leases, locks, registry, revision), taken
after a linearizable read point: it holds every write acknowledged before the command. The file
is verified (header, SHA-256, payload) before it is written to FILE (through FILE.part and a
rename, so FILE is never half-written); then prints its revision, raft index and term, keys,
leases, size and SHA-256. Exit 7 if what arrived does not verify.
--timeout-ms defaults to ${DEFAULT_SAVE_TIMEOUT_MS} here. --json prints the same fields as an object.`,
  async run({ positionals, globals }, concord) {
    const [file] = expectPositionals(positionals, ['FILE']) as [string];
    const backup = await concord().maintenance.snapshot({ timeoutMs: globals.timeoutMs ?? DEFAULT_SAVE_TIMEOUT_MS });
    const verified = verifyBackup(backup.data);
    if (backup.sha256 !== '' && backup.sha256 !== verified.checksum) {
      throw new BackupFormatError('corrupt', `the node sent SHA-256 ${backup.sha256} but the file received has ${verified.checksum}`);
    }
    await writeWhole(file, backup.data);
    printSummary({ ...summary(file, verified, backup.data.length), node: backup.nodeId }, globals.json);
    return EXIT.ok;
  },
};

const status: Command = {
  summary: 'verify a backup FILE and print what it holds (offline)',
  help: `usage: concord snapshot status FILE

Verifies FILE (header, SHA-256, payload) without contacting any node and prints its revision,
raft index and term, keys, leases, size and SHA-256. Exit 7 if it is corrupt or truncated.
--json prints the same fields as an object.`,
  async run({ positionals, globals }) {
    const [file] = expectPositionals(positionals, ['FILE']) as [string];
    const data = await readBackupFile(file);
    printSummary(summary(file, verifyBackup(data), data.length), globals.json);
    return EXIT.ok;
  },
};

const restore: Command = {
  summary: 'seed a new, empty data dir from a backup FILE for a new cluster',
  help: `usage: concord snapshot restore FILE --data-dir D --id ID --initial-cluster ID=HOST:PORT,... [--cluster-id X]

Verifies FILE, then seeds the empty (or missing) data dir D with it, as member ID of a new
cluster whose voters are --initial-cluster. Run it once per member, each with its own --id and
--data-dir and the same FILE and --initial-cluster; then start each member with
\`concord serve --data-dir D --id ID --initial-cluster ...\` (same list). The new cluster holds
the backup's keys, leases, locks and revision, and continues the revision from there.

The new cluster gets a new id: --cluster-id X, or one derived from FILE's SHA-256 and
--initial-cluster (so every member restored with the same arguments gets the same). It is
stored in D; \`concord serve\` then runs under it (no --cluster-id needed; a different one is
refused). Exit 7 if FILE is corrupt or truncated, 2 if D is not empty or ID is not a member.
--json prints {dataDir, id, clusterId, ...the backup's fields}.`,
  options: { 'data-dir': { type: 'string' }, id: { type: 'string' }, 'initial-cluster': { type: 'string' }, 'cluster-id': { type: 'string' } },
  async run({ positionals, values, globals }) {
    const [file] = expectPositionals(positionals, ['FILE']) as [string];
    const required = (name: string): string => {
      const value = optionalString(values, name);
      if (value === undefined || value === '') throw new UsageError(`missing --${name}`);
      return value;
    };
    const dataDir = required('data-dir');
    const id = required('id');
    const initialClusterText = required('initial-cluster');
    const clusterIdFlag = optionalString(values, 'cluster-id');
    if (clusterIdFlag === '') throw new UsageError('--cluster-id is empty');
    let initialCluster;
    try {
      initialCluster = parseInitialCluster(initialClusterText);
    } catch (error) {
      throw new UsageError(error instanceof Error ? error.message : String(error));
    }
    const addresses = new Map([...initialCluster].map(([member, address]) => [member, `${address.host}:${address.port}`]));
    const data = await readBackupFile(file);
    let result;
    try {
      result = await restoreDataDir({
        file: data,
        dataDir,
        nodeId: id,
        config: initialClusterConfig(initialCluster),
        clusterId: (checksum) => clusterIdFlag ?? deriveClusterId(checksum, addresses),
      });
    } catch (error) {
      // The data dir is not empty, or --id is not a member: the arguments are wrong.
      if (error instanceof ConcordError && error.code === 'invalid_argument') throw new UsageError(error.message);
      throw error;
    }
    printSummary({ dataDir, id, clusterId: result.clusterId, ...summary(file, result, data.length) }, globals.json);
    if (!globals.json) {
      out.line();
      out.line(`start it with: concord serve --id ${id} --data-dir ${dataDir} --initial-cluster ${initialClusterText} --listen-client ... --listen-peer ...`);
    }
    return EXIT.ok;
  },
};

export const SNAPSHOT_COMMANDS: Readonly<Record<string, Command>> = { save, status, restore };
