/**
 * Watch fan-out (`npm run bench -- watch`): 100 SSE watchers on one prefix, spread round-robin
 * over the nodes, and one writer putting to a key under that prefix through the leader, paced
 * (50 puts/s: 5,000 deliveries/s, which the load generator's one event loop can take without
 * becoming the figure). For every event a watcher receives, the delivery latency is the time
 * from the writer receiving the put's acknowledgement to the watcher receiving the event; an
 * event that beats the acknowledgement (a watcher on the leader can) counts as 0. After the
 * writer stops, the watchers get a bounded while to catch up, then every missing delivery is
 * counted: each acknowledged put must reach every watcher exactly once.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { StringDecoder } from 'node:string_decoder';
import { SseParser } from '../src/client/sse.ts';
import { runLoad, type LoadResult, type Operation } from './load/generator.ts';
import { LatencyHistogram, type LatencySummary } from './load/histogram.ts';
import { optionsFor, type SuiteContext } from './load/suite.ts';
import { findLeader } from './load/target.ts';

export interface WatchBenchOptions {
  readonly watchers: number;
  readonly writeEveryMs: number;
  readonly budgetMs: number;
  /** After the writer stops, how long the watchers may take to receive what is left. */
  readonly settleMs: number;
  readonly valueBytes: number;
}

export const DEFAULT_WATCH_BENCH_OPTIONS: WatchBenchOptions = { watchers: 100, writeEveryMs: 20, budgetMs: 10_000, settleMs: 5_000, valueBytes: 64 };
export const QUICK_WATCH_BENCH_OPTIONS: WatchBenchOptions = { ...DEFAULT_WATCH_BENCH_OPTIONS, budgetMs: 1_000, settleMs: 2_000 };

export interface WatchBenchResult {
  readonly options: WatchBenchOptions;
  readonly nodes: number;
  readonly watchersOpen: number;
  readonly writes: LoadResult;
  /** Put acknowledged → event received, over every watcher. */
  readonly delivery: LatencySummary;
  readonly delivered: number;
  /** Deliveries received before the writer had the put's acknowledgement. */
  readonly beforeAck: number;
  /** Acknowledged puts × watchers − deliveries received (after the settle time). */
  readonly missing: number;
  /** Events for revisions received twice by one watcher (must be 0). */
  readonly duplicates: number;
}

interface Watcher {
  readonly revisions: Set<number>;
  close(): void;
}

const PREFIX = 'bench/watch/';

export async function runWatchBench(context: SuiteContext): Promise<WatchBenchResult> {
  const options = optionsFor(context, DEFAULT_WATCH_BENCH_OPTIONS, QUICK_WATCH_BENCH_OPTIONS);
  const { target, pools, progress } = context;
  const delivery = new LatencyHistogram();
  /** performance.now() at which the writer had each revision acknowledged. */
  const ackedAt = new Map<number, number>();
  /** Revisions received before their acknowledgement, and how many times. */
  const early = new Map<number, number>();
  let delivered = 0;
  let beforeAck = 0;
  let duplicates = 0;

  const onEvent = (watcher: Watcher, revision: number): void => {
    if (watcher.revisions.has(revision)) {
      duplicates++;
      return;
    }
    watcher.revisions.add(revision);
    delivered++;
    const acked = ackedAt.get(revision);
    if (acked === undefined) {
      beforeAck++;
      early.set(revision, (early.get(revision) ?? 0) + 1);
    } else {
      delivery.recordMs(performance.now() - acked);
    }
  };

  const open = async (endpoint: string): Promise<Watcher> => {
    const abort = new AbortController();
    const response = await pools.pool(endpoint).request({
      method: 'GET',
      path: `/v1/watch?prefix=${encodeURIComponent(PREFIX)}`,
      headers: { accept: 'text/event-stream' },
      signal: abort.signal,
      headersTimeout: 10_000,
      bodyTimeout: 0,
    });
    if (response.statusCode !== 200) {
      const text = await response.body.text();
      throw new Error(`watch: ${endpoint} answered ${response.statusCode}: ${text}`);
    }
    const watcher: Watcher = { revisions: new Set(), close: () => abort.abort() };
    const parser = new SseParser();
    const decoder = new StringDecoder('utf8');
    response.body.on('data', (chunk: Buffer) => {
      for (const event of parser.push(decoder.write(chunk))) {
        const revision = (event.data as { modRevision?: unknown } | null)?.modRevision;
        if (event.event === 'put' && typeof revision === 'number') onEvent(watcher, revision);
      }
    });
    response.body.on('error', () => undefined);
    return watcher;
  };

  progress(`watch: opening ${options.watchers} watchers on ${PREFIX} over ${target.endpoints.length} nodes`);
  const watchers = await Promise.all(Array.from({ length: options.watchers }, (_, index) => open(target.endpoints[index % target.endpoints.length] ?? '')));
  try {
    const leader = await findLeader(pools, target.endpoints);
    const body = JSON.stringify({ value: 'x'.repeat(options.valueBytes) });
    const write: Operation = async (operation) => {
      const answer = await operation.send({ method: 'PUT', path: `/v1/kv/${PREFIX}key?timeoutMs=5000`, body });
      if (answer.status !== 200) return { ok: false, error: String(answer.status) };
      const now = performance.now();
      const revision = (JSON.parse(answer.text) as { revision?: unknown }).revision;
      if (typeof revision !== 'number') return { ok: false, error: 'no revision' };
      ackedAt.set(revision, now);
      const beaten = early.get(revision);
      if (beaten !== undefined) {
        for (let count = 0; count < beaten; count++) delivery.recordMs(0);
        early.delete(revision);
      }
      return { ok: true };
    };
    progress(`watch: one writer through the leader ${leader}, a put every ${options.writeEveryMs} ms for ${options.budgetMs / 1000} s`);
    const writes = await runLoad(pools, {
      endpoints: [leader],
      inFlight: 1,
      workerIntervalMs: options.writeEveryMs,
      maxOps: Number.MAX_SAFE_INTEGER,
      budgetMs: options.budgetMs,
      operation: write,
    });
    const expected = writes.succeeded * options.watchers;
    const settleUntil = performance.now() + options.settleMs;
    while (delivered < expected && performance.now() < settleUntil) await sleep(20);
    let missing = 0;
    for (const watcher of watchers) for (const revision of ackedAt.keys()) if (!watcher.revisions.has(revision)) missing++;
    return {
      options,
      nodes: target.endpoints.length,
      watchersOpen: watchers.length,
      writes,
      delivery: delivery.summary(),
      delivered,
      beforeAck,
      missing,
      duplicates,
    };
  } finally {
    for (const watcher of watchers) watcher.close();
  }
}
