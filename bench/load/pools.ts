/**
 * Keep-alive HTTP to a set of endpoints: one undici Pool per endpoint, so that connections are
 * opened once and reused by every request of every workload (as a long-lived client would), and
 * a request never pays a TCP handshake inside a measured latency after the pool has warmed up.
 * Pools open connections lazily up to `connectionsPerEndpoint`, with pipelining off: one request
 * per connection at a time, so "N in flight" means N concurrent HTTP exchanges.
 */
import { Pool } from 'undici';

export type Method = 'GET' | 'PUT' | 'POST' | 'DELETE';

export interface LoadRequest {
  readonly method: Method;
  /** Path and query, e.g. `/v1/kv/bench/1?timeoutMs=5000`. */
  readonly path: string;
  /** Sent as application/json. Pre-serialise it once when the body does not change. */
  readonly body?: string;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface Answer {
  readonly status: number;
  readonly text: string;
}

export interface PoolOptions {
  readonly connectionsPerEndpoint: number;
  /** A request without headers or body progress for this long fails as a timeout. */
  readonly requestTimeoutMs: number;
}

export const DEFAULT_POOL_OPTIONS: PoolOptions = { connectionsPerEndpoint: 512, requestTimeoutMs: 30_000 };

/** Parses an endpoint given on the command line into an origin (`http://host:port`). */
export function originOf(endpoint: string): string {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new Error(`endpoint ${JSON.stringify(endpoint)} is not a URL (expected http://host:port)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`endpoint ${endpoint}: only http:// and https:// are supported`);
  return url.origin;
}

export class EndpointPools {
  private readonly pools = new Map<string, Pool>();

  constructor(private readonly options: PoolOptions = DEFAULT_POOL_OPTIONS) {}

  /** Sends one request to `endpoint` and reads the whole answer body. */
  async send(endpoint: string, request: LoadRequest, signal?: AbortSignal): Promise<Answer> {
    const headers: Record<string, string> = { ...request.headers };
    if (request.body !== undefined) headers['content-type'] = 'application/json';
    const response = await this.pool(endpoint).request({
      method: request.method,
      path: request.path,
      headers,
      ...(request.body === undefined ? {} : { body: request.body }),
      ...(signal === undefined ? {} : { signal }),
      headersTimeout: this.options.requestTimeoutMs,
      bodyTimeout: this.options.requestTimeoutMs,
    });
    return { status: response.statusCode, text: await response.body.text() };
  }

  /** The pool of `endpoint` (created on first use); streaming requests (SSE) use it directly. */
  pool(endpoint: string): Pool {
    const origin = originOf(endpoint);
    let pool = this.pools.get(origin);
    if (pool === undefined) {
      pool = new Pool(origin, { connections: this.options.connectionsPerEndpoint, pipelining: 1, keepAliveTimeout: 30_000 });
      this.pools.set(origin, pool);
    }
    return pool;
  }

  /** Closes every pool; requests still running are destroyed rather than waited for. */
  async close(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((pool) => pool.destroy().catch(() => undefined)));
  }
}
