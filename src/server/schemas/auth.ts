/**
 * Schemas of the auth routes (users, roles, tokens, whoami). The state machine validates the
 * same rules again on apply (src/auth/command-parse.ts); these give the OpenAPI document its
 * shapes and refuse malformed requests before anything is proposed.
 */
import { Type } from '@sinclair/typebox';
import { MAX_DESCRIPTION_BYTES, MAX_NAME_BYTES, MAX_PERMISSIONS_PER_ROLE, MAX_ROLES_PER_USER, MAX_TOKEN_TTL_MS, MIN_TOKEN_TTL_MS } from '../../auth/index.ts';
import { Revision, TimeoutMs } from './common.ts';

const closed = { additionalProperties: false } as const;

export const AuthName = Type.String({
  minLength: 1,
  maxLength: MAX_NAME_BYTES,
  pattern: '^[A-Za-z0-9][A-Za-z0-9._@-]*$',
  description: 'Letters, digits and . _ @ -, starting with a letter or digit.',
});

const ResourceSchema = Type.Union([Type.Literal('key'), Type.Literal('lock'), Type.Literal('election'), Type.Literal('service')]);
const AccessSchema = Type.Union([Type.Literal('read'), Type.Literal('write'), Type.Literal('readwrite')], {
  description: 'readwrite grants both; write alone does not grant reading.',
});

export const PermissionSchema = Type.Union(
  [
    Type.Object({ resource: Type.Literal('admin') }, { ...closed, description: 'Everything: cluster, maintenance, auth management, all names.' }),
    Type.Object(
      { resource: ResourceSchema, access: AccessSchema, prefix: Type.String({ description: 'Every name starting with this; "" = all names.' }) },
      closed,
    ),
    Type.Object({ resource: ResourceSchema, access: AccessSchema, name: Type.String({ minLength: 1, description: 'Exactly this name.' }) }, closed),
  ],
  // Inline, not a shared $ref: a referenced schema would be compiled by fastify's default Ajv,
  // whose removeAdditional strips the fields of a scoped permission while trying the admin branch.
  { title: 'Permission' },
);
const PermissionRef = PermissionSchema;

const Role = Type.Object({ name: Type.String(), permissions: Type.Array(PermissionRef) });
const User = Type.Object({ name: Type.String(), roles: Type.Array(Type.String()) });
const TokenInfo = Type.Object({
  id: Type.String(),
  user: Type.String(),
  createdAtMs: Revision,
  expiresAtMs: Type.Optional(Revision),
  description: Type.Optional(Type.String()),
});
const Change = { revision: Revision, authRevision: Revision };
const timeoutMs = Type.Optional(TimeoutMs);

export const NameParams = Type.Object({ name: AuthName }, closed);
export const TokenIdParams = Type.Object({ id: AuthName }, closed);
export const AuthTimeoutQuery = Type.Object({ timeoutMs }, closed);

export const authSchemas = {
  userBody: Type.Object(
    { name: AuthName, roles: Type.Optional(Type.Array(AuthName, { maxItems: MAX_ROLES_PER_USER })), timeoutMs },
    closed,
  ),
  roleBody: Type.Object(
    { name: AuthName, permissions: Type.Array(PermissionRef, { maxItems: MAX_PERMISSIONS_PER_ROLE }), timeoutMs },
    closed,
  ),
  tokenBody: Type.Object(
    {
      user: AuthName,
      ttlMs: Type.Optional(Type.Integer({ minimum: MIN_TOKEN_TTL_MS, maximum: MAX_TOKEN_TTL_MS, description: 'Expires this long after creation; absent: never.' })),
      description: Type.Optional(Type.String({ maxLength: MAX_DESCRIPTION_BYTES })),
      timeoutMs,
    },
    closed,
  ),
  tokensQuery: Type.Object({ user: Type.Optional(AuthName), timeoutMs }, closed),
  userResponse: Type.Object({ ...Change, user: User, created: Type.Boolean() }),
  userDetail: Type.Object({ name: Type.String(), roles: Type.Array(Type.String()), tokens: Type.Array(TokenInfo) }),
  usersResponse: Type.Object({ users: Type.Array(User) }),
  roleResponse: Type.Object({ ...Change, role: Role, created: Type.Boolean() }),
  roleDetail: Role,
  rolesResponse: Type.Object({ roles: Type.Array(Role) }),
  deleteResponse: Type.Object({ ...Change, tokensRevoked: Revision }),
  tokenCreated: Type.Object({
    ...Change,
    token: Type.String({ description: 'The secret: shown this once, stored nowhere (only its SHA-256 is).' }),
    info: TokenInfo,
  }),
  tokensResponse: Type.Object({ tokens: Type.Array(TokenInfo) }),
  whoami: Type.Object({
    authEnabled: Type.Boolean(),
    user: Type.Optional(Type.String()),
    tokenId: Type.Optional(Type.String()),
    roles: Type.Optional(Type.Array(Type.String())),
    permissions: Type.Optional(Type.Array(PermissionRef)),
  }),
};
