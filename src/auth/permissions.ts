/**
 * The permission model's one question, asked three ways: may this set of permissions do `access`
 * on a name; on every name under a prefix; on some name under a prefix. Pure, so the server, the
 * watch filter and the tests share one answer.
 *
 * Matching: a `prefix` permission covers every name that starts with it (the empty prefix covers
 * all names); a `name` permission covers that exact name only. `readwrite` grants both accesses;
 * `admin` grants everything.
 */
import type { Access, AccessLevel, Permission, Resource } from './types.ts';

function grants(level: AccessLevel, access: Access): boolean {
  return level === 'readwrite' || level === access;
}

export function isAdmin(permissions: readonly Permission[]): boolean {
  return permissions.some((permission) => permission.resource === 'admin');
}

/** Scoped permissions (not admin) of `resource` granting `access`. */
function scoped(permissions: readonly Permission[], resource: Resource, access: Access): Array<{ prefix?: string; name?: string }> {
  const found: Array<{ prefix?: string; name?: string }> = [];
  for (const permission of permissions) {
    if (permission.resource !== resource || !grants(permission.access, access)) continue;
    found.push('prefix' in permission ? { prefix: permission.prefix } : { name: permission.name });
  }
  return found;
}

/** May `access` be done on the name (a key, or a lock, election or service name)? */
export function allows(permissions: readonly Permission[], resource: Resource, access: Access, name: string): boolean {
  if (isAdmin(permissions)) return true;
  return scoped(permissions, resource, access).some((p) => (p.prefix !== undefined ? name.startsWith(p.prefix) : p.name === name));
}

/**
 * May `access` be done on every name under `prefix`, including names not written yet? Only a
 * prefix permission that is itself a prefix of `prefix` says yes: exact names never cover a range,
 * and several narrower prefixes are not added up (no set of them can cover names not yet known).
 */
export function coversPrefix(permissions: readonly Permission[], resource: Resource, access: Access, prefix: string): boolean {
  if (isAdmin(permissions)) return true;
  return scoped(permissions, resource, access).some((p) => p.prefix !== undefined && prefix.startsWith(p.prefix));
}

/** May `access` be done on at least some name under `prefix`? (A filtered watch shows something.) */
export function touchesPrefix(permissions: readonly Permission[], resource: Resource, access: Access, prefix: string): boolean {
  if (isAdmin(permissions)) return true;
  return scoped(permissions, resource, access).some((p) =>
    p.prefix !== undefined ? p.prefix.startsWith(prefix) || prefix.startsWith(p.prefix) : p.name?.startsWith(prefix) === true,
  );
}

/** Permission as one line of text, for messages and CLI tables: `key:read:prefix=app/`. */
export function describePermission(permission: Permission): string {
  if (permission.resource === 'admin') return 'admin';
  const target = 'prefix' in permission ? `prefix=${JSON.stringify(permission.prefix)}` : `name=${JSON.stringify(permission.name)}`;
  return `${permission.resource}:${permission.access}:${target}`;
}
