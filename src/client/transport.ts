/**
 * How the SDK reaches one node: a request answered with a parsed body, or a streamed answer
 * (server-sent events). The default is undici with keep-alive connections; tests substitute a
 * fake. A Transport throws only for connection-level failures (refused, reset, timed out,
 * aborted); every HTTP answer, error statuses included, is returned.
 */
import { Agent, request, type Dispatcher } from 'undici';

export type HttpMethod = 'GET' | 'PUT' | 'POST' | 'DELETE';

export interface TransportRequest {
  readonly method: HttpMethod;
  /** Path and query string, e.g. `/v1/kv/a?consistency=serializable`. */
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
  /** Fires when the caller gives up (its own signal or the attempt's deadline). */
  readonly signal: AbortSignal;
  /** The longest to wait for the answer's headers and between body chunks. */
  readonly timeoutMs: number;
  /**
   * `bytes`: a 2xx answer's body is returned as a Uint8Array, untouched (a backup file);
   * error answers are parsed as usual. Default `parsed`.
   */
  readonly responseType?: 'parsed' | 'bytes';
}

export type Headers = Readonly<Record<string, string | undefined>>;

export interface TransportResponse {
  readonly status: number;
  readonly headers: Headers;
  /** Parsed JSON when the answer is JSON, else the text (a Uint8Array when `bytes` was asked). */
  readonly body: unknown;
}

export interface TransportStream {
  readonly status: number;
  readonly headers: Headers;
  /** The body as text chunks; ends when the server ends the stream, throws on a broken one. */
  readonly chunks: AsyncIterable<string>;
  /** Ends the stream from this side. */
  close(): void;
}

export interface Transport {
  request(endpoint: string, request: TransportRequest): Promise<TransportResponse>;
  /** Opens a streamed GET. A non-200 answer's body is read whole and returned as `body`. */
  stream(endpoint: string, request: TransportRequest): Promise<TransportStream | TransportResponse>;
  close(): Promise<void>;
}

function flatHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string | undefined> {
  const flat: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(headers)) flat[name.toLowerCase()] = Array.isArray(value) ? value[0] : value;
  return flat;
}

function parseBody(text: string, contentType: string | undefined): unknown {
  if (text === '') return undefined;
  if (contentType?.includes('json') === true) {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return text;
    }
  }
  return text;
}

/**
 * TLS for https:// endpoints: the CA bundle to trust (instead of Node's default roots) and a
 * client certificate with its key, for a cluster started with --client-ca. PEM text.
 */
export interface ClientTlsOptions {
  readonly ca?: string | Buffer;
  readonly cert?: string | Buffer;
  readonly key?: string | Buffer;
}

export interface UndiciTransportOptions {
  /** A dispatcher of your own (proxy, TLS settings, interceptors); closed by you, not by the SDK. */
  readonly dispatcher?: Dispatcher;
  /** How long an idle keep-alive connection stays open (default 30 s). */
  readonly keepAliveTimeoutMs?: number;
  /** Connect timeout per attempt (default 3 s). */
  readonly connectTimeoutMs?: number;
  /** CA and client certificate for https:// endpoints (ignored with `dispatcher`). */
  readonly tls?: ClientTlsOptions;
}

export class UndiciTransport implements Transport {
  private readonly dispatcher: Dispatcher;
  private readonly owned: Agent | null;

  constructor(options: UndiciTransportOptions = {}) {
    if (options.dispatcher !== undefined) {
      this.dispatcher = options.dispatcher;
      this.owned = null;
    } else {
      this.owned = new Agent({
        keepAliveTimeout: options.keepAliveTimeoutMs ?? 30_000,
        connections: 64,
        connect: { timeout: options.connectTimeoutMs ?? 3_000, ...options.tls },
      });
      this.dispatcher = this.owned;
    }
  }

  async request(endpoint: string, req: TransportRequest): Promise<TransportResponse> {
    const response = await this.send(endpoint, req);
    const headers = flatHeaders(response.headers);
    if (req.responseType === 'bytes' && response.statusCode >= 200 && response.statusCode < 300) {
      return { status: response.statusCode, headers, body: new Uint8Array(await response.body.arrayBuffer()) };
    }
    const text = await response.body.text();
    return { status: response.statusCode, headers, body: parseBody(text, headers['content-type']) };
  }

  async stream(endpoint: string, req: TransportRequest): Promise<TransportStream | TransportResponse> {
    const controller = new AbortController();
    const signal = AbortSignal.any([req.signal, controller.signal]);
    const response = await this.send(endpoint, { ...req, signal });
    const headers = flatHeaders(response.headers);
    if (response.statusCode !== 200) {
      const text = await response.body.text();
      return { status: response.statusCode, headers, body: parseBody(text, headers['content-type']) };
    }
    response.body.setEncoding('utf8');
    const body = response.body as AsyncIterable<string>;
    return {
      status: 200,
      headers,
      chunks: body,
      close: () => {
        controller.abort();
        response.body.destroy();
      },
    };
  }

  async close(): Promise<void> {
    await this.owned?.close();
  }

  private send(endpoint: string, req: TransportRequest): Promise<Dispatcher.ResponseData> {
    return request(`${endpoint}${req.path}`, {
      method: req.method,
      headers: req.headers,
      ...(req.body === undefined ? {} : { body: req.body }),
      signal: req.signal,
      dispatcher: this.dispatcher,
      headersTimeout: Math.max(1, Math.ceil(req.timeoutMs)),
      bodyTimeout: Math.max(1, Math.ceil(req.timeoutMs)),
    });
  }
}
