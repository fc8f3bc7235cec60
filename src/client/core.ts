/**
 * The SDK's engine: every call goes through `ClientCore.call`, which
 * - picks an endpoint: the leader's, once an answer has named it (`x-concord-leader`) and that
 *   node is one of the configured endpoints (learned from `x-concord-node`), else the current
 *   one, moving on to the next after a connection error, a 503 or an attempt that hung;
 * - gives every non-GET request an `idempotency-key`, generated once per call and sent with
 *   every attempt, so a retried write applies at most once (the server's dedup table);
 * - retries what the contract says may be retried (connection errors, 429, 503, 504) with
 *   backoff, honouring `retry-after`, until the call's deadline;
 * - passes what remains of the deadline to the server as `timeoutMs`, so both give up together;
 * - stops at once when the caller's AbortSignal fires;
 * - turns every failure into a ConcordError.
 * It also opens SSE streams with the same failover (`openStream`).
 */
import { randomUUID } from 'node:crypto';
import { abortedError, ConcordError, errorFromAnswer } from './errors.ts';
import { sleepOn, systemClock, type ClientClock } from './clock.ts';
import type { Headers, HttpMethod, Transport, TransportResponse, TransportStream } from './transport.ts';

export type QueryValue = string | number | boolean | undefined;

export interface CallOptions {
  readonly method: HttpMethod;
  readonly path: string;
  readonly query?: Readonly<Record<string, QueryValue>>;
  /** JSON body; a function is evaluated per attempt (e.g. to shrink a wait as time passes). */
  readonly body?: unknown;
  readonly signal?: AbortSignal | undefined;
  /** The call's deadline (default: the client's timeoutMs). */
  readonly timeoutMs?: number | undefined;
  /**
   * Send what remains of the deadline to the server as `timeoutMs` (default true); false for
   * routes without that parameter (they refuse it) or where the server's own default is better;
   * a number caps it (a blocking query's `timeoutMs` bounds only its read barrier).
   */
  readonly serverDeadline?: boolean | number;
  /** The server may hold this request (a wait): give each attempt the whole remaining deadline. */
  readonly waits?: boolean;
  /** Use this idempotency key instead of a generated one. */
  readonly idempotencyKey?: string | undefined;
  /** `bytes`: the success body is returned as a Uint8Array (see TransportRequest). */
  readonly responseType?: 'parsed' | 'bytes';
  /**
   * Retryable server answers that say why nothing was done (a membership change refused as
   * `unavailable` with a `reason`): when the deadline passes and such an answer was the last
   * word, it is thrown as it came instead of `timeout`, so its code and details reach the caller.
   */
  readonly refusalAtDeadline?: (error: ConcordError) => boolean;
}

export interface CallResult<T> {
  readonly status: number;
  readonly body: T;
  readonly headers: Headers;
  /** When (client clock) the first attempt left: what a lease's safety is measured from. */
  readonly firstSentAt: number;
  readonly endpoint: string;
}

export interface OpenedStream extends TransportStream {
  readonly endpoint: string;
}

export interface RetryOptions {
  /** First backoff after a failed round over the endpoints (default 50 ms), doubling. */
  readonly initialBackoffMs?: number;
  /** Longest backoff (default 1000 ms). */
  readonly maxBackoffMs?: number;
}

export interface CoreOptions {
  readonly endpoints: readonly string[];
  readonly timeoutMs: number;
  readonly token?: string | undefined;
  readonly transport: Transport;
  readonly clock?: ClientClock;
  readonly retry?: RetryOptions;
  /** Random in [0, 1) for backoff jitter (tests pass a fixed one). */
  readonly random?: () => number;
  readonly newIdempotencyKey?: () => string;
}

const LEADER_HEADER = 'x-concord-leader';
const NODE_HEADER = 'x-concord-node';
const SERVED_BY_HEADER = 'x-concord-served-by';
/** Kept back from an attempt's budget so the server's answer (504) arrives before we give up. */
const SERVER_DEADLINE_SLACK_MS = 100;
/** An attempt that may be retried elsewhere gets this share of what remains (at least 1.5 s). */
const ATTEMPT_SHARE = 0.6;
const MIN_ATTEMPT_MS = 1_500;
const MEMBERS_LOOKUP_INTERVAL_MS = 1_000;
/** An attempt given less than this by the deadline and cut off is not taken for a hung node. */
const CUT_SHORT_MS = 100;
/** A node refuses a longer `timeoutMs` (its default maxTimeoutMs); the client's own deadline may be longer. */
const MAX_SERVER_TIMEOUT_MS = 120_000;
const MEMBERS_LOOKUP_TIMEOUT_MS = 2_000;

