/**
 * The server's authentication and authorization, when `--auth` is on (off: every request passes,
 * as before auth existed).
 *
 * - onRequest, for every /v1 route: the `authorization: Bearer <token>` header is hashed and
 *   looked up in this node's replicated auth table; missing, unknown or expired (by this node's
 *   clock against the expiry the proposer set) is 401 unauthenticated. Then the token's rate
 *   bucket (rate-limiter.ts): 429 overloaded with retry-after when empty.
 * - preHandler, after validation (the parsed path, query and body name what is touched): the
 *   route's requirements (route-permissions.ts) against the user's permissions: 403
 *   permission_denied when one fails.
 * /health, /ready, /metrics, /openapi.json and /docs stay open (by matched route; an unknown
 * path is 401 without a token, like any other). Nothing is cached: each request
 * reads the table as this node has applied it, so a revoked token or a changed role takes effect
 * on a node the moment that node applies the change. A follower checks, then forwards the
 * authorization header to the leader, which checks again against its own table.
 *
 * A refusal is confirmed before it is sent: a node may not yet have applied a token, user or
 * role that the leader already acknowledged (a client creates a token through one node and uses
 * it at once on another, whose copy of the commit is still in flight). So a 401 or 403 first
 * waits for a read barrier (ReadIndex: this node then reflects every acknowledged write) and
 * checks again; only the second answer stands. Requests that pass cost nothing more.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AuthQueries, Permission, Resource } from '../../auth/index.ts';
import { allows, coversPrefix, describePermission, isAdmin, touchesPrefix } from '../../auth/index.ts';
import { ConcordError } from '../../common/errors.ts';
import type { ServerContext } from '../context.ts';
import { API_REFERENCE_PREFIX, OPEN_ROUTES } from '../openapi.ts';
import { TokenRateLimiter, type TokenRateLimits } from './rate-limiter.ts';
import { requirementsOf, type Requirement } from './route-permissions.ts';
import { MAX_PRESENTED_TOKEN_CHARS, bearerToken, hashToken } from './token-secrets.ts';

/** Who a request is: the token that authenticated it and its user's permissions right now. */
export interface Identity {
  readonly user: string;
  readonly tokenId: string;
  readonly tokenHash: string;
  readonly permissions: readonly Permission[];
}

/** Access that follows the auth table while a stream is open (a watch filters each event with it). */
export interface LiveAccess {
  /** False once the token is revoked, expired or its user deleted: the stream should end. */
  valid(): boolean;
  mayRead(resource: Resource, name: string): boolean;
}

/**
 * The routes open without a token, by the route fastify matched (not by the raw URL, which an
 * encoded or oddly spelled path could make look like something else): probes, the metrics
 * scrape and the API reference. Everything else, an unmatched path included, needs a token.
 */
function isOpenRoute(route: string | undefined): boolean {
  if (route === undefined) return false;
  return OPEN_ROUTES.has(route) || route === API_REFERENCE_PREFIX || route.startsWith(`${API_REFERENCE_PREFIX}/`);
}

const OPEN_ACCESS: LiveAccess = { valid: () => true, mayRead: () => true };

function unauthenticated(message: string): ConcordError {
  return new ConcordError('unauthenticated', message);
}

/**
 * Waits until this node reflects every write acknowledged before the call (a read barrier), or
 * throws the ConcordError that says why it cannot tell now (no leader within the deadline).
 */
export type CatchUp = () => Promise<void>;

export class AuthGate {
  private readonly identities = new WeakMap<FastifyRequest, Identity>();
  private readonly limiter: TokenRateLimiter;

  constructor(
    readonly enabled: boolean,
    private readonly table: () => AuthQueries,
    rateLimits: TokenRateLimits,
    private readonly catchUp: CatchUp,
    private readonly wallMs: () => number = () => Date.now(),
  ) {
    this.limiter = new TokenRateLimiter(rateLimits);
  }

  /** The identity of an authenticated request; undefined with auth off (or on an open route). */
  identityOf(request: FastifyRequest): Identity | undefined {
    return this.identities.get(request);
  }

  /** Resolves a presented token against the table; throws 401 when it does not authenticate. */
  authenticate(token: string | null): Identity {
    if (token === null) throw unauthenticated('authentication is on: send authorization: Bearer <token>');
    if (token.length > MAX_PRESENTED_TOKEN_CHARS) throw unauthenticated('unknown token');
    const tokenHash = hashToken(token);
    const identity = this.resolve(tokenHash);
    if (identity === null) throw unauthenticated('unknown, revoked or expired token');
    return identity;
  }

  /** The identity behind a token hash now, or null when the token no longer authenticates. */
  private resolve(tokenHash: string): Identity | null {
    const table = this.table();
    const record = table.tokenByHash(tokenHash);
    if (record === undefined) return null;
    if (record.expiresAtMs !== undefined && this.wallMs() >= record.expiresAtMs) return null;
    if (table.user(record.user) === undefined) return null;
    return { user: record.user, tokenId: record.id, tokenHash, permissions: table.permissionsOf(record.user) };
  }

