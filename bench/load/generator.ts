/**
 * The load generator every workload of the suite runs on: a fixed number of operations in flight
 * (closed loop: a worker starts its next operation when the last one answers, or, paced, once
 * per interval), spread over the endpoints, bounded by a count AND a time budget. Each
 * successful operation's latency goes into an HDR histogram; failures are counted by their
 * status ("409", "503", ...) or by what went wrong on the wire ("network", "timeout",
 * "aborted"); successes may carry a label (a txn that ran its failure branch, say).
 *
 * An operation is usually one request, but may be several (acquire then release) or record into
 * histograms of its own: the generator times the whole operation and leaves the rest to it.
 * When the budget runs out no operation starts; those in flight get `drainMs` more before they
 * are aborted, so a phase never outlasts budget + drain, even against a hung server.
 */
import { setMaxListeners } from 'node:events';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { LatencyHistogram, type LatencySummary } from './histogram.ts';
import type { Answer, EndpointPools, LoadRequest } from './pools.ts';

export interface OperationContext {
  /** 0, 1, 2, ... in the order operations start (the count bound counts these). */
  readonly sequence: number;
  readonly worker: number;
  /** The endpoint this operation was routed to. */
  readonly endpoint: string;
  /** Aborted when the drain time after the budget runs out. */
  readonly signal: AbortSignal;
  /** Sends a request (to this operation's endpoint unless another is named) through the pools. */
  send(request: LoadRequest, endpoint?: string): Promise<Answer>;
}

/** What an operation reports: success (with an optional label) or a failure reason. */
export type Outcome = { readonly ok: true; readonly label?: string } | { readonly ok: false; readonly error: string };

export const OK: Outcome = { ok: true };

export type Operation = (context: OperationContext) => Promise<Outcome>;

/**
 * How operations pick endpoints: `round-robin` gives operation n the endpoint n mod count (an
 * even spread whatever the latencies); `per-worker` pins worker w to endpoint w mod count (a
 * client that keeps talking to one node).
 */
export type Routing = 'round-robin' | 'per-worker';

export interface LoadOptions {
  readonly endpoints: readonly string[];
  readonly inFlight: number;
  /** Count bound: at most this many operations start. */
  readonly maxOps: number;
  /** Time bound: no operation starts after this. */
  readonly budgetMs: number;
  /** After the budget, operations in flight get this long before they are aborted. Default 10 s. */
  readonly drainMs?: number;
  readonly routing?: Routing;
  /** Stop starting operations once this many have succeeded (failover: the first ack). */
  readonly stopAfterSuccesses?: number;
  /**
   * Paced (open-loop per worker): worker w starts operation k at w × interval / inFlight +
   * k × interval from the start, instead of back to back. One that starts more than an interval
   * late (the previous one was still running) is counted in `late`.
   */
  readonly workerIntervalMs?: number;
  readonly operation: Operation;
}

export type StopReason = 'count' | 'time' | 'successes';

export interface LoadResult {
  readonly started: number;
  readonly succeeded: number;
  readonly failed: number;
  /** Failures by status or wire error. */
  readonly errors: Readonly<Record<string, number>>;
  /** Successes by label (unlabelled successes are not listed). */
  readonly labels: Readonly<Record<string, number>>;
  readonly seconds: number;
  /** Successful operations per second of the phase (drain included). */
  readonly opsPerSecond: number;
  /** Latency of the successful operations. */
  readonly latency: LatencySummary;
  readonly stoppedBy: StopReason;
  /** Paced operations that started more than one interval late. */
  readonly late: number;
  /** Milliseconds from the start to the first success, null if none. */
  readonly firstSuccessMs: number | null;
  /** performance.now() when the phase started (to relate it to events outside it). */
  readonly startedAtMs: number;
}

const DEFAULT_DRAIN_MS = 10_000;

/** The failure name of an exception: undici's timeout and abort codes, else the socket's errno. */
export function errorName(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  const name = (error as { name?: unknown } | null)?.name;
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') return 'timeout';
  if (code === 'UND_ERR_ABORTED' || name === 'AbortError') return 'aborted';
  if (typeof code === 'string' && (code.startsWith('E') || code.startsWith('UND_ERR_SOCKET'))) return 'network';
  return 'exception';
}

