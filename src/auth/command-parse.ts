/**
 * Validation of auth command bodies, run by the KV command parser on every replica, so the
 * verdicts are replicated semantics (they depend on the bytes only). The KV parser has already
 * checked `fields` has no unknown field; this builds a fresh body, or throws the ParseError that
 * parseCommand turns into an invalid_argument / payload_too_large result. parsePermission also
 * reads the permissions of a snapshot.
 */
import { type Fields, array, check, count, fail, optional, record, string } from '../kv/parse-fields.ts';
import {
  MAX_PERMISSIONS_PER_ROLE,
  MAX_ROLES_PER_USER,
  checkAuthName,
  checkDescription,
  checkPermissionTarget,
  checkTokenHash,
  checkTokenTtl,
} from './limits.ts';
import { ACCESS_LEVELS, RESOURCES, type AccessLevel, type AuthCommandBody, type Permission, type Resource } from './types.ts';

/** The fields each auth body may have (the KV parser refuses any other). */
export const AUTH_BODY_FIELDS = {
  authRolePut: ['type', 'name', 'permissions'],
  authRoleDelete: ['type', 'name'],
  authUserPut: ['type', 'name', 'roles'],
  authUserDelete: ['type', 'name'],
  authTokenCreate: ['type', 'id', 'user', 'hash', 'ttlMs', 'description'],
  authTokenRevoke: ['type', 'id'],
  authBootstrap: ['type', 'hash'],
} as const satisfies Record<AuthCommandBody['type'], readonly string[]>;

export function authName(value: unknown, path: string): string {
  const name = string(value, path);
  check(checkAuthName(name, path));
  return name;
}

function hash(value: unknown, path: string): string {
  const parsed = string(value, path);
  check(checkTokenHash(parsed, path));
  return parsed;
}

function oneOf<T extends string>(value: unknown, allowed: readonly T[], path: string): T {
  if (typeof value !== 'string' || !allowed.includes(value as T)) fail('invalid_argument', `${path}: expected one of ${allowed.join(', ')}`);
  return value as T;
}

/** `{resource: "admin"}`, or `{resource, access, prefix}` / `{resource, access, name}`. */
export function parsePermission(value: unknown, path: string): Permission {
  const fields = record(value, path, ['resource', 'access', 'prefix', 'name']);
  if (fields['resource'] === 'admin') {
    if (fields['access'] !== undefined || fields['prefix'] !== undefined || fields['name'] !== undefined) {
      fail('invalid_argument', `${path}: admin takes no access, prefix or name`);
    }
    return { resource: 'admin' };
  }
  if (typeof fields['resource'] !== 'string' || !RESOURCES.includes(fields['resource'] as Resource)) {
    fail('invalid_argument', `${path}.resource: expected one of admin, ${RESOURCES.join(', ')}`);
  }
  const resource = fields['resource'] as Resource;
  const access = oneOf<AccessLevel>(fields['access'], ACCESS_LEVELS, `${path}.access`);
  if ((fields['prefix'] === undefined) === (fields['name'] === undefined)) {
    fail('invalid_argument', `${path}: give exactly one of prefix (every name starting with it; "" = all) and name (exactly that one)`);
  }
  if (fields['prefix'] !== undefined) {
    const prefix = string(fields['prefix'], `${path}.prefix`);
    check(checkPermissionTarget(prefix, `${path}.prefix`));
    return { resource, access, prefix };
  }
  const name = string(fields['name'], `${path}.name`);
  if (name.length === 0) fail('invalid_argument', `${path}.name: must not be empty (use prefix "" for all names)`);
  check(checkPermissionTarget(name, `${path}.name`));
  return { resource, access, name };
}

/** Distinct role names, sorted: a user's roles are a set, and equal sets must encode equally. */
function roleList(value: unknown, path: string): string[] {
  const roles = array(value, path, MAX_ROLES_PER_USER).map((role, i) => authName(role, `${path}[${i}]`));
  return [...new Set(roles)].sort();
}

function parseTokenCreate(fields: Fields): AuthCommandBody {
  const ttl = optional(fields, 'ttlMs', count, 'body');
  if (ttl.ttlMs !== undefined) check(checkTokenTtl(ttl.ttlMs, 'body.ttlMs'));
  const description = optional(fields, 'description', string, 'body');
  if (description.description !== undefined) check(checkDescription(description.description, 'body.description'));
  return {
    type: 'authTokenCreate',
    id: authName(fields['id'], 'body.id'),
    user: authName(fields['user'], 'body.user'),
    hash: hash(fields['hash'], 'body.hash'),
    ...ttl,
    ...description,
  };
}

/** A well-formed auth body of `type` built from `fields`; throws ParseError otherwise. */
export function parseAuthBody(type: AuthCommandBody['type'], fields: Fields): AuthCommandBody {
  switch (type) {
    case 'authRolePut': {
      const raw = array(fields['permissions'] ?? [], 'body.permissions', MAX_PERMISSIONS_PER_ROLE);
      return { type, name: authName(fields['name'], 'body.name'), permissions: raw.map((p, i) => parsePermission(p, `body.permissions[${i}]`)) };
    }
    case 'authUserPut':
      return { type, name: authName(fields['name'], 'body.name'), roles: roleList(fields['roles'] ?? [], 'body.roles') };
    case 'authRoleDelete':
    case 'authUserDelete':
      return { type, name: authName(fields['name'], 'body.name') };
    case 'authTokenCreate':
      return parseTokenCreate(fields);
    case 'authTokenRevoke':
      return { type, id: authName(fields['id'], 'body.id') };
    case 'authBootstrap':
      return { type, hash: hash(fields['hash'], 'body.hash') };
  }
}
