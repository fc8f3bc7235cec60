/**
 * Compare-and-swap on hot keys (`npm run bench -- txn`): optimistic concurrency as clients do it
 * with etcd's txn. A few hot keys; each operation takes the modRevision the load generator last
 * saw for its key and sends one txn: compare modRevision == seen, success: put, failure: get
 * (which hands back the current modRevision for the next attempt). Every answer updates what
 * is known of the key. 16 in flight, round-robin over every node. Reported: txns/s (both
 * branches are served requests), latency, and how many succeeded against how many met a
 * compare failure — contention on purpose: that ratio is part of the figure.
 */
import { runLoad, type LoadResult, type Operation } from './load/generator.ts';
import { optionsFor, type SuiteContext } from './load/suite.ts';

export interface TxnBenchOptions {
  readonly hotKeys: number;
  readonly inFlight: number;
  readonly maxOps: number;
  readonly budgetMs: number;
  readonly valueBytes: number;
}

export const DEFAULT_TXN_BENCH_OPTIONS: TxnBenchOptions = { hotKeys: 4, inFlight: 16, maxOps: 500_000, budgetMs: 10_000, valueBytes: 64 };
export const QUICK_TXN_BENCH_OPTIONS: TxnBenchOptions = { ...DEFAULT_TXN_BENCH_OPTIONS, maxOps: 50_000, budgetMs: 1_000 };

export const TXN_SUCCEEDED = 'succeeded';
export const TXN_COMPARE_FAILED = 'compare failed';

export interface TxnBenchResult {
  readonly options: TxnBenchOptions;
  readonly nodes: number;
  readonly result: LoadResult;
  readonly succeeded: number;
  readonly compareFailed: number;
}

interface TxnAnswer {
  readonly succeeded?: unknown;
  readonly revision?: unknown;
  readonly results?: readonly { readonly get?: { readonly kv?: { readonly modRevision?: unknown } | null } }[];
}

export async function runTxnBench(context: SuiteContext): Promise<TxnBenchResult> {
  const options = optionsFor(context, DEFAULT_TXN_BENCH_OPTIONS, QUICK_TXN_BENCH_OPTIONS);
  const { target, pools, progress } = context;
  const keys = Array.from({ length: options.hotKeys }, (_, index) => `bench/txn/hot-${index}`);
  const value = 'x'.repeat(options.valueBytes);
  /** The latest modRevision seen per key: the compare of the next txn on it. */
  const seen = new Map<string, number>();
  const learn = (key: string, revision: unknown): void => {
    if (typeof revision === 'number' && revision > (seen.get(key) ?? 0)) seen.set(key, revision);
  };
  progress(`txn: seeding ${options.hotKeys} hot keys`);
  for (const key of keys) {
    const answer = await pools.send(target.endpoints[0] ?? '', { method: 'PUT', path: `/v1/kv/${key}`, body: JSON.stringify({ value }) });
    if (answer.status !== 200) throw new Error(`txn: seeding ${key} answered ${answer.status}: ${answer.text}`);
    learn(key, (JSON.parse(answer.text) as { revision?: unknown }).revision);
  }
  const cas: Operation = async (operation) => {
    const key = keys[operation.sequence % keys.length] ?? '';
    const body = JSON.stringify({
      compare: [{ key, target: 'modRevision', op: '==', value: seen.get(key) ?? 0 }],
      success: [{ put: { key, value } }],
      failure: [{ get: { key } }],
    });
    const answer = await operation.send({ method: 'POST', path: '/v1/txn', body });
    if (answer.status !== 200) return { ok: false, error: String(answer.status) };
    const parsed = JSON.parse(answer.text) as TxnAnswer;
    if (parsed.succeeded === true) {
      learn(key, parsed.revision);
      return { ok: true, label: TXN_SUCCEEDED };
    }
    learn(key, parsed.results?.[0]?.get?.kv?.modRevision);
    return { ok: true, label: TXN_COMPARE_FAILED };
  };
  progress(`txn: CAS on ${options.hotKeys} hot keys, ${options.inFlight} in flight over ${target.endpoints.length} nodes (${options.maxOps} or ${options.budgetMs / 1000} s)`);
  const result = await runLoad(pools, { endpoints: target.endpoints, inFlight: options.inFlight, maxOps: options.maxOps, budgetMs: options.budgetMs, operation: cas });
  return {
    options,
    nodes: target.endpoints.length,
    result,
    succeeded: result.labels[TXN_SUCCEEDED] ?? 0,
    compareFailed: result.labels[TXN_COMPARE_FAILED] ?? 0,
  };
}
