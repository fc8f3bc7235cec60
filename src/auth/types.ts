/**
 * The shapes of authentication and authorization as replicated state: permissions, roles that
 * bundle them, users that hold roles, and tokens that belong to users. Tokens are stored as the
 * SHA-256 of their secret only (the server hashes; the core never sees a plain token). The
 * commands are members of the KV command union, applied by the same state machine.
 */

/** What a scoped permission applies to: keys, or the names of locks, elections or services. */
export const RESOURCES = ['key', 'lock', 'election', 'service'] as const;
export type Resource = (typeof RESOURCES)[number];

/** `readwrite` grants both; `write` alone does not grant reading (as etcd's WRITE). */
export const ACCESS_LEVELS = ['read', 'write', 'readwrite'] as const;
export type AccessLevel = (typeof ACCESS_LEVELS)[number];
/** What a request needs. */
export type Access = 'read' | 'write';

/**
 * A permission on names of one resource: every name starting with `prefix` ('' = all), or
 * exactly the name `name`. `admin` grants everything, including cluster and auth management.
 */
export type Permission =
  | { readonly resource: 'admin' }
  | { readonly resource: Resource; readonly access: AccessLevel; readonly prefix: string }
  | { readonly resource: Resource; readonly access: AccessLevel; readonly name: string };

export interface RoleRecord {
  readonly name: string;
  readonly permissions: readonly Permission[];
}

export interface UserRecord {
  readonly name: string;
  /** Sorted, distinct; each names an existing role. */
  readonly roles: readonly string[];
}

/** A token as stored: its public id, its owner and the hex SHA-256 of its secret. */
export interface TokenRecord {
  readonly id: string;
  readonly user: string;
  readonly hash: string;
  /** The proposer's wall clock when it was created. */
  readonly createdAtMs: number;
  /** Proposer's clock + ttlMs at creation; absent: never expires. */
  readonly expiresAtMs?: number;
  readonly description?: string;
}

/** A token as the API shows it: never its hash. */
export type TokenInfo = Omit<TokenRecord, 'hash'>;

export interface AuthRolePutCommand {
  readonly type: 'authRolePut';
  readonly name: string;
  readonly permissions: readonly Permission[];
}

export interface AuthRoleDeleteCommand {
  readonly type: 'authRoleDelete';
  readonly name: string;
}

export interface AuthUserPutCommand {
  readonly type: 'authUserPut';
  readonly name: string;
  readonly roles: readonly string[];
}

export interface AuthUserDeleteCommand {
  readonly type: 'authUserDelete';
  readonly name: string;
}

export interface AuthTokenCreateCommand {
  readonly type: 'authTokenCreate';
  /** Chosen by the proposing server (random), so a retry cannot create a second token. */
  readonly id: string;
  readonly user: string;
  readonly hash: string;
  readonly ttlMs?: number;
  readonly description?: string;
}

export interface AuthTokenRevokeCommand {
  readonly type: 'authTokenRevoke';
  readonly id: string;
}

/**
 * Proposed by a leader started with a bootstrap token file: while no user holds `admin`, it
 * creates role `root` (admin), user `root` and token `bootstrap` with this hash. Once an admin
 * exists it does nothing, so proposing it again (each new leader does) is harmless.
 */
export interface AuthBootstrapCommand {
  readonly type: 'authBootstrap';
  readonly hash: string;
}

export type AuthCommandBody =
  | AuthRolePutCommand
  | AuthRoleDeleteCommand
  | AuthUserPutCommand
  | AuthUserDeleteCommand
  | AuthTokenCreateCommand
  | AuthTokenRevokeCommand
  | AuthBootstrapCommand;

/** Every auth result carries the store revision (unchanged: auth is not KV data) and the auth revision. */
interface AuthResultBase {
  readonly revision: number;
  /** Counts applied auth changes: a cache of resolved permissions is valid while it stands still. */
  readonly authRevision: number;
}

export interface AuthRolePutResult extends AuthResultBase {
  readonly role: RoleRecord;
  readonly created: boolean;
}

export interface AuthUserPutResult extends AuthResultBase {
  readonly user: UserRecord;
  readonly created: boolean;
}

export interface AuthDeleteResult extends AuthResultBase {
  /** Tokens that went with a deleted user (0 for roles and tokens). */
  readonly tokensRevoked: number;
}

export interface AuthTokenCreateResult extends AuthResultBase {
  readonly token: TokenInfo;
}

export interface AuthBootstrapResult extends AuthResultBase {
  /** False: an admin already existed and nothing changed. */
  readonly bootstrapped: boolean;
}

export interface AuthResultByType {
  readonly authRolePut: AuthRolePutResult;
  readonly authRoleDelete: AuthDeleteResult;
  readonly authUserPut: AuthUserPutResult;
  readonly authUserDelete: AuthDeleteResult;
  readonly authTokenCreate: AuthTokenCreateResult;
  readonly authTokenRevoke: AuthDeleteResult;
  readonly authBootstrap: AuthBootstrapResult;
}

/** The names the bootstrap creates. */
export const BOOTSTRAP_USER = 'root';
export const BOOTSTRAP_ROLE = 'root';
export const BOOTSTRAP_TOKEN_ID = 'bootstrap';
