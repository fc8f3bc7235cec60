/**
 * The client: `new Concord({ endpoints, token? })`, with `kv`, `leases`, `registry`, `cluster`, `maintenance`, `auth`, `lock()`,
 * `withLock()` and `election()`. One instance holds one keep-alive connection pool;
 * share it across your process and `close()` it at the end.
 */
import type { Dispatcher } from 'undici';
import type { ClientClock } from './clock.ts';
import { AuthClient } from './auth.ts';
import { ClusterClient } from './cluster.ts';
import { ClientCore, type RetryOptions } from './core.ts';
import { Election } from './elections.ts';
import { KvClient } from './kv.ts';
import { MaintenanceClient } from './maintenance.ts';
import { LeaseClient } from './leases.ts';
import { acquireLock, describeLock, withLock, type LockHandle, type LockOptions, type LockView } from './locks.ts';
import { RegistryClient } from './registry.ts';
import { UndiciTransport, type ClientTlsOptions, type Transport } from './transport.ts';
import { defined, type CallOptions } from './types.ts';

export interface ConcordOptions {
  /** Client URLs of the nodes (`http://127.0.0.1:7001`), as a list or comma-separated. */
  readonly endpoints: string | readonly string[];
  /** Deadline of each call, retries included (default 5000 ms). */
  readonly timeoutMs?: number;
  /** Sent as `authorization: Bearer <token>`. */
  readonly token?: string;
  /** An undici dispatcher of your own (proxy, TLS, interceptors). */
  readonly dispatcher?: Dispatcher;
  /**
   * For https:// endpoints: `ca` to trust (a cluster with its own CA), and `cert`/`key` when the
   * cluster asks for client certificates (--client-ca). PEM text. Ignored with `dispatcher`.
   */
  readonly tls?: ClientTlsOptions;
  /** Replaces HTTP entirely (tests). */
  readonly transport?: Transport;
  /** The monotonic clock and timers lock/lease safety runs on (tests). */
  readonly clock?: ClientClock;
  readonly retry?: RetryOptions;
}

export class Concord {
  readonly kv: KvClient;
  readonly leases: LeaseClient;
  readonly registry: RegistryClient;
  /** Members, leader and leadership transfer. */
  readonly cluster: ClusterClient;
  /** Backups and watch history compaction. */
  readonly maintenance: MaintenanceClient;
  /** Users, roles and tokens (admin), and whoami. */
  readonly auth: AuthClient;
  /** The engine (endpoint choice, retries); exposed for diagnostics. */
  readonly core: ClientCore;

  constructor(options: ConcordOptions) {
    const endpoints = typeof options.endpoints === 'string' ? options.endpoints.split(',').filter((endpoint) => endpoint.trim() !== '') : options.endpoints;
    this.core = new ClientCore({
      endpoints,
      timeoutMs: options.timeoutMs ?? 5_000,
      transport: options.transport ?? new UndiciTransport(defined({ dispatcher: options.dispatcher, tls: options.tls })),
      ...defined({ token: options.token, clock: options.clock, retry: options.retry }),
    });
    this.kv = new KvClient(this.core);
    this.leases = new LeaseClient(this.core);
    this.registry = new RegistryClient(this.core);
    this.cluster = new ClusterClient(this.core);
    this.maintenance = new MaintenanceClient(this.core);
    this.auth = new AuthClient(this.core);
  }

  /** Acquires a lock: try once (default) or wait in line up to `waitMs`. */
  lock(name: string, options: LockOptions = {}): Promise<LockHandle> {
    return acquireLock(this.core, name, options);
  }

  /** Runs `fn(token, signal, lock)` holding the lock, then releases it. */
  withLock<T>(name: string, fn: (token: number, signal: AbortSignal, lock: LockHandle) => Promise<T> | T, options: LockOptions = {}): Promise<T> {
    return withLock(this.core, name, fn, options);
  }

  /** A lock's holder, waiters and recent holders. */
  describeLock(name: string, options: CallOptions = {}): Promise<LockView> {
    return describeLock(this.core, name, options);
  }

  election(name: string): Election {
    return new Election(this.core, name);
  }

  /** Closes the connection pool (handles still open stop working). */
  async close(): Promise<void> {
    await this.core.transport.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
