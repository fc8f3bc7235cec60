/**
 * The write-ahead log's files: `<dataDir>/wal/<16 hex digits>.wal`, numbered in the order they
 * were opened. A new segment is written full of zeros before it is used (and renamed into
 * place only then), so appending to it changes no file size: a synced write then flushes the
 * data alone, not the file system's journal, which is what made a synced write to a
 * preallocated file cheaper than LevelDB's on this machine.
 */
import { constants } from 'node:fs';
import { open, readdir, readFile, rename, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';

const SEGMENT_SUFFIX = '.wal';
const TEMP_SUFFIX = '.tmp';
const SEQUENCE_HEX_DIGITS = 16;
/** Zeros are written this much at a time when a segment is preallocated. */
const ZERO_CHUNK_BYTES = 1024 * 1024;

export function walDir(dataDir: string): string {
  return join(dataDir, 'wal');
}

export function segmentPath(dir: string, sequence: number): string {
  return join(dir, sequence.toString(16).padStart(SEQUENCE_HEX_DIGITS, '0') + SEGMENT_SUFFIX);
}

export interface SegmentListing {
  /** Sequence numbers of the segments, ascending. */
  readonly sequences: number[];
  /** Files left by a preallocation that a crash interrupted. */
  readonly leftovers: string[];
  /** Names that are neither. */
  readonly unexpected: string[];
}

export async function listSegments(dir: string): Promise<SegmentListing> {
  const sequences: number[] = [];
  const leftovers: string[] = [];
  const unexpected: string[] = [];
  for (const name of await readdir(dir)) {
    const stem = name.slice(0, SEQUENCE_HEX_DIGITS);
    const suffix = name.slice(SEQUENCE_HEX_DIGITS);
    const wellFormed = stem.length === SEQUENCE_HEX_DIGITS && /^[0-9a-f]+$/.test(stem);
    if (wellFormed && suffix === SEGMENT_SUFFIX) sequences.push(Number.parseInt(stem, 16));
    else if (wellFormed && suffix === SEGMENT_SUFFIX + TEMP_SUFFIX) leftovers.push(join(dir, name));
    else unexpected.push(name);
  }
  sequences.sort((left, right) => left - right);
  return { sequences, leftovers, unexpected };
}

/**
 * Opens a segment for appending with O_DSYNC: each write returns once its data is durable, as a
 * write followed by fdatasync would, in one system call (one trip to the thread pool, not two).
 */
export function openForAppend(dir: string, sequence: number): Promise<FileHandle> {
  return open(segmentPath(dir, sequence), constants.O_RDWR | constants.O_DSYNC);
}

export function readSegment(dir: string, sequence: number): Promise<Buffer> {
  return readFile(segmentPath(dir, sequence));
}

/** Makes the directory's entries (a file created, renamed or deleted) durable. */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Creates segment `sequence` holding `bytes` zeros, durable, and opens it for writing. It is
 * written under a temporary name and renamed, so a crash never leaves a segment half zeroed.
 */
export async function createSegment(dir: string, sequence: number, bytes: number): Promise<FileHandle> {
  const finalPath = segmentPath(dir, sequence);
  const tempPath = finalPath + TEMP_SUFFIX;
  const zeros = Buffer.alloc(Math.min(ZERO_CHUNK_BYTES, bytes));
  const temp = await open(tempPath, 'w');
  try {
    for (let written = 0; written < bytes; written += zeros.length) {
      await writeFully(temp, zeros.subarray(0, Math.min(zeros.length, bytes - written)), written);
    }
    await temp.sync();
  } finally {
    await temp.close();
  }
  await rename(tempPath, finalPath);
  await syncDirectory(dir);
  return openForAppend(dir, sequence);
}

export async function removeFiles(paths: readonly string[]): Promise<void> {
  for (const path of paths) await unlink(path);
}

/**
 * Writes all of `bytes` at `position`. A write may be short without an error (the disk filling
 * up while a write extends the file, say); the rest is retried, so that a short count surfaces
 * as the error the retry gets rather than as an acknowledged record with its tail missing.
 */
export async function writeFully(handle: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let written = 0;
  while (written < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, written, bytes.length - written, position + written);
    if (bytesWritten === 0) throw new Error(`wrote 0 of ${bytes.length - written} bytes at ${position + written}`);
    written += bytesWritten;
  }
}
