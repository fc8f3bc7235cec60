/**
 * storage-group-commit: what one fsync'd write costs, and how group commit (many entries per
 * persist, as a Ready carries) amortizes it, for both engines: WalStorage (production: the log
 * in preallocated segment files) and LevelStorage (format 1: the log as LevelDB keys, which
 * WalStorage replaced and migrates from). For each engine and batch size, 64-byte
 * entries are appended with a hard state in synced persist() calls, one at a time as the
 * node's Ready loop does, until the entry cap or the time budget is reached. Figures are
 * entries per second and the latency of each synced write (p50/p99); printed, never asserted.
 *
 *   npx tsx bench/storage.ts      (or import runStorageBench)
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Entry } from '../src/raft/types.ts';
import { LevelStorage } from '../src/storage/level-storage.ts';
import { WalStorage } from '../src/storage/wal-storage.ts';
import type { PersistBatch, Storage } from '../src/storage/storage.ts';

export interface StorageBenchOptions {
  readonly batchSizes: readonly number[];
  readonly payloadBytes: number;
  /** Per batch size: stop after this many entries ... */
  readonly maxEntries: number;
  /** ... or this much time, whichever comes first. */
  readonly timeBudgetMs: number;
}

export type StorageEngine = 'wal' | 'leveldb';

const ENGINES: Record<StorageEngine, (dataDir: string) => Promise<Storage>> = {
  wal: (dataDir) => WalStorage.open(dataDir),
  leveldb: (dataDir) => LevelStorage.open(dataDir),
};

export interface GroupCommitResult {
  readonly engine: StorageEngine;
  readonly batchSize: number;
  readonly writes: number;
  readonly entries: number;
  readonly seconds: number;
  readonly entriesPerSecond: number;
  readonly writeLatencyP50Ms: number;
  readonly writeLatencyP99Ms: number;
}

export const DEFAULT_STORAGE_BENCH_OPTIONS: StorageBenchOptions = {
  batchSizes: [1, 64, 1024],
  payloadBytes: 64,
  maxEntries: 200_000,
  timeBudgetMs: 3_000,
};

function persistAsync(storage: Storage, batch: PersistBatch): Promise<void> {
  return new Promise((resolve, reject) => storage.persist(batch, (error) => (error === null ? resolve() : reject(error))));
}

function percentile(sorted: readonly number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))] ?? 0;
}

async function measureBatchSize(
  engine: StorageEngine,
  storage: Storage,
  batchSize: number,
  options: StorageBenchOptions,
): Promise<GroupCommitResult> {
  const payload = new Uint8Array(options.payloadBytes).fill(0x61);
  const loaded = await storage.load();
  let nextIndex = (loaded.entries.at(-1)?.index ?? loaded.snapshot?.meta.index ?? 0) + 1;
  const latenciesMs: number[] = [];
  let written = 0;
  const started = performance.now();
  while (written < options.maxEntries && performance.now() - started < options.timeBudgetMs) {
    const entries: Entry[] = [];
    for (let i = 0; i < batchSize; i++) entries.push({ index: nextIndex + i, term: 1, type: 'normal', data: payload });
    nextIndex += batchSize;
    const hardState = { term: 1, vote: 'bench', commit: nextIndex - 1 };
    const writeStarted = performance.now();
    await persistAsync(storage, { snapshot: null, compaction: null, entries, hardState, sync: true });
    latenciesMs.push(performance.now() - writeStarted);
    written += batchSize;
  }
  const seconds = (performance.now() - started) / 1000;
  const sorted = latenciesMs.slice().sort((left, right) => left - right);
  return {
    engine,
    batchSize,
    writes: latenciesMs.length,
    entries: written,
    seconds,
    entriesPerSecond: written / seconds,
    writeLatencyP50Ms: percentile(sorted, 0.5),
    writeLatencyP99Ms: percentile(sorted, 0.99),
  };
}

/** Runs every batch size, each in a fresh data dir under os.tmpdir() that is removed after. */
export async function runStorageBench(
  options: StorageBenchOptions = DEFAULT_STORAGE_BENCH_OPTIONS,
  progress: (line: string) => void = () => {},
): Promise<GroupCommitResult[]> {
  const results: GroupCommitResult[] = [];
  for (const engine of ['wal', 'leveldb'] as const) {
    for (const batchSize of options.batchSizes) {
      const dataDir = await mkdtemp(join(tmpdir(), 'concord-bench-storage-'));
      try {
        progress(`storage-group-commit: ${engine}, batch size ${batchSize} (${options.maxEntries} entries or ${options.timeBudgetMs / 1000} s)`);
        const storage = await ENGINES[engine](dataDir);
        try {
          results.push(await measureBatchSize(engine, storage, batchSize, options));
        } finally {
          await storage.close();
        }
      } finally {
        await rm(dataDir, { recursive: true, force: true });
      }
    }
  }
  return results;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const results = await runStorageBench(DEFAULT_STORAGE_BENCH_OPTIONS, (line) => console.error(line));
  console.table(
    results.map((result) => ({
      engine: result.engine,
      'batch size': result.batchSize,
      writes: result.writes,
      'entries/s': Math.round(result.entriesPerSecond),
      'synced write p50 ms': result.writeLatencyP50Ms.toFixed(3),
      'p99 ms': result.writeLatencyP99Ms.toFixed(3),
    })),
  );
}
