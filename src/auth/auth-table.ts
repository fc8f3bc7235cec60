/**
 * AuthTable: users, roles and tokens as replicated state, and the rules that change them. Every
 * change is a method called by the apply of one command; each decides from the table and the
 * command alone (the proposer's time comes in as an argument), so replicas agree.
 *
 * Rules worth knowing:
 * - a user's roles must exist; deleting a role takes it from every user (as etcd);
 * - deleting a user revokes its tokens;
 * - no change may leave the cluster without a user holding `admin` once one exists, which would
 *   lock every operator out (there is no back door: the bootstrap only works while no admin
 *   exists);
 * - tokens past their expiry (by the proposer's clock of the command being applied) are dropped
 *   whenever an auth command applies; the server refuses them by its own clock meanwhile.
 */
import { assert } from '../common/assert.ts';
import { type KvErrorResult, kvError } from '../kv/kv-errors.ts';
import { MAX_ROLES, MAX_TOKENS, MAX_USERS } from './limits.ts';
import { isAdmin } from './permissions.ts';
import {
  BOOTSTRAP_ROLE,
  BOOTSTRAP_TOKEN_ID,
  BOOTSTRAP_USER,
  type Permission,
  type RoleRecord,
  type TokenInfo,
  type TokenRecord,
  type UserRecord,
} from './types.ts';

/** The table's whole state, in a canonical order (by name / id), for snapshots. */
export interface AuthTableState {
  readonly authRevision: number;
  readonly roles: readonly RoleRecord[];
  readonly users: readonly UserRecord[];
  readonly tokens: readonly TokenRecord[];
}

/** What a server asks of the table (read-only). */
export interface AuthQueries {
  readonly authRevision: number;
  tokenByHash(hash: string): TokenRecord | undefined;
  user(name: string): UserRecord | undefined;
  role(name: string): RoleRecord | undefined;
  users(): UserRecord[];
  roles(): RoleRecord[];
  tokens(user?: string): TokenInfo[];
  /** Every permission of the user's roles, in role order. */
  permissionsOf(user: string): Permission[];
  hasAdmin(): boolean;
}

export function tokenInfo(token: TokenRecord): TokenInfo {
  const { hash: _hash, ...info } = token;
  return info;
}

