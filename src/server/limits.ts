/**
 * The server's own bounds and timings, in one place. Each has a default an operator rarely needs
 * to change; tests shrink the timings (watch progress, leader polling) to run fast. The KV limits
 * (key and value size, txn ops) are not here: the state machine owns them and the server reports
 * its violations as the contract's 400/413.
 */
import { DEFAULT_MAX_VALUE_BYTES } from '../kv/index.ts';

export interface ServerLimits {
  /** Largest request body accepted (413 beyond). Default: room for one max-size value, JSON-escaped. */
  readonly bodyLimitBytes: number;
  /** The deadline of a request that gives no `timeoutMs` (the contract's 5000). */
  readonly defaultTimeoutMs: number;
  /** The longest deadline a request may ask for (400 beyond). */
  readonly maxTimeoutMs: number;
  /** Concurrent watch streams on this node (429 overloaded beyond). */
  readonly maxWatchers: number;
  /**
   * Streams (watch, service watch, election observe) one client — one remote address — may hold
   * open on this node at once (429 overloaded beyond); see client-streams.ts.
   */
  readonly maxWatchersPerClient: number;
  /**
   * Client TCP connections this node's HTTP listener keeps at once (Node's
   * `server.maxConnections`): beyond it, a new connection is closed as soon as it is accepted,
   * before any request is read, and the drop is logged. Keep-alive connections count while open.
   */
  readonly maxClientConnections: number;
  /** Blocking service queries (`GET /v1/services/{service}?index=`) waiting on this node (429 overloaded beyond). */
  readonly maxBlockingQueries: number;
  /** A watch stream idle this long gets an `event: progress` (the contract asks for ≤ 10 s). */
  readonly watchProgressIntervalMs: number;
  /** A watcher whose unsent output exceeds this is too slow: its stream ends (it resumes by revision). */
  readonly watchMaxBufferedBytes: number;
  /** How often a request waiting for a leader looks again. */
  readonly leaderPollIntervalMs: number;
  /** `retry-after` (seconds) on 429 and 503 answers. */
  readonly retryAfterSeconds: number;
  /**
   * Requests this node forwards to the leader at once; beyond it, 429 overloaded. Each holds a
   * keep-alive connection while in flight (a blocking lock acquire holds one for its whole
   * wait), so connections are not capped separately: a fixed pool let sixteen waiting acquires
   * stall every other forwarded request behind them.
   */
  readonly maxForwardedInFlight: number;
  /** How often the metrics sampler looks at Raft state (leader changes between scrapes are counted). */
  readonly metricsSampleIntervalMs: number;
  /**
   * On close, requests in flight get this long to finish; then every connection is cut (idle
   * keep-alive sockets of clients would otherwise hold the listener open until they time out).
   */
  readonly shutdownGraceMs: number;
  /** `GET /v1/kv` without `limit` returns at most this many items (`more` says if there are others). */
  readonly maxRangeItems: number;
  /**
   * With --auth: requests per second one token may make on this node (a token bucket refilling
   * at this rate); beyond it, 429 overloaded with retry-after. 0 = unlimited. `--token-rate-limit`.
   */
  readonly tokenRequestsPerSecond: number;
  /** The bucket's size: how many requests a token may make at once after being idle. */
  readonly tokenBurst: number;
  /** Token buckets kept at most (idle, refilled ones are dropped first): bounds memory. */
  readonly maxTokenBuckets: number;
}

export const DEFAULT_SERVER_LIMITS: ServerLimits = {
  bodyLimitBytes: 2 * DEFAULT_MAX_VALUE_BYTES + 64 * 1024,
  defaultTimeoutMs: 5000,
  maxTimeoutMs: 120_000,
  maxWatchers: 10_000,
  maxWatchersPerClient: 256,
  maxClientConnections: 20_000,
  maxBlockingQueries: 10_000,
  watchProgressIntervalMs: 10_000,
  watchMaxBufferedBytes: 8 * 1024 * 1024,
  leaderPollIntervalMs: 25,
  retryAfterSeconds: 1,
  maxForwardedInFlight: 4096,
  metricsSampleIntervalMs: 100,
  maxRangeItems: 10_000,
  tokenRequestsPerSecond: 1000,
  tokenBurst: 1000,
  maxTokenBuckets: 100_000,
  shutdownGraceMs: 2000,
};

/**
 * The limits in force: the defaults, a body limit that fits the node's configured value size,
 * and the caller's overrides on top.
 */
export function resolveServerLimits(overrides: Partial<ServerLimits> | undefined, maxValueBytes: number): ServerLimits {
  const bodyLimitBytes = Math.max(DEFAULT_SERVER_LIMITS.bodyLimitBytes, 2 * maxValueBytes + 64 * 1024);
  return { ...DEFAULT_SERVER_LIMITS, bodyLimitBytes, ...overrides };
}