  /**
   * authenticate(), but a refusal stands only once this node has caught up with every
   * acknowledged write (see the top of this file).
   */
  async authenticateConfirmed(token: string | null): Promise<Identity> {
    try {
      return this.authenticate(token);
    } catch (refusal) {
      if (token === null || token.length > MAX_PRESENTED_TOKEN_CHARS) throw refusal;
      await this.catchUp();
      return this.authenticate(token);
    }
  }

  /**
   * authorize(), but a refusal stands only once this node has caught up; the identity is then
   * resolved afresh (its permissions may have grown, or its token been revoked: 401).
   */
  async authorizeConfirmed(identity: Identity, requirements: readonly Requirement[]): Promise<Identity> {
    try {
      this.authorize(identity, requirements);
      return identity;
    } catch {
      await this.catchUp();
      const current = this.resolve(identity.tokenHash);
      if (current === null) throw unauthenticated('unknown, revoked or expired token');
      this.authorize(current, requirements);
      return current;
    }
  }

  /** Throws 403 unless `identity` meets every requirement. */
  authorize(identity: Identity, requirements: readonly Requirement[]): void {
    for (const requirement of requirements) {
      if (!this.meets(identity.permissions, requirement)) {
        throw new ConcordError('permission_denied', `user ${JSON.stringify(identity.user)} lacks ${describeRequirement(requirement)}`, {
          required: describeRequirement(requirement),
        });
      }
    }
  }

  private meets(permissions: readonly Permission[], requirement: Requirement): boolean {
    switch (requirement.kind) {
      case 'authenticated':
        return true;
      case 'admin':
        return isAdmin(permissions);
      case 'name':
        return allows(permissions, requirement.resource, requirement.access, requirement.name);
      case 'covers':
        return coversPrefix(permissions, requirement.resource, requirement.access, requirement.prefix);
      case 'touches':
        return touchesPrefix(permissions, requirement.resource, requirement.access, requirement.prefix);
    }
  }

  /** What a stream opened by `request` may go on reading, judged afresh on each call. */
  liveAccess(request: FastifyRequest): LiveAccess {
    const identity = this.identities.get(request);
    if (!this.enabled || identity === undefined) return OPEN_ACCESS;
    // Resolved afresh on every question: a lookup and a few comparisons, and a revoked token,
    // an expiry or a changed role shows at the very next event.
    const refresh = (): Identity | null => this.resolve(identity.tokenHash);
    return {
      valid: () => refresh() !== null,
      mayRead: (resource, name) => {
        const live = refresh();
        return live !== null && allows(live.permissions, resource, 'read', name);
      },
    };
  }

  /** Whether the request's token may read `name` now (always with auth off). */
  mayRead(request: FastifyRequest, resource: Resource, name: string): boolean {
    if (!this.enabled) return true;
    const identity = this.identities.get(request);
    return identity !== undefined && allows(identity.permissions, resource, 'read', name);
  }

  /**
   * Runs a write for a token that may not read what it writes: a `compare_failed` it earns loses
   * its `current` (the key's value), which the token may not see. As etcd, whose put returns
   * the previous value only to those who may read it.
   */
  withoutUnreadableCurrent<T>(mayRead: boolean, write: () => Promise<T>): Promise<T> {
    // Not async itself: the common case (auth off, or a token that may read) adds no promise.
    return mayRead ? write() : this.withheldCurrent(write);
  }

  private async withheldCurrent<T>(write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (error) {
      if (!(error instanceof ConcordError) || !('current' in error.details)) throw error;
      const { current: _hidden, ...details } = error.details;
      throw new ConcordError(error.code, `${error.message} (current value withheld: no read permission)`, details);
    }
  }

  /** For an event stream's options: `authorized` while its token authenticates (nothing with auth off). */
  streamGuard(request: FastifyRequest): { authorized?: () => boolean } {
    if (!this.enabled || this.identities.get(request) === undefined) return {};
    const live = this.liveAccess(request);
    return { authorized: () => live.valid() };
  }

  /** Installs the hooks on `app` (nothing with auth off). */
  install(app: FastifyInstance, context: ServerContext): void {
    if (!this.enabled) return;
    app.addHook('onRequest', async (request) => {
      if (isOpenRoute(request.routeOptions.url)) return;
      const identity = await this.authenticateConfirmed(bearerToken(request.headers.authorization));
      this.identities.set(request, identity);
      const waitSeconds = this.limiter.take(identity.tokenId);
      if (waitSeconds > 0) {
        throw new ConcordError('overloaded', `token ${identity.tokenId} is over its ${context.limits.tokenRequestsPerSecond} requests per second`, {
          retryAfterSeconds: waitSeconds,
        });
      }
    });
    app.addHook('preHandler', async (request) => {
      const identity = this.identities.get(request);
      if (identity === undefined) return;
      this.identities.set(request, await this.authorizeConfirmed(identity, requirementsOf(request, context)));
    });
  }
}

export function describeRequirement(requirement: Requirement): string {
  switch (requirement.kind) {
    case 'authenticated':
      return 'a valid token';
    case 'admin':
      return 'admin';
    case 'name':
      return describePermission({ resource: requirement.resource, access: requirement.access, name: requirement.name });
    case 'covers':
      return describePermission({ resource: requirement.resource, access: requirement.access, prefix: requirement.prefix });
    case 'touches':
      return `${requirement.resource}:${requirement.access} on some name under ${JSON.stringify(requirement.prefix)}`;
  }
}
