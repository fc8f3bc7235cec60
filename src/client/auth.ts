/**
 * Authentication management (admin tokens) and whoami (any token): `concord.auth`. A client
 * authenticates by passing `token` to `new Concord({ endpoints, token })`; every request then
 * carries `authorization: Bearer <token>`. See docs/security.md for the model.
 *
 * `createToken` returns the secret once: the cluster keeps only its SHA-256, so a lost secret
 * cannot be shown again — revoke it and create another.
 */
import type { ClientCore } from './core.ts';
import { defined, type CallOptions, type WriteOptions } from './types.ts';

/** `admin`, or read/write/readwrite on keys, or lock, election or service names by prefix or exact name. */
export type Permission =
  | { readonly resource: 'admin' }
  | { readonly resource: 'key' | 'lock' | 'election' | 'service'; readonly access: 'read' | 'write' | 'readwrite'; readonly prefix: string }
  | { readonly resource: 'key' | 'lock' | 'election' | 'service'; readonly access: 'read' | 'write' | 'readwrite'; readonly name: string };

export interface Role {
  readonly name: string;
  readonly permissions: readonly Permission[];
}

export interface User {
  readonly name: string;
  readonly roles: readonly string[];
}

export interface TokenInfo {
  readonly id: string;
  readonly user: string;
  readonly createdAtMs: number;
  readonly expiresAtMs?: number;
  readonly description?: string;
}

export interface UserDetail extends User {
  readonly tokens: readonly TokenInfo[];
}

/** What a change answers: the auth revision counts applied auth changes. */
export interface AuthChange {
  readonly revision: number;
  readonly authRevision: number;
}

export interface CreatedToken extends AuthChange {
  /** The secret to pass as `token`: shown this once. */
  readonly token: string;
  readonly info: TokenInfo;
}

export interface Whoami {
  readonly authEnabled: boolean;
  readonly user?: string;
  readonly tokenId?: string;
  readonly roles?: readonly string[];
  readonly permissions?: readonly Permission[];
}

export interface CreateTokenOptions extends WriteOptions {
  /** The token expires this long after creation (at least 1000); default: never. */
  readonly ttlMs?: number;
  readonly description?: string;
}

export class AuthClient {
  constructor(private readonly core: ClientCore) {}

  /** Who the client's token is (and whether the cluster has auth on at all). */
  async whoami(options: CallOptions = {}): Promise<Whoami> {
    return (await this.read<Whoami>('/v1/auth/whoami', options, false)).body;
  }

  /** Creates a user, or replaces its roles. */
  async putUser(name: string, roles: readonly string[], options: WriteOptions = {}): Promise<AuthChange & { user: User; created: boolean }> {
    return (await this.write<AuthChange & { user: User; created: boolean }>('POST', '/v1/auth/users', { name, roles }, options)).body;
  }

  async users(options: CallOptions = {}): Promise<User[]> {
    return (await this.read<{ users: User[] }>('/v1/auth/users', options)).body.users;
  }

  async user(name: string, options: CallOptions = {}): Promise<UserDetail> {
    return (await this.read<UserDetail>(`/v1/auth/users/${encodeURIComponent(name)}`, options)).body;
  }

  /** Deletes a user and revokes its tokens. */
  async deleteUser(name: string, options: WriteOptions = {}): Promise<AuthChange & { tokensRevoked: number }> {
    return (await this.write<AuthChange & { tokensRevoked: number }>('DELETE', `/v1/auth/users/${encodeURIComponent(name)}`, undefined, options)).body;
  }

  /** Creates a role, or replaces its permissions. */
  async putRole(name: string, permissions: readonly Permission[], options: WriteOptions = {}): Promise<AuthChange & { role: Role; created: boolean }> {
    return (await this.write<AuthChange & { role: Role; created: boolean }>('POST', '/v1/auth/roles', { name, permissions }, options)).body;
  }

  async roles(options: CallOptions = {}): Promise<Role[]> {
    return (await this.read<{ roles: Role[] }>('/v1/auth/roles', options)).body.roles;
  }

  async role(name: string, options: CallOptions = {}): Promise<Role> {
    return (await this.read<Role>(`/v1/auth/roles/${encodeURIComponent(name)}`, options)).body;
  }

  /** Deletes a role; users that held it lose it. */
  async deleteRole(name: string, options: WriteOptions = {}): Promise<AuthChange> {
    return (await this.write<AuthChange>('DELETE', `/v1/auth/roles/${encodeURIComponent(name)}`, undefined, options)).body;
  }

  /** A new token for `user`; the answer's `token` is the secret, shown once. */
  async createToken(user: string, options: CreateTokenOptions = {}): Promise<CreatedToken> {
    const body = { user, ...defined({ ttlMs: options.ttlMs, description: options.description }) };
    return (await this.write<CreatedToken>('POST', '/v1/auth/tokens', body, options)).body;
  }

  /** Token ids, owners and expiry (never secrets), optionally of one user. */
  async tokens(user?: string, options: CallOptions = {}): Promise<TokenInfo[]> {
    return (await this.read<{ tokens: TokenInfo[] }>('/v1/auth/tokens', options, true, user === undefined ? {} : { user })).body.tokens;
  }

  /** Revokes a token by id: every node refuses it once it applies the revocation. */
  async revokeToken(id: string, options: WriteOptions = {}): Promise<AuthChange> {
    return (await this.write<AuthChange>('DELETE', `/v1/auth/tokens/${encodeURIComponent(id)}`, undefined, options)).body;
  }

  private read<T>(path: string, options: CallOptions, serverDeadline = true, query: Record<string, string> = {}) {
    return this.core.call<T>({ method: 'GET', path, query, serverDeadline, ...defined({ signal: options.signal, timeoutMs: options.timeoutMs }) });
  }

  private write<T>(method: 'POST' | 'DELETE', path: string, body: unknown, options: WriteOptions) {
    return this.core.call<T>({
      method,
      path,
      ...(body === undefined ? {} : { body }),
      ...defined({ signal: options.signal, timeoutMs: options.timeoutMs, idempotencyKey: options.idempotencyKey }),
    });
  }
}
