/**
 * The other half of fencing, for your own services: a resource that remembers the highest
 * fencing token it has accepted, per resource, refuses any lower one. A lock holder that paused
 * (GC, swap, a partition) past its lease may still believe it holds the lock; its token is lower
 * than the next holder's, so once the resource has seen the newer token the stale writer is
 * refused. Equal tokens pass (one holder makes many writes).
 *
 * The memory is this process's: a resource served by several processes must keep the highest
 * token with its data (and check it in the same transaction as the write), or route the write
 * through Concord's own fenced put/txn.
 */
import { ConcordError } from './errors.ts';

export class TokenFence {
  private readonly highestSeen = new Map<string, number>();

  /** Accepts `token` for `resource` (recording it) unless a higher one was seen; returns whether accepted. */
  check(resource: string, token: number): boolean {
    if (!Number.isSafeInteger(token) || token < 0) return false;
    const highest = this.highestSeen.get(resource);
    if (highest !== undefined && token < highest) return false;
    this.highestSeen.set(resource, token);
    return true;
  }

  /** Like check, but throws ConcordError stale_token (details: resource, token, currentToken). */
  admit(resource: string, token: number): void {
    if (!Number.isSafeInteger(token) || token < 0) throw new ConcordError('invalid_argument', `fencing token must be a non-negative integer, got ${token}`);
    if (!this.check(resource, token)) {
      const currentToken = this.highestSeen.get(resource);
      throw new ConcordError('stale_token', `token ${token} for ${JSON.stringify(resource)} is older than ${currentToken}`, 409, { resource, token, currentToken });
    }
  }

  /** The highest token accepted for `resource`, if any. */
  highest(resource: string): number | undefined {
    return this.highestSeen.get(resource);
  }
}

/** What the fastify plugin needs of a request. */
export interface FencedRequest {
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly params?: unknown;
  readonly method?: string;
  readonly url?: string;
}

interface ReplyLike {
  code(status: number): ReplyLike;
  send(body: unknown): unknown;
}

interface HookHost {
  addHook(name: 'preHandler', hook: (request: FencedRequest, reply: ReplyLike) => Promise<unknown>): unknown;
}

export interface FencePluginOptions {
  /** Which resource a request writes (e.g. `(request) => request.url`). */
  readonly resource: (request: FencedRequest) => string;
  /** The fence to use (default: a new one per registration). */
  readonly fence?: TokenFence;
  /** The header carrying the token (default `x-fencing-token`). */
  readonly header?: string;
  /** Refuse requests without the header (default true); else they pass unchecked. */
  readonly required?: boolean;
  /** Which requests to check (default: every method but GET, HEAD and OPTIONS). */
  readonly appliesTo?: (request: FencedRequest) => boolean;
}

const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

function refuse(reply: ReplyLike, status: number, code: string, message: string, details: Record<string, unknown> = {}): unknown {
  return reply.code(status).send({ error: { ...details, code, message } });
}

/**
 * A fastify plugin: checks the fencing token header of every write in the scope it is registered
 * in, answering 409 `stale_token` (the Concord error shape) to a stale one.
 *
 *   app.register(fencePlugin, { resource: (request) => request.url });
 */
export async function fencePlugin(instance: object, options: FencePluginOptions): Promise<void> {
  const fence = options.fence ?? new TokenFence();
  const header = (options.header ?? 'x-fencing-token').toLowerCase();
  const required = options.required ?? true;
  const appliesTo = options.appliesTo ?? ((request: FencedRequest) => !READ_METHODS.has((request.method ?? 'GET').toUpperCase()));
  (instance as HookHost).addHook('preHandler', async (request, reply) => {
    if (!appliesTo(request)) return undefined;
    const raw = request.headers[header];
    const text = Array.isArray(raw) ? raw[0] : raw;
    if (text === undefined) return required ? refuse(reply, 400, 'invalid_argument', `missing ${header} header`) : undefined;
    if (!/^\d{1,16}$/.test(text) || !Number.isSafeInteger(Number(text))) return refuse(reply, 400, 'invalid_argument', `${header} must be a non-negative integer`);
    const resource = options.resource(request);
    const token = Number(text);
    if (!fence.check(resource, token)) {
      return refuse(reply, 409, 'stale_token', `token ${token} is older than one already accepted for this resource`, { resource, token, currentToken: fence.highest(resource) });
    }
    return undefined;
  });
}
// Apply the hook to the scope the plugin is registered in, as fastify-plugin would.
(fencePlugin as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')] = true;