function normalizeEndpoint(endpoint: string): string {
  const trimmed = endpoint.trim().replace(/\/+$/, '');
  return /^https?:\/\//.test(trimmed) ? trimmed : `http://${trimmed}`;
}

export function buildQuery(query: Readonly<Record<string, QueryValue>> | undefined): string {
  if (query === undefined) return '';
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) if (value !== undefined) params.set(name, String(value));
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
}

/** Encodes a key or name as path segments: every byte but `/` escaped (keys may hold `/`). */
export function encodeKeyPath(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/');
}

export class ClientCore {
  readonly endpoints: readonly string[];
  readonly clock: ClientClock;
  readonly timeoutMs: number;
  private current = 0;
  private leaderEndpoint: string | null = null;
  private readonly endpointOfNode = new Map<string, string>();
  /** The last leader an answer named (a node id). */
  private leaderHint: string | null = null;
  private membersAskedAt = Number.NEGATIVE_INFINITY;
  private readonly initialBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly random: () => number;
  private readonly newKey: () => string;

  constructor(private readonly options: CoreOptions) {
    if (options.endpoints.length === 0) throw new ConcordError('invalid_argument', 'give at least one endpoint');
    this.endpoints = [...new Set(options.endpoints.map(normalizeEndpoint))];
    this.clock = options.clock ?? systemClock;
    this.timeoutMs = options.timeoutMs;
    this.initialBackoffMs = options.retry?.initialBackoffMs ?? 50;
    this.maxBackoffMs = options.retry?.maxBackoffMs ?? 1_000;
    this.random = options.random ?? Math.random;
    this.newKey = options.newIdempotencyKey ?? (() => `sdk-${randomUUID()}`);
  }

  get transport(): Transport {
    return this.options.transport;
  }

  /** The endpoint the next request goes to. */
  get preferredEndpoint(): string {
    return this.leaderEndpoint ?? this.endpoints[this.current % this.endpoints.length] ?? '';
  }

  async call<T>(options: CallOptions): Promise<CallResult<T>> {
    const signal = options.signal;
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    const deadline = this.clock.now() + timeoutMs;
    const idempotencyKey = options.method === 'GET' ? undefined : (options.idempotencyKey ?? this.newKey());
    let firstSentAt: number | null = null;
    let lastError: ConcordError | null = null;
    let lastRefusal: ConcordError | null = null;
    let failuresInRound = 0;
    let round = 0;
    for (;;) {
      if (isAborted(signal)) throw abortedError(signal);
      const remaining = deadline - this.clock.now();
      if (remaining <= 0) throw lastRefusal ?? this.deadlineError(timeoutMs, lastError);
      const endpoint = this.preferredEndpoint;
      const attemptMs = options.waits === true || this.endpoints.length === 1 ? remaining : Math.min(remaining, Math.max(MIN_ATTEMPT_MS, remaining * ATTEMPT_SHARE));
      const query = { ...options.query, ...serverDeadlineParam(options.serverDeadline, attemptMs) };
      const body = typeof options.body === 'function' ? (options.body as () => unknown)() : options.body;
      const headers: Record<string, string> = { accept: 'application/json' };
      if (body !== undefined) headers['content-type'] = 'application/json';
      if (idempotencyKey !== undefined) headers['idempotency-key'] = idempotencyKey;
      if (this.options.token !== undefined) headers['authorization'] = `Bearer ${this.options.token}`;
      const attemptTimeout = AbortSignal.timeout(Math.max(1, Math.ceil(attemptMs)));
      const attemptSignal = signal === undefined ? attemptTimeout : AbortSignal.any([signal, attemptTimeout]);
      firstSentAt ??= this.clock.now();
      let response: TransportResponse;
      try {
        response = await this.options.transport.request(endpoint, {
          method: options.method,
          path: `${options.path}${buildQuery(query)}`,
          headers,
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          signal: attemptSignal,
          timeoutMs: attemptMs,
          ...(options.responseType === undefined ? {} : { responseType: options.responseType }),
        });
      } catch (error) {
        if (isAborted(signal)) throw abortedError(signal);
        // An attempt that hung may have been applied; one that never connected was not. A last
        // sliver of the deadline cut short says nothing new: keep the error before it.
        const cutShort = attemptTimeout.aborted && attemptMs < CUT_SHORT_MS && lastError !== null;
        if (!cutShort) {
          const code = attemptTimeout.aborted ? 'timeout' : 'unavailable';
          lastError = new ConcordError(code, `${endpoint}: ${attemptTimeout.aborted ? `no answer within ${Math.round(attemptMs)} ms` : describe(error)}`, undefined, { endpoint }, { cause: error });
        }
        this.moveOn(endpoint);
        failuresInRound += 1;
        if (failuresInRound >= this.endpoints.length) {
          failuresInRound = 0;
          await this.backoff(round++, null, deadline, signal);
        }
        continue;
      }
      this.learn(endpoint, response.headers);
      if (response.status >= 200 && response.status < 300) {
        return { status: response.status, body: response.body as T, headers: response.headers, firstSentAt, endpoint };
      }
      const error = errorFromAnswer(response.status, response.body, typeof response.body === 'string' ? response.body : '');
      if (!isRetryableAnswer(response.status)) throw error;
      lastError = error;
      // A later answer of another kind replaces the refusal, unless its attempt had only a last
      // sliver of the deadline (which says nothing new).
      if (options.refusalAtDeadline?.(error) === true) lastRefusal = error;
      else if (attemptMs >= CUT_SHORT_MS) lastRefusal = null;
      if (response.status === 503 || response.status === 504) {
        // This node has no leader, is going away, or hung: the next attempt goes elsewhere (or to
        // the leader it named).
        if (this.preferredEndpoint === endpoint) this.moveOn(endpoint);
      }
      failuresInRound += 1;
      if (failuresInRound >= this.endpoints.length || response.status === 429) {
        failuresInRound = 0;
        await this.backoff(round++, retryAfterMs(response.headers), deadline, signal);
      }
    }
  }

