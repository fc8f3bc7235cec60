/**
 * Small builders shared by the storage tests: entries, snapshots, batches, and persist() as a
 * promise, so that tests read as the sequence of writes they describe.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Entry, EntryType, HardState, LogIndex, Snapshot, Term } from '../../src/raft/types.ts';
import type { PersistBatch, Storage } from '../../src/storage/storage.ts';

export function entry(index: LogIndex, term: Term, type: EntryType = 'normal'): Entry {
  return { index, term, type, data: new TextEncoder().encode(`entry ${index} of term ${term}`) };
}

/** Entries `from`..`through` inclusive, all of `term`. */
export function entries(from: LogIndex, through: LogIndex, term: Term): Entry[] {
  const result: Entry[] = [];
  for (let index = from; index <= through; index++) result.push(entry(index, term));
  return result;
}

export function snapshot(index: LogIndex, term: Term, voters: readonly string[] = ['a', 'b', 'c']): Snapshot {
  return {
    meta: { index, term, config: { voters, learners: ['z'] } },
    data: new TextEncoder().encode(`state machine through ${index}`),
  };
}

export function hardState(term: Term, vote: string, commit: LogIndex): HardState {
  return { term, vote, commit };
}

export function batch(parts: Partial<PersistBatch>): PersistBatch {
  return { snapshot: null, compaction: null, entries: [], hardState: null, sync: true, ...parts };
}

export function persist(storage: Storage, parts: Partial<PersistBatch>): Promise<void> {
  return new Promise((resolve, reject) => {
    storage.persist(batch(parts), (error) => (error === null ? resolve() : reject(error)));
  });
}

/** A fresh temporary directory; `removeTempDirs` deletes every one made so far. */
const tempDirs: string[] = [];

export async function makeTempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'concord-storage-'));
  tempDirs.push(dir);
  return dir;
}

export async function removeTempDirs(): Promise<void> {
  const dirs = tempDirs.splice(0);
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
}
