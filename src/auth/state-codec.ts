/**
 * The auth table's snapshot form: plain msgpack objects in canonical order (the table exports
 * them sorted), read back through the same permission parser commands use, so a snapshot cannot
 * smuggle in what a command could not. Hashes only: a snapshot holds no plain token.
 */
import { ParseError, record } from '../kv/parse-fields.ts';
import type { AuthTableState } from './auth-table.ts';
import { authName, parsePermission } from './command-parse.ts';
import type { RoleRecord, TokenRecord, UserRecord } from './types.ts';

export type AuthStateWire = Readonly<Record<string, unknown>>;
export type Corrupt = (message: string) => never;

export function authStateToWire(state: AuthTableState): AuthStateWire {
  return {
    authRevision: state.authRevision,
    roles: state.roles.map((role) => [role.name, role.permissions.map((permission) => ({ ...permission }))]),
    users: state.users.map((user) => [user.name, [...user.roles]]),
    tokens: state.tokens.map((token) => [
      token.id,
      token.user,
      token.hash,
      token.createdAtMs,
      token.expiresAtMs ?? null,
      token.description ?? null,
    ]),
  };
}

function list(value: unknown, path: string, corrupt: Corrupt): readonly unknown[] {
  if (!Array.isArray(value)) corrupt(`${path} is not a list`);
  return value;
}

function count(value: unknown, path: string, corrupt: Corrupt): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) corrupt(`${path} is not a count`);
  return value;
}

function text(value: unknown, path: string, corrupt: Corrupt): string {
  if (typeof value !== 'string') corrupt(`${path} is not a string`);
  return value;
}

/** The state of a snapshot's `auth` field; `undefined` (older snapshots) is the empty table. */
export function authStateFromWire(wire: AuthStateWire | undefined, corrupt: Corrupt): AuthTableState {
  if (wire === undefined) return { authRevision: 0, roles: [], users: [], tokens: [] };
  try {
    record(wire, 'auth', ['authRevision', 'roles', 'users', 'tokens']);
    const roles: RoleRecord[] = list(wire['roles'], 'auth.roles', corrupt).map((entry, i) => {
      const [name, permissions] = list(entry, `auth.roles[${i}]`, corrupt);
      const parsed = list(permissions, `auth.roles[${i}].permissions`, corrupt).map((p, j) => parsePermission(p, `auth.roles[${i}][${j}]`));
      return { name: authName(name, `auth.roles[${i}].name`), permissions: parsed };
    });
    const users: UserRecord[] = list(wire['users'], 'auth.users', corrupt).map((entry, i) => {
      const [name, userRoles] = list(entry, `auth.users[${i}]`, corrupt);
      const roleNames = list(userRoles, `auth.users[${i}].roles`, corrupt).map((role, j) => authName(role, `auth.users[${i}].roles[${j}]`));
      return { name: authName(name, `auth.users[${i}].name`), roles: roleNames };
    });
    const tokens: TokenRecord[] = list(wire['tokens'], 'auth.tokens', corrupt).map((entry, i) => {
      const path = `auth.tokens[${i}]`;
      const [id, user, hash, createdAtMs, expiresAtMs, description] = list(entry, path, corrupt);
      return {
        id: authName(id, `${path}.id`),
        user: authName(user, `${path}.user`),
        hash: text(hash, `${path}.hash`, corrupt),
        createdAtMs: count(createdAtMs, `${path}.createdAtMs`, corrupt),
        ...(expiresAtMs === null ? {} : { expiresAtMs: count(expiresAtMs, `${path}.expiresAtMs`, corrupt) }),
        ...(description === null ? {} : { description: text(description, `${path}.description`, corrupt) }),
      };
    });
    return { authRevision: count(wire['authRevision'], 'auth.authRevision', corrupt), roles, users, tokens };
  } catch (error) {
    if (error instanceof ParseError) corrupt(error.message);
    throw error;
  }
}
