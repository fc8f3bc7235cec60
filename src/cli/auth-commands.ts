/**
 * `concord auth whoami | user ... | role ... | token ...`, through the SDK's AuthClient. Every
 * command but whoami needs an admin token (--token or CONCORD_TOKEN). Permissions are written
 * `RESOURCE:ACCESS:prefix=P` or `RESOURCE:ACCESS:name=N` (RESOURCE key, lock, election or
 * service; ACCESS read, write or readwrite), or `admin` — as the tables print them.
 */
import type { Permission, TokenInfo } from '../client/index.ts';
import { EXIT, expectPositionals, optionalInt, optionalString, out, runGroup, table, UsageError, type Command } from './common.ts';

const RESOURCES = ['key', 'lock', 'election', 'service'] as const;
const ACCESS_LEVELS = ['read', 'write', 'readwrite'] as const;

/** `admin`, `key:read:prefix=app/`, `lock:write:name=leader`; a prefix may be empty (`key:read:prefix=`). */
export function parsePermissionSpec(spec: string): Permission {
  if (spec === 'admin') return { resource: 'admin' };
  const match = /^([a-z]+):([a-z]+):(prefix|name)=(.*)$/s.exec(spec);
  const [, resource = '', access = '', kind = '', target = ''] = match ?? [];
  if (match === null || !(RESOURCES as readonly string[]).includes(resource) || !(ACCESS_LEVELS as readonly string[]).includes(access)) {
    throw new UsageError(
      `bad permission ${JSON.stringify(spec)}: expected admin, or RESOURCE:ACCESS:prefix=P / RESOURCE:ACCESS:name=N ` +
        `(RESOURCE ${RESOURCES.join('|')}, ACCESS ${ACCESS_LEVELS.join('|')})`,
    );
  }
  const scope = { resource: resource as (typeof RESOURCES)[number], access: access as (typeof ACCESS_LEVELS)[number] };
  if (kind === 'name' && target === '') throw new UsageError(`bad permission ${JSON.stringify(spec)}: name= must not be empty (prefix= is all names)`);
  return kind === 'prefix' ? { ...scope, prefix: target } : { ...scope, name: target };
}

export function formatPermission(permission: Permission): string {
  if (permission.resource === 'admin') return 'admin';
  return 'prefix' in permission ? `${permission.resource}:${permission.access}:prefix=${permission.prefix}` : `${permission.resource}:${permission.access}:name=${permission.name}`;
}

function listOf(values: Record<string, unknown>, name: string): string[] {
  const value = values[name];
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).flatMap((item) => String(item).split(',')).map((item) => item.trim()).filter((item) => item !== '');
}

function time(ms: number | undefined): string {
  return ms === undefined ? 'never' : new Date(ms).toISOString();
}

function tokenRows(tokens: readonly TokenInfo[]): string {
  return table(
    ['ID', 'USER', 'CREATED', 'EXPIRES', 'DESCRIPTION'],
    tokens.map((token) => [token.id, token.user, time(token.createdAtMs), time(token.expiresAtMs), token.description]),
  );
}

const whoami: Command = {
  summary: 'the user, token and permissions of --token',
  help: `usage: concord auth whoami

Prints who the token is (user, token id, roles, permissions), or that auth is off.
--json prints {authEnabled, user, tokenId, roles, permissions}.`,
  async run({ positionals, globals }, concord) {
    expectPositionals(positionals, []);
    const me = await concord().auth.whoami();
    if (globals.json) out.json(me);
    else if (!me.authEnabled) out.line('authentication is off on this cluster');
    else out.line(table(['USER', 'TOKEN', 'ROLES', 'PERMISSIONS'], [[me.user, me.tokenId, (me.roles ?? []).join(','), (me.permissions ?? []).map(formatPermission).join(' ')]]));
    return EXIT.ok;
  },
};