function sortedByName<T extends { readonly name: string }>(items: Iterable<T>): T[] {
  return [...items].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export class AuthTable implements AuthQueries {
  private revisionCounter = 0;
  private readonly roleMap = new Map<string, RoleRecord>();
  private readonly userMap = new Map<string, UserRecord>();
  private readonly tokensById = new Map<string, TokenRecord>();
  private readonly tokensByHash = new Map<string, TokenRecord>();

  get authRevision(): number {
    return this.revisionCounter;
  }

  tokenByHash(hash: string): TokenRecord | undefined {
    return this.tokensByHash.get(hash);
  }

  user(name: string): UserRecord | undefined {
    return this.userMap.get(name);
  }

  role(name: string): RoleRecord | undefined {
    return this.roleMap.get(name);
  }

  users(): UserRecord[] {
    return sortedByName(this.userMap.values());
  }

  roles(): RoleRecord[] {
    return sortedByName(this.roleMap.values());
  }

  tokens(user?: string): TokenInfo[] {
    const all = [...this.tokensById.values()].filter((token) => user === undefined || token.user === user);
    return all.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).map(tokenInfo);
  }

  permissionsOf(user: string): Permission[] {
    const record = this.userMap.get(user);
    if (record === undefined) return [];
    return record.roles.flatMap((role) => this.roleMap.get(role)?.permissions ?? []);
  }

  hasAdmin(): boolean {
    return this.adminUsers().length > 0;
  }

  private adminUsers(): string[] {
    return [...this.userMap.values()].filter((user) => isAdmin(this.permissionsOf(user.name))).map((user) => user.name);
  }

  /** Starts one command's changes: drops expired tokens and moves the auth revision. */
  begin(proposedAtMs: number): void {
    for (const token of [...this.tokensById.values()]) {
      if (token.expiresAtMs !== undefined && token.expiresAtMs <= proposedAtMs) this.dropToken(token);
    }
  }

  /** Marks one applied change (every successful command calls it once). */
  changed(): number {
    return ++this.revisionCounter;
  }

  putRole(name: string, permissions: readonly Permission[]): { role: RoleRecord; created: boolean } | KvErrorResult {
    const created = !this.roleMap.has(name);
    if (created && this.roleMap.size >= MAX_ROLES) return kvError('invalid_argument', `at most ${MAX_ROLES} roles`);
    const previous = this.roleMap.get(name);
    const role: RoleRecord = { name, permissions: [...permissions] };
    return this.unlessAdminLost(
      () => this.roleMap.set(name, role),
      () => (previous === undefined ? this.roleMap.delete(name) : this.roleMap.set(name, previous)),
      `role ${JSON.stringify(name)} without admin`,
      { role, created },
    );
  }

  deleteRole(name: string): { tokensRevoked: number } | KvErrorResult {
    const role = this.roleMap.get(name);
    if (role === undefined) return kvError('not_found', `role ${JSON.stringify(name)} not found`, { role: name });
    const holders = [...this.userMap.values()].filter((user) => user.roles.includes(name));
    return this.unlessAdminLost(
      () => {
        this.roleMap.delete(name);
        for (const user of holders) this.userMap.set(user.name, { name: user.name, roles: user.roles.filter((r) => r !== name) });
      },
      () => {
        this.roleMap.set(name, role);
        for (const user of holders) this.userMap.set(user.name, user);
      },
      `deleting role ${JSON.stringify(name)}`,
      { tokensRevoked: 0 },
    );
  }

  putUser(name: string, roles: readonly string[]): { user: UserRecord; created: boolean } | KvErrorResult {
    const missing = roles.find((role) => !this.roleMap.has(role));
    if (missing !== undefined) return kvError('not_found', `role ${JSON.stringify(missing)} not found`, { role: missing });
    const previous = this.userMap.get(name);
    if (previous === undefined && this.userMap.size >= MAX_USERS) return kvError('invalid_argument', `at most ${MAX_USERS} users`);
    const user: UserRecord = { name, roles: [...roles] };
    return this.unlessAdminLost(
      () => this.userMap.set(name, user),
      () => (previous === undefined ? this.userMap.delete(name) : this.userMap.set(name, previous)),
      `user ${JSON.stringify(name)} without admin`,
      { user, created: previous === undefined },
    );
  }

  deleteUser(name: string): { tokensRevoked: number } | KvErrorResult {
    const user = this.userMap.get(name);
    if (user === undefined) return kvError('not_found', `user ${JSON.stringify(name)} not found`, { user: name });
    const refused = this.unlessAdminLost(
      () => this.userMap.delete(name),
      () => this.userMap.set(name, user),
      `deleting user ${JSON.stringify(name)}`,
      null,
    );
    if (refused !== null) return refused;
    const owned = [...this.tokensById.values()].filter((token) => token.user === name);
    for (const token of owned) this.dropToken(token);
    return { tokensRevoked: owned.length };
  }

  createToken(token: TokenRecord): TokenInfo | KvErrorResult {
    if (!this.userMap.has(token.user)) return kvError('not_found', `user ${JSON.stringify(token.user)} not found`, { user: token.user });
    if (this.tokensById.has(token.id)) return kvError('compare_failed', `token ${JSON.stringify(token.id)} already exists`, { current: null });
    if (this.tokensByHash.has(token.hash)) return kvError('invalid_argument', 'a token with this secret already exists');
    if (this.tokensById.size >= MAX_TOKENS) return kvError('invalid_argument', `at most ${MAX_TOKENS} tokens`);
    this.tokensById.set(token.id, token);
    this.tokensByHash.set(token.hash, token);
    return tokenInfo(token);
  }

  revokeToken(id: string): { tokensRevoked: number } | KvErrorResult {
    const token = this.tokensById.get(id);
    if (token === undefined) return kvError('not_found', `token ${JSON.stringify(id)} not found`, { token: id });
    this.dropToken(token);
    return { tokensRevoked: 1 };
  }

  /** Role root (admin), user root and token `bootstrap` — only while nobody holds admin. */
  bootstrap(hash: string, proposedAtMs: number): boolean {
    if (this.hasAdmin()) return false;
    this.roleMap.set(BOOTSTRAP_ROLE, { name: BOOTSTRAP_ROLE, permissions: [{ resource: 'admin' }] });
    const existing = this.userMap.get(BOOTSTRAP_USER);
    const roles = [...new Set([...(existing?.roles ?? []), BOOTSTRAP_ROLE])].sort();
    this.userMap.set(BOOTSTRAP_USER, { name: BOOTSTRAP_USER, roles });
    const previous = this.tokensById.get(BOOTSTRAP_TOKEN_ID);
    if (previous !== undefined) this.dropToken(previous);
    const sameSecret = this.tokensByHash.get(hash);
    if (sameSecret !== undefined) this.dropToken(sameSecret);
    const token: TokenRecord = { id: BOOTSTRAP_TOKEN_ID, user: BOOTSTRAP_USER, hash, createdAtMs: proposedAtMs, description: 'bootstrap token' };
    this.tokensById.set(token.id, token);
    this.tokensByHash.set(hash, token);
    assert(this.hasAdmin(), 'bootstrap leaves an admin');
    return true;
  }

  exportState(): AuthTableState {
    const tokens = [...this.tokensById.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return { authRevision: this.revisionCounter, roles: this.roles(), users: this.users(), tokens };
  }

  /** Loads a snapshot's state into this (empty) table; throws an AssertionError if it is inconsistent. */
  load(state: AuthTableState): void {
    assert(this.roleMap.size === 0 && this.userMap.size === 0 && this.tokensById.size === 0, 'load into an empty auth table');
    this.revisionCounter = state.authRevision;
    for (const role of state.roles) this.roleMap.set(role.name, role);
    for (const user of state.users) {
      for (const role of user.roles) assert(this.roleMap.has(role), () => `user ${user.name} holds unknown role ${role}`);
      this.userMap.set(user.name, user);
    }
    for (const token of state.tokens) {
      assert(this.userMap.has(token.user), () => `token ${token.id} of unknown user ${token.user}`);
      assert(!this.tokensByHash.has(token.hash), () => `token ${token.id} repeats a hash`);
      this.tokensById.set(token.id, token);
      this.tokensByHash.set(token.hash, token);
    }
  }

  private dropToken(token: TokenRecord): void {
    this.tokensById.delete(token.id);
    this.tokensByHash.delete(token.hash);
  }

  /**
   * Makes a change, and takes it back if it leaves no admin where there was one: the refusal
   * is invalid_argument, naming what was refused. Returns `result` when the change stands.
   */
  private unlessAdminLost<T>(change: () => unknown, undo: () => unknown, what: string, result: T): T | KvErrorResult {
    const hadAdmin = this.hasAdmin();
    change();
    if (hadAdmin && !this.hasAdmin()) {
      undo();
      return kvError('invalid_argument', `${what} would leave no user holding admin; give admin to another user first`);
    }
    return result;
  }
}