/** The failure outcome of an answer that is not `expected` (200 unless told). */
export function expectStatus(answer: Answer, expected = 200): Outcome {
  return answer.status === expected ? OK : { ok: false, error: String(answer.status) };
}

function validate(options: LoadOptions): void {
  if (options.endpoints.length === 0) throw new Error('load: no endpoints');
  if (!Number.isInteger(options.inFlight) || options.inFlight < 1) throw new Error(`load: inFlight must be a positive integer, got ${options.inFlight}`);
  if (!(options.maxOps >= 0)) throw new Error(`load: maxOps must be ≥ 0, got ${options.maxOps}`);
  if (!(options.budgetMs > 0)) throw new Error(`load: budgetMs must be > 0, got ${options.budgetMs}`);
  if (options.workerIntervalMs !== undefined && !(options.workerIntervalMs > 0)) throw new Error('load: workerIntervalMs must be > 0');
}

export async function runLoad(pools: EndpointPools, options: LoadOptions): Promise<LoadResult> {
  validate(options);
  const { endpoints, inFlight, maxOps, budgetMs, workerIntervalMs } = options;
  const routing = options.routing ?? 'round-robin';
  const stopAfterSuccesses = options.stopAfterSuccesses ?? Number.POSITIVE_INFINITY;
  const histogram = new LatencyHistogram();
  const errors: Record<string, number> = {};
  const labels: Record<string, number> = {};
  let started = 0;
  let succeeded = 0;
  let failed = 0;
  let late = 0;
  let firstSuccessMs: number | null = null;
  const abort = new AbortController();
  // Every request in flight listens on the one signal: Node's default of 10 would warn at 11.
  setMaxListeners(inFlight * 4 + 16, abort.signal);
  const startedAt = performance.now();
  const deadline = startedAt + budgetMs;
  const drainTimer = setTimeout(() => abort.abort(), budgetMs + (options.drainMs ?? DEFAULT_DRAIN_MS));
  const mayStart = (): boolean => started < maxOps && succeeded < stopAfterSuccesses && !abort.signal.aborted && performance.now() < deadline;

  const runOne = async (worker: number): Promise<void> => {
    const sequence = started++;
    const endpoint = endpoints[(routing === 'round-robin' ? sequence : worker) % endpoints.length] ?? '';
    const context: OperationContext = {
      sequence,
      worker,
      endpoint,
      signal: abort.signal,
      send: (request, to = endpoint) => pools.send(to, request, abort.signal),
    };
    const before = performance.now();
    let outcome: Outcome;
    try {
      outcome = await options.operation(context);
    } catch (error) {
      outcome = { ok: false, error: errorName(error) };
    }
    const after = performance.now();
    if (outcome.ok) {
      succeeded++;
      histogram.recordMs(after - before);
      firstSuccessMs ??= after - startedAt;
      if (outcome.label !== undefined) labels[outcome.label] = (labels[outcome.label] ?? 0) + 1;
    } else {
      failed++;
      errors[outcome.error] = (errors[outcome.error] ?? 0) + 1;
    }
  };

  const closedWorker = async (worker: number): Promise<void> => {
    while (mayStart()) await runOne(worker);
  };
  const pacedWorker = async (worker: number, intervalMs: number): Promise<void> => {
    const offset = (worker * intervalMs) / inFlight;
    for (let round = 0; ; round++) {
      const due = startedAt + offset + round * intervalMs;
      if (due >= deadline) return;
      const now = performance.now();
      if (due > now) await sleep(due - now, undefined, { signal: abort.signal }).catch(() => undefined);
      else if (now - due > intervalMs) late++;
      if (!mayStart()) return;
      await runOne(worker);
    }
  };

  try {
    await Promise.all(Array.from({ length: inFlight }, (_, worker) =>
      workerIntervalMs === undefined ? closedWorker(worker) : pacedWorker(worker, workerIntervalMs)));
  } finally {
    clearTimeout(drainTimer);
  }
  const seconds = (performance.now() - startedAt) / 1000;
  const stoppedBy: StopReason = succeeded >= stopAfterSuccesses ? 'successes' : started >= maxOps ? 'count' : 'time';
  return {
    started,
    succeeded,
    failed,
    errors,
    labels,
    seconds,
    opsPerSecond: seconds > 0 ? succeeded / seconds : 0,
    latency: histogram.summary(),
    stoppedBy,
    late,
    firstSuccessMs,
    startedAtMs: startedAt,
  };
}