const USER_COMMANDS: Readonly<Record<string, Command>> = {
  add: {
    summary: 'create a user, or replace its roles (add NAME --role R ...)',
    help: `usage: concord auth user add NAME [--role ROLE]...

Creates the user with these roles, or replaces the roles of an existing one (--role may repeat
or list several: --role a,b). Exit 3 if a role does not exist.
--json prints {user, created, authRevision}.`,
    options: { role: { type: 'string', multiple: true } },
    async run({ positionals, values, globals }, concord) {
      const [name] = expectPositionals(positionals, ['NAME']) as [string];
      const result = await concord().auth.putUser(name, listOf(values, 'role'));
      if (globals.json) out.json({ user: result.user, created: result.created, authRevision: result.authRevision });
      else out.line(`user ${result.user.name} ${result.created ? 'created' : 'updated'}, roles: ${result.user.roles.join(',') || '(none)'}`);
      return EXIT.ok;
    },
  },
  ls: {
    summary: 'list users and their roles',
    help: 'usage: concord auth user ls\n\n--json prints {users: [{name, roles}]}.',
    async run({ positionals, globals }, concord) {
      expectPositionals(positionals, []);
      const users = await concord().auth.users();
      if (globals.json) out.json({ users });
      else out.line(table(['USER', 'ROLES'], users.map((user) => [user.name, user.roles.join(',')])));
      return EXIT.ok;
    },
  },
  show: {
    summary: 'a user, its roles and its tokens',
    help: 'usage: concord auth user show NAME\n\n--json prints {name, roles, tokens}.',
    async run({ positionals, globals }, concord) {
      const [name] = expectPositionals(positionals, ['NAME']) as [string];
      const user = await concord().auth.user(name);
      if (globals.json) out.json(user);
      else out.line(`user ${user.name}, roles: ${user.roles.join(',') || '(none)'}\n${tokenRows(user.tokens)}`);
      return EXIT.ok;
    },
  },
  rm: {
    summary: 'delete a user and revoke its tokens',
    help: 'usage: concord auth user rm NAME\n\nRefused (exit 2) if it would leave no user holding admin.\n--json prints {tokensRevoked, authRevision}.',
    async run({ positionals, globals }, concord) {
      const [name] = expectPositionals(positionals, ['NAME']) as [string];
      const result = await concord().auth.deleteUser(name);
      if (globals.json) out.json({ tokensRevoked: result.tokensRevoked, authRevision: result.authRevision });
      else out.line(`user ${name} deleted, ${result.tokensRevoked} token(s) revoked`);
      return EXIT.ok;
    },
  },
};

const ROLE_COMMANDS: Readonly<Record<string, Command>> = {
  add: {
    summary: 'create a role, or replace its permissions (add NAME --permission SPEC ...)',
    help: `usage: concord auth role add NAME [--permission SPEC]...

Creates the role, or replaces all permissions of an existing one. SPEC is admin, or
RESOURCE:ACCESS:prefix=P (every name starting with P; empty P = all names) or
RESOURCE:ACCESS:name=N (exactly N), with RESOURCE key, lock, election or service and ACCESS
read, write or readwrite. Example:
  concord auth role add app --permission key:readwrite:prefix=app/ --permission lock:write:prefix=app-
--json prints {role, created, authRevision}.`,
    options: { permission: { type: 'string', multiple: true } },
    async run({ positionals, values, globals }, concord) {
      const [name] = expectPositionals(positionals, ['NAME']) as [string];
      const specs = values['permission'];
      const permissions = (Array.isArray(specs) ? specs : []).map((spec) => parsePermissionSpec(String(spec)));
      const result = await concord().auth.putRole(name, permissions);
      if (globals.json) out.json({ role: result.role, created: result.created, authRevision: result.authRevision });
      else out.line(`role ${result.role.name} ${result.created ? 'created' : 'updated'}: ${result.role.permissions.map(formatPermission).join(' ') || '(no permissions)'}`);
      return EXIT.ok;
    },
  },
  ls: {
    summary: 'list roles and their permissions',
    help: 'usage: concord auth role ls\n\n--json prints {roles: [{name, permissions}]}.',
    async run({ positionals, globals }, concord) {
      expectPositionals(positionals, []);
      const roles = await concord().auth.roles();
      if (globals.json) out.json({ roles });
      else out.line(table(['ROLE', 'PERMISSIONS'], roles.map((role) => [role.name, role.permissions.map(formatPermission).join(' ')])));
      return EXIT.ok;
    },
  },
  show: {
    summary: 'a role and its permissions, one per line',
    help: 'usage: concord auth role show NAME\n\n--json prints {name, permissions}.',
    async run({ positionals, globals }, concord) {
      const [name] = expectPositionals(positionals, ['NAME']) as [string];
      const role = await concord().auth.role(name);
      if (globals.json) out.json(role);
      else out.line(table(['ROLE', 'PERMISSION'], role.permissions.map((permission) => [role.name, formatPermission(permission)])));
      return EXIT.ok;
    },
  },
  rm: {
    summary: 'delete a role (users holding it lose it)',
    help: 'usage: concord auth role rm NAME\n\nRefused (exit 2) if it would leave no user holding admin.\n--json prints {authRevision}.',
    async run({ positionals, globals }, concord) {
      const [name] = expectPositionals(positionals, ['NAME']) as [string];
      const result = await concord().auth.deleteRole(name);
      if (globals.json) out.json({ authRevision: result.authRevision });
      else out.line(`role ${name} deleted`);
      return EXIT.ok;
    },
  },
};

