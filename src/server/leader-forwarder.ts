/**
 * Forwards a client's HTTP request to the leader and brings its answer back, over one
 * keep-alive undici Pool per leader URL (forwarding is the steady state on followers, so its
 * connections should stay warm). The pool opens as many connections as requests are in flight:
 * blocking requests (a lock acquire waiting in line) hold theirs for long, and must not stall
 * the others; the bound is on requests in flight instead (beyond it, 429 overloaded, so clients
 * back off rather than queue past their deadlines). The request goes out as it came in —
 * method, path and query, JSON body — plus the headers of request-scope.ts: the forwarding mark,
 * the remaining deadline and the idempotency key that makes a repeated attempt safe.
 */
import type { Socket } from 'node:net';
import { Pool, type Dispatcher } from 'undici';
import type { FastifyRequest } from 'fastify';
import { ConcordError } from '../common/errors.ts';
import type { ForwardingTls } from './client-tls.ts';
import { FORWARDED_BY_HEADER, IDEMPOTENCY_KEY_HEADER, REMAINING_TIMEOUT_HEADER, type RequestScope } from './request-scope.ts';

/** The leader's answer, to relay as is. */
export interface ForwardedAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

/** Headers of the leader's answer that the client should see. */
const RELAYED_HEADERS = ['content-type', 'retry-after', 'x-concord-leader', 'x-concord-revision', 'x-concord-node'];
/** Headers of the client's request that the leader should see. */
const PASSED_HEADERS = ['authorization', 'accept'];
/** Time the leader gets beyond the deadline to send its own 504 rather than have the socket cut. */
const ANSWER_SLACK_MS = 1000;

export class LeaderForwarder {
  private readonly pools = new Map<string, Pool>();
  private closed = false;
  private inFlight = 0;

  constructor(
    private readonly nodeId: string,
    private readonly maxInFlight: number,
    /** Trust and client certificate for https:// leaders (client-tls.ts); undefined = defaults. */
    private readonly tls?: ForwardingTls,
  ) {}

  /**
   * Sends `request` to `leaderUrl`; rejects on a network failure (the caller may try again), and
   * with a ConcordError `overloaded` when maxInFlight requests are already being forwarded.
   */
  async forward(request: FastifyRequest, scope: RequestScope, leaderUrl: string): Promise<ForwardedAnswer> {
    if (this.inFlight >= this.maxInFlight) {
      throw new ConcordError('overloaded', `this node is already forwarding ${this.inFlight} requests to the leader; retry later`);
    }
    this.inFlight++;
    try {
      return await this.send(request, scope, leaderUrl);
    } finally {
      this.inFlight--;
    }
  }

  private async send(request: FastifyRequest, scope: RequestScope, leaderUrl: string): Promise<ForwardedAnswer> {
    const headers: Record<string, string> = {
      [FORWARDED_BY_HEADER]: this.nodeId,
      [REMAINING_TIMEOUT_HEADER]: String(Math.max(1, Math.floor(scope.deadline.remainingMs()))),
    };
    for (const name of PASSED_HEADERS) {
      const value = request.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    // The same request id on both nodes, so their log lines can be matched.
    headers['x-request-id'] = request.id;
    const key = scope.idempotencyKey;
    if (key !== undefined) headers[IDEMPOTENCY_KEY_HEADER] = key;
    let body: string | undefined;
    if (request.body !== undefined && request.body !== null) {
      body = JSON.stringify(request.body);
      headers['content-type'] = 'application/json';
    }
    const waitMs = scope.deadline.remainingMs() + ANSWER_SLACK_MS;
    // A client that goes away takes its forwarded request with it, so the leader sees the
    // disconnect too (a blocking lock acquire then leaves the queue instead of waiting for nobody).
    const clientGone = new AbortController();
    const socket = request.raw.socket as Socket | null;
    const onClientClose = (): void => clientGone.abort(new Error('the client closed its connection'));
    socket?.once('close', onClientClose);
    const chunks: Buffer[] = [];
    let response: Dispatcher.ResponseData;
    try {
      response = await this.poolFor(leaderUrl).request({
        method: request.method as 'GET' | 'PUT' | 'POST' | 'DELETE',
        path: request.url,
        headers,
        ...(body === undefined ? {} : { body }),
        headersTimeout: waitMs,
        bodyTimeout: waitMs,
        signal: clientGone.signal,
      });
      for await (const chunk of response.body) chunks.push(Buffer.from(chunk as Uint8Array));
    } finally {
      socket?.off('close', onClientClose);
    }
    const relayed: Record<string, string> = {};
    for (const name of RELAYED_HEADERS) {
      const value = response.headers[name];
      if (typeof value === 'string') relayed[name] = value;
    }
    return { status: response.statusCode, headers: relayed, body: Buffer.concat(chunks) };
  }

  async close(): Promise<void> {
    this.closed = true;
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((pool) => pool.destroy()));
  }

  private poolFor(url: string): Pool {
    if (this.closed) throw new Error('forwarder closed');
    const origin = new URL(url).origin;
    let pool = this.pools.get(origin);
    if (pool === undefined) {
      const tls = this.tls;
      const connect = tls !== undefined && origin.startsWith('https:') ? { connect: { ...tls } } : {};
      pool = new Pool(origin, { connections: null, keepAliveTimeout: 30_000, ...connect });
      this.pools.set(origin, pool);
    }
    return pool;
  }
}
