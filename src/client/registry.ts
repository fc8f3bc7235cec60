/**
 * The service registry: `register()` returns a handle that heartbeats until `deregister()` (and
 * registers again if the instance expired meanwhile, e.g. after a long partition);
 * `discover(service, filters)`; `services()`; `watch(service)`, an async iterator of instance
 * lists driven by blocking queries (each answers when the service's revision moves past the
 * last one seen), so it fails over like any call.
 */
import { EventEmitter } from 'node:events';
import type { ClientCore } from './core.ts';
import { ConcordError } from './errors.ts';
import { pauseBeforeRetry, reconnectingEvents } from './reconnecting-stream.ts';
import { defined, leaseIdOf, type CallOptions, type Consistency, type LeaseRef } from './types.ts';

export type InstanceStatus = 'passing' | 'warning' | 'critical';

export interface Instance {
  readonly id: string;
  readonly address: string;
  readonly port: number;
  readonly tags: readonly string[];
  readonly meta: Readonly<Record<string, string>>;
  readonly status: InstanceStatus;
  readonly note?: string;
  readonly lease: string;
  readonly modRevision: number;
}

export interface ServiceView {
  /** The service's revision: moves exactly when its instance list changes. */
  readonly revision: number;
  readonly instances: readonly Instance[];
}

export interface DiscoverFilters {
  readonly status?: InstanceStatus;
  readonly tag?: string;
}

export interface DiscoverOptions extends DiscoverFilters, CallOptions {
  /** Blocking query: answer once the service's revision exceeds this (or after waitMs). */
  readonly index?: number;
  /** With index: the longest the server holds the query (default 60 000, at most 600 000). */
  readonly waitMs?: number;
  readonly consistency?: Consistency;
}

export interface RegisterOptions extends CallOptions {
  readonly service: string;
  readonly id: string;
  readonly address: string;
  readonly port: number;
  readonly tags?: readonly string[];
  readonly meta?: Readonly<Record<string, string>>;
  /** TTL of the instance's own lease (default 10 000 ms); or `lease`. */
  readonly ttlMs?: number;
  /** Live on this lease instead (you keep it alive; heartbeats then renew it too). */
  readonly lease?: LeaseRef;
  /** Time between heartbeats (default ttlMs / 3). */
  readonly heartbeatIntervalMs?: number;
}

export interface RegistrationEvents {
  /** The instance had expired (heartbeats held back too long) and was registered again. */
  reregistered: [{ revision: number; lease: string }];
  /** One heartbeat failed; it goes on. */
  failure: [ConcordError];
}

const DEFAULT_TTL_MS = 10_000;

export interface RegistryWatchOptions extends DiscoverFilters {
  readonly signal?: AbortSignal;
  /** blocking (default): blocking queries; sse: the node's event stream. */
  readonly via?: 'blocking' | 'sse';
  /** Blocking queries: how long each may wait (default 60 000). */
  readonly waitMs?: number;
  /** SSE: a stream silent this long is taken as dead and reopened (default 35 s). */
  readonly idleTimeoutMs?: number;
}

/** Backoff before another try; false when the signal fired meanwhile. */
function path(service: string, id?: string): string {
  const base = `/v1/services/${encodeURIComponent(service)}`;
  return id === undefined ? base : `${base}/instances/${encodeURIComponent(id)}`;
}

export class Registration extends EventEmitter<RegistrationEvents> {
  private stopped = false;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private currentLease: string;
  private readonly intervalMs: number;

  constructor(
    private readonly core: ClientCore,
    private readonly options: RegisterOptions,
    lease: string,
    readonly revision: number,
  ) {
    super();
    this.currentLease = lease;
    this.intervalMs = options.heartbeatIntervalMs ?? (options.ttlMs ?? DEFAULT_TTL_MS) / 3;
    this.schedule(this.intervalMs);
  }

  get service(): string {
    return this.options.service;
  }

  get id(): string {
    return this.options.id;
  }

  get lease(): string {
    return this.currentLease;
  }

  /** Sets the instance's health status (a write only when it changes); also a heartbeat. */
  async setStatus(status: InstanceStatus, note?: string, options: CallOptions = {}): Promise<void> {
    await this.core.call({
      method: 'POST',
      path: `${path(this.service, this.id)}/heartbeat`,
      body: defined({ status, note }),
      ...defined({ signal: options.signal, timeoutMs: options.timeoutMs }),
    });
  }