const TOKEN_COMMANDS: Readonly<Record<string, Command>> = {
  create: {
    summary: 'create a token for a user; prints the secret (shown once)',
    help: `usage: concord auth token create USER [--ttl-ms N] [--description TEXT]

Prints the new token's secret on stdout (and its id on stderr): the cluster keeps only its
SHA-256, so it cannot be shown again. --ttl-ms makes it expire (at least 1000 ms).
--json prints {token, id, user, createdAtMs, expiresAtMs?, description?}.`,
    options: { 'ttl-ms': { type: 'string' }, description: { type: 'string' } },
    async run({ positionals, values, globals }, concord) {
      const [user] = expectPositionals(positionals, ['USER']) as [string];
      const ttlMs = optionalInt(values, 'ttl-ms');
      const description = optionalString(values, 'description');
      const created = await concord().auth.createToken(user, { ...(ttlMs === undefined ? {} : { ttlMs }), ...(description === undefined ? {} : { description }) });
      if (globals.json) out.json({ token: created.token, ...created.info });
      else {
        out.warn(`token ${created.info.id} for ${created.info.user}, expires ${time(created.info.expiresAtMs)}; the secret follows, shown once:`);
        out.line(created.token);
      }
      return EXIT.ok;
    },
  },
  ls: {
    summary: 'list tokens (ids, owners, expiry; never secrets)',
    help: 'usage: concord auth token ls [--user NAME]\n\n--json prints {tokens: [{id, user, createdAtMs, expiresAtMs?, description?}]}.',
    options: { user: { type: 'string' } },
    async run({ positionals, values, globals }, concord) {
      expectPositionals(positionals, []);
      const tokens = await concord().auth.tokens(optionalString(values, 'user'));
      if (globals.json) out.json({ tokens });
      else out.line(tokenRows(tokens));
      return EXIT.ok;
    },
  },
  revoke: {
    summary: 'revoke a token by id',
    help: 'usage: concord auth token revoke ID\n\nEach node refuses the token once it applies the revocation.\n--json prints {authRevision}.',
    async run({ positionals, globals }, concord) {
      const [id] = expectPositionals(positionals, ['ID']) as [string];
      const result = await concord().auth.revokeToken(id);
      if (globals.json) out.json({ authRevision: result.authRevision });
      else out.line(`token ${id} revoked`);
      return EXIT.ok;
    },
  },
};

const GROUPS: Readonly<Record<string, { summary: string; commands: Readonly<Record<string, Command>> }>> = {
  user: { summary: 'users: add (or set roles), ls, show, rm', commands: USER_COMMANDS },
  role: { summary: 'roles: add (or set permissions), ls, show, rm', commands: ROLE_COMMANDS },
  token: { summary: 'tokens: create, ls, revoke', commands: TOKEN_COMMANDS },
};

export const AUTH_SUMMARY = 'authentication: whoami; user, role and token management (admin)';

/** `concord auth <whoami | user | role | token> ...`. */
export function runAuthCommand(argv: readonly string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const group = sub === undefined ? undefined : GROUPS[sub];
  if (group !== undefined && sub !== undefined) return runGroup(`auth ${sub}`, group.summary, group.commands, rest);
  const top: Record<string, Command> = { whoami };
  for (const [name, entry] of Object.entries(GROUPS)) {
    top[name] = { summary: entry.summary, help: '', run: () => Promise.resolve(EXIT.usage) };
  }
  return runGroup('auth', AUTH_SUMMARY, top, argv);
}
