/**
 * The snapshot's data, in a file of its own: `<dataDir>/snap/<16 hex digits of its index>.snap`.
 * LevelDB keeps its metadata (with the data's length and CRC32, which every load checks).
 *
 * Why not LevelDB's value as before: putting a value into a LevelDB write batch copies it on the
 * event loop, about 4-7 ms per MiB here (10 MiB: 38-73 ms), so every compaction of a large state
 * stalled the node — its answers, its heartbeats — for that long. A file is written from the
 * caller's buffer by libuv's thread pool, with no copy on the event loop. A snapshot migrated
 * from format 1 still has its data in LevelDB (`s:data`) until the first compaction replaces it.
 */
import { mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { LogIndex } from '../../raft/types.ts';
import { syncDirectory, writeFully } from './segment-files.ts';

const SUFFIX = '.snap';
const TEMP_SUFFIX = '.tmp';

export function snapshotDir(dataDir: string): string {
  return join(dataDir, 'snap');
}

function snapshotPath(dataDir: string, index: LogIndex): string {
  return join(snapshotDir(dataDir), index.toString(16).padStart(16, '0') + SUFFIX);
}

function hasCode(error: unknown, code: string): boolean {
  return error instanceof Error && 'code' in error && error.code === code;
}

/** Writes snapshot `index`'s data durably: a temporary file, synced, renamed, the directory synced. */
export async function saveSnapshotFile(dataDir: string, index: LogIndex, data: Uint8Array): Promise<void> {
  const dir = snapshotDir(dataDir);
  await mkdir(dir, { recursive: true });
  await syncDirectory(dirname(dir));
  const finalPath = snapshotPath(dataDir, index);
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

/** Snapshot `index`'s data, or undefined when it has no file (its data is then in LevelDB). */
export async function readSnapshotFile(dataDir: string, index: LogIndex): Promise<Uint8Array | undefined> {
  try {
    return await readFile(snapshotPath(dataDir, index));
  } catch (error) {
    if (hasCode(error, 'ENOENT')) return undefined;
    throw error;
  }
}

/** Deletes every snapshot file but `keep`'s (older snapshots, and writes a crash cut short). */
export async function removeSnapshotFilesExcept(dataDir: string, keep: LogIndex | null): Promise<void> {
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
    if (path !== kept) await unlink(path);
  }
}