  /**
   * Opens an SSE stream on some endpoint, failing over like `call` until `timeoutMs` passes.
   * A non-retryable answer (410 compacted, 400) is thrown as its ConcordError.
   */
  async openStream(path: string, query: Readonly<Record<string, QueryValue>>, signal: AbortSignal | undefined, idleTimeoutMs: number): Promise<OpenedStream> {
    const deadline = this.clock.now() + this.timeoutMs;
    let lastError: ConcordError | null = null;
    let failuresInRound = 0;
    let round = 0;
    for (;;) {
      if (isAborted(signal)) throw abortedError(signal);
      if (deadline - this.clock.now() <= 0) throw this.deadlineError(this.timeoutMs, lastError);
      const endpoint = this.preferredEndpoint;
      const headers: Record<string, string> = { accept: 'text/event-stream' };
      if (this.options.token !== undefined) headers['authorization'] = `Bearer ${this.options.token}`;
      const streamSignal = signal ?? new AbortController().signal;
      let opened: TransportStream | TransportResponse;
      try {
        opened = await this.options.transport.stream(endpoint, { method: 'GET', path: `${path}${buildQuery(query)}`, headers, signal: streamSignal, timeoutMs: idleTimeoutMs });
      } catch (error) {
        if (isAborted(signal)) throw abortedError(signal);
        lastError = new ConcordError('unavailable', `${endpoint}: ${describe(error)}`, undefined, { endpoint }, { cause: error });
        this.moveOn(endpoint);
        if (++failuresInRound >= this.endpoints.length) {
          failuresInRound = 0;
          await this.backoff(round++, null, deadline, signal);
        }
        continue;
      }
      this.learn(endpoint, opened.headers);
      if ('chunks' in opened) return { ...opened, endpoint, close: () => opened.close() };
      const error = errorFromAnswer(opened.status, opened.body);
      if (!isRetryableAnswer(opened.status)) throw error;
      lastError = error;
      this.moveOn(endpoint);
      if (++failuresInRound >= this.endpoints.length) {
        failuresInRound = 0;
        await this.backoff(round++, retryAfterMs(opened.headers), deadline, signal);
      }
    }
  }

  /** Stops preferring `endpoint` after it failed: the next endpoint in the list is tried next. */
  moveOn(endpoint: string): void {
    if (this.leaderEndpoint === endpoint) this.leaderEndpoint = null;
    const index = this.endpoints.indexOf(endpoint);
    if (index >= 0 && index === this.current % this.endpoints.length) this.current = index + 1;
    else if (index < 0) this.current += 1;
  }