  /** Stops heartbeating and removes the instance (its own lease is revoked with it). */
  async deregister(options: CallOptions = {}): Promise<void> {
    this.stop();
    try {
      await this.core.call({ method: 'DELETE', path: path(this.service, this.id), ...defined({ signal: options.signal, timeoutMs: options.timeoutMs }) });
    } catch (error) {
      if (!(error instanceof ConcordError && error.code === 'not_found')) throw error;
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.deregister();
  }

  /** Stops heartbeating without deregistering (the instance disappears after its TTL). */
  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.heartbeat(), delayMs);
  }

  private async heartbeat(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.core.call({ method: 'POST', path: `${path(this.service, this.id)}/heartbeat`, timeoutMs: Math.max(1_000, this.intervalMs) });
      this.schedule(this.intervalMs);
    } catch (error) {
      if (this.stopped) return;
      const failure = error instanceof ConcordError ? error : new ConcordError('internal', String(error));
      if (failure.code === 'not_found' && this.options.lease === undefined) {
        try {
          const again = await registerOnce(this.core, this.options);
          if (this.stopped) return;
          this.currentLease = again.lease;
          this.emit('reregistered', { revision: again.revision, lease: again.lease });
          this.schedule(this.intervalMs);
          return;
        } catch (registerError) {
          this.emit('failure', registerError instanceof ConcordError ? registerError : failure);
        }
      } else {
        this.emit('failure', failure);
      }
      this.schedule(Math.min(this.intervalMs, 500));
    }
  }
}

async function registerOnce(core: ClientCore, options: RegisterOptions): Promise<{ lease: string; revision: number }> {
  const body = defined({
    address: options.address,
    port: options.port,
    tags: options.tags,
    meta: options.meta,
    ttlMs: options.lease === undefined ? (options.ttlMs ?? DEFAULT_TTL_MS) : undefined,
    lease: options.lease === undefined ? undefined : leaseIdOf(options.lease),
  });
  const answer = await core.call<{ service: string; id: string; lease: string; revision: number }>({
    method: 'PUT',
    path: path(options.service, options.id),
    body,
    ...defined({ signal: options.signal, timeoutMs: options.timeoutMs }),
  });
  return answer.body;
}

export class RegistryClient {
  constructor(private readonly core: ClientCore) {}

  /** Registers an instance and heartbeats it until `deregister()`. */
  async register(options: RegisterOptions): Promise<Registration> {
    const { lease, revision } = await registerOnce(this.core, options);
    return new Registration(this.core, options, lease, revision);
  }

  /** A service's instances (filtered); with `index`, a blocking query. */
  async discover(service: string, options: DiscoverOptions = {}): Promise<ServiceView> {
    const blocking = options.index !== undefined;
    const answer = await this.core.call<ServiceView>({
      method: 'GET',
      path: path(service),
      query: { status: options.status, tag: options.tag, index: options.index, waitMs: options.waitMs, consistency: options.consistency },
      waits: blocking,
      // The server's timeoutMs bounds only the read barrier; the wait is waitMs.
      serverDeadline: options.timeoutMs ?? this.core.timeoutMs,
      timeoutMs: (blocking ? (options.waitMs ?? 60_000) : 0) + (options.timeoutMs ?? this.core.timeoutMs),
      ...defined({ signal: options.signal }),
    });
    return answer.body;
  }

  /** Services with at least one instance. */
  async services(options: CallOptions = {}): Promise<readonly { name: string; instances: number; passing: number }[]> {
    const answer = await this.core.call<{ services: { name: string; instances: number; passing: number }[] }>({
      method: 'GET',
      path: '/v1/services',
      ...defined({ signal: options.signal, timeoutMs: options.timeoutMs }),
    });
    return answer.body.services;
  }

  /**
   * The service's instance list now, then after every change, as an async iterator: on blocking
   * queries (default), or on the node's SSE stream with `via: 'sse'` (one open connection,
   * reopened elsewhere when it breaks). Either way a list is yielded only when the service's
   * revision moved past the last one yielded. Transient failures are retried; it ends when
   * `signal` fires.
   */
  watch(service: string, options: RegistryWatchOptions = {}): AsyncGenerator<ServiceView> {
    return options.via === 'sse' ? this.watchStream(service, options) : this.watchBlocking(service, options);
  }

  private async *watchStream(service: string, options: RegistryWatchOptions): AsyncGenerator<ServiceView> {
    let last = -1;
    const events = reconnectingEvents(this.core, {
      signal: options.signal ?? new AbortController().signal,
      idleTimeoutMs: options.idleTimeoutMs,
      target: () => ({ path: `${path(service)}/watch`, query: { status: options.status, tag: options.tag } }),
      delivers: (frame) => frame.event === 'instances',
    });
    for await (const frame of events) {
      if (frame.event !== 'instances') continue;
      const view = frame.data as ServiceView;
      if (view.revision <= last) continue;
      last = view.revision;
      yield view;
    }
  }

  private async *watchBlocking(service: string, options: RegistryWatchOptions): AsyncGenerator<ServiceView> {
    const signal = options.signal ?? new AbortController().signal;
    let index: number | undefined;
    let failures = 0;
    while (!signal.aborted) {
      let view: ServiceView;
      try {
        view = await this.discover(service, { ...defined({ status: options.status, tag: options.tag, index, waitMs: index === undefined ? undefined : (options.waitMs ?? 60_000) }), signal });
      } catch (error) {
        if (signal.aborted) return;
        if (!(error instanceof ConcordError && error.retryable)) throw error;
        if (!(await pauseBeforeRetry(failures++, signal))) return;
        continue;
      }
      failures = 0;
      if (index === undefined || view.revision > index) yield view;
      index = Math.max(index ?? 0, view.revision);
    }
  }
}
