/**
 * The snapshot's data, in a file of its own: `<dataDir>/snap/<16 hex index>-<8 hex CRC32>.snap`.
 * LevelDB keeps its metadata (with the data's length and CRC32, which every load checks).
 *
 * Why not LevelDB's value as before: putting a value into a LevelDB write batch copies it on the
 * event loop, about 4-7 ms per MiB here (10 MiB: 38-73 ms), so every compaction of a large state
 * stalled the node — its answers, its heartbeats — for that long. A file is written from the
 * caller's buffer by libuv's thread pool, with no copy on the event loop. A snapshot from format 1
 * or 2 still has its data in LevelDB (`s:data`) until the first compaction replaces it.
 */
import { mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { LogIndex } from '../../raft/types.ts';
import { syncDirectory, writeFully } from './segment-files.ts';

const SUFFIX = '.snap';
const TEMP_SUFFIX = '.tmp';
/** The names this module writes: `<index>-<CRC32 of the data>.snap`, and their temporary files. */
const SNAPSHOT_FILE_NAME = /^[0-9a-f]{16}-[0-9a-f]{8}\.snap(\.tmp)?$/;

/** Which snapshot: its Raft index and the CRC32 of its data (the metadata in LevelDB holds both). */
export interface SnapshotFileId {
  readonly index: LogIndex;
  readonly checksum: number;
}

export function snapshotDir(dataDir: string): string {
  return join(dataDir, 'snap');
}

/**
 * The file of snapshot `id`. The checksum is in the name so that a snapshot saved at an index
 * already held, with other bytes, goes to another file: it can never replace, before its
 * metadata does, the file that the metadata in force describes.
 */
function snapshotPath(dataDir: string, id: SnapshotFileId): string {
  const name = `${id.index.toString(16).padStart(16, '0')}-${id.checksum.toString(16).padStart(8, '0')}${SUFFIX}`;
  return join(snapshotDir(dataDir), name);
}

function hasCode(error: unknown, code: string): boolean {
  return error instanceof Error && 'code' in error && error.code === code;
}

/** Writes snapshot `id`'s data durably: a temporary file, synced, renamed, the directory synced. */
export async function saveSnapshotFile(dataDir: string, id: SnapshotFileId, data: Uint8Array): Promise<void> {
  const dir = snapshotDir(dataDir);
  await mkdir(dir, { recursive: true });
  await syncDirectory(dirname(dir));
  const finalPath = snapshotPath(dataDir, id);
  const tempPath = finalPath + TEMP_SUFFIX;
  const file = await open(tempPath, 'w');
  try {
    await writeFully(file, data, 0);
    await file.datasync();
  } finally {
    await file.close();
  }
  await rename(tempPath, finalPath);
  await syncDirectory(dir);
}

/** Snapshot `id`'s data, or undefined when it has no file. Limit: readFile's, 2 GiB. */
export async function readSnapshotFile(dataDir: string, id: SnapshotFileId): Promise<Uint8Array | undefined> {
  try {
    return await readFile(snapshotPath(dataDir, id));
  } catch (error) {
    if (hasCode(error, 'ENOENT')) return undefined;
    throw error;
  }
}

/**
 * Deletes every snapshot file but `keep`'s (older snapshots, and saves a crash cut short). Only
 * names this module writes: anything else in snap/ is left alone.
 */
export async function removeSnapshotFilesExcept(dataDir: string, keep: SnapshotFileId | null): Promise<void> {
  let names: string[];
  try {
    names = await readdir(snapshotDir(dataDir));
  } catch (error) {
    if (hasCode(error, 'ENOENT')) return;
    throw error;
  }
  const kept = keep === null ? null : snapshotPath(dataDir, keep);
  for (const name of names) {
    const path = join(snapshotDir(dataDir), name);
    if (SNAPSHOT_FILE_NAME.test(name) && path !== kept) await unlink(path);
  }
}