  /**
   * Remembers which configured endpoint is which node, and prefers the leader once named. A
   * leader this client has not talked to yet is looked up in the answering node's member list
   * (in the background, at most once a second); only a member whose client URL is one of the
   * configured endpoints is ever preferred.
   */
  private learn(endpoint: string, headers: Headers): void {
    const node = headers[NODE_HEADER];
    if (node !== undefined && node !== '') this.endpointOfNode.set(node, endpoint);
    const leader = headers[SERVED_BY_HEADER] ?? headers[LEADER_HEADER];
    if (leader === undefined || leader === '') return;
    this.leaderHint = leader;
    const leaderEndpoint = this.endpointOfNode.get(leader);
    if (leaderEndpoint !== undefined) this.leaderEndpoint = leaderEndpoint;
    else this.askMembers(endpoint);
  }

  private askMembers(endpoint: string): void {
    const now = this.clock.now();
    if (now - this.membersAskedAt < MEMBERS_LOOKUP_INTERVAL_MS) return;
    this.membersAskedAt = now;
    const signal = AbortSignal.timeout(MEMBERS_LOOKUP_TIMEOUT_MS);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.options.token !== undefined) headers['authorization'] = `Bearer ${this.options.token}`;
    this.options.transport
      .request(endpoint, { method: 'GET', path: '/v1/cluster', headers, signal, timeoutMs: MEMBERS_LOOKUP_TIMEOUT_MS })
      .then((answer) => {
        const members = (answer.body as { members?: unknown } | undefined)?.members;
        if (answer.status !== 200 || !Array.isArray(members)) return;
        for (const member of members as Array<{ id?: unknown; clientUrl?: unknown }>) {
          if (typeof member.id !== 'string' || typeof member.clientUrl !== 'string' || member.clientUrl === '') continue;
          const url = normalizeEndpoint(member.clientUrl);
          if (this.endpoints.includes(url)) this.endpointOfNode.set(member.id, url);
        }
        const leaderEndpoint = this.leaderHint === null ? undefined : this.endpointOfNode.get(this.leaderHint);
        if (leaderEndpoint !== undefined) this.leaderEndpoint = leaderEndpoint;
      })
      .catch(() => undefined);
  }

  private async backoff(round: number, retryAfter: number | null, deadline: number, signal: AbortSignal | undefined): Promise<void> {
    const exponential = Math.min(this.maxBackoffMs, this.initialBackoffMs * 2 ** round);
    const jittered = exponential / 2 + (this.random() * exponential) / 2;
    const wait = Math.min(retryAfter ?? jittered, this.maxBackoffMs, Math.max(0, deadline - this.clock.now()));
    try {
      await sleepOn(this.clock, wait, signal);
    } catch {
      if (signal !== undefined) throw abortedError(signal);
    }
  }

  private deadlineError(timeoutMs: number, lastError: ConcordError | null): ConcordError {
    // No endpoint could be reached at all: that is unavailability, not a slow server.
    if (lastError?.code === 'unavailable' && lastError.status === undefined) {
      return new ConcordError('unavailable', `no endpoint answered within ${timeoutMs} ms (last: ${lastError.message})`, undefined, lastError.details, { cause: lastError });
    }
    return new ConcordError('timeout', `no answer within ${timeoutMs} ms; a write's outcome is unknown${lastError === null ? '' : ` (last: ${lastError.message})`}`, undefined, {}, { cause: lastError ?? undefined });
  }
}

function serverDeadlineParam(setting: boolean | number | undefined, attemptMs: number): { timeoutMs?: number } {
  if (setting === false) return {};
  const budget = Math.max(1, Math.min(MAX_SERVER_TIMEOUT_MS, Math.floor(attemptMs - SERVER_DEADLINE_SLACK_MS)));
  return { timeoutMs: typeof setting === 'number' ? Math.max(1, Math.min(budget, Math.floor(setting))) : budget };
}

/** A function, so TypeScript does not keep an `aborted` narrowed across awaits. */
function isAborted(signal: AbortSignal | undefined): signal is AbortSignal {
  return signal?.aborted === true;
}

function isRetryableAnswer(status: number): boolean {
  return status === 429 || status === 502 || status === 503 || status === 504;
}

function retryAfterMs(headers: Headers): number | null {
  const value = Number(headers['retry-after']);
  return Number.isFinite(value) && value >= 0 ? value * 1000 : null;
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' ? `${code} ${error.message}` : error.message;
  }
  return String(error);
}
