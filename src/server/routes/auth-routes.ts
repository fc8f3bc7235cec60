/**
 * Auth management (admin only when auth is on; the gate enforces it) and whoami (any valid
 * token). Changes go through the log on the leader like any write; reads wait for a read
 * barrier, so an admin sees its own change at once from any node.
 *
 * A token is made by the node that proposes it: a random secret, of which only the SHA-256 goes
 * into the log (server/auth/token-secrets.ts). The secret is in this one answer and nowhere else.
 * A retry with the same idempotency-key finds the first token already created; its secret is
 * not known any more, so that retry is 409 compare_failed naming the token (revoke it and create
 * another if the first answer was lost).
 *
 * With auth off these routes still work, unauthenticated, so users and roles can be prepared
 * before turning auth on.
 */
import type { FastifyRequest } from 'fastify';
import type { Permission } from '../../auth/index.ts';
import { ConcordError } from '../../common/errors.ts';
import type { ConcordApp, ServerContext } from '../context.ts';
import { RequestScope } from '../request-scope.ts';
import { AuthTimeoutQuery, NameParams, TokenIdParams, authSchemas } from '../schemas/auth.ts';
import { ERROR_RESPONSES } from '../schemas/common.ts';
import { hashToken, newTokenId, newTokenSecret } from '../auth/token-secrets.ts';
import { proposeOnLeader } from './route-helpers.ts';

export function registerAuthRoutes(app: ConcordApp, context: ServerContext): void {
  const schemas = authSchemas;
  const { node } = context.deps;
  const tags = ['auth'];

  async function linearizable(request: FastifyRequest, timeoutMs: number | undefined): Promise<void> {
    const scope = new RequestScope(request, context.limits, timeoutMs);
    await context.service.readBarrier(scope.deadline);
  }

  app.get(
    '/v1/auth/whoami',
    { schema: { tags, summary: 'The user, token and permissions of the calling token.', response: { 200: schemas.whoami, ...ERROR_RESPONSES } } },
    async (request) => {
      const identity = context.auth.identityOf(request);
      if (!context.auth.enabled || identity === undefined) return { authEnabled: context.auth.enabled };
      const roles = node.kv.auth.user(identity.user)?.roles ?? [];
      return { authEnabled: true, user: identity.user, tokenId: identity.tokenId, roles: [...roles], permissions: [...identity.permissions] };
    },
  );

  app.post(
    '/v1/auth/users',
    {
      schema: {
        tags,
        summary: 'Create a user, or replace its roles (admin).',
        querystring: AuthTimeoutQuery,
        body: schemas.userBody,
        response: { 200: schemas.userResponse, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const { name, roles = [], timeoutMs } = request.body;
      const scope = new RequestScope(request, context.limits, timeoutMs ?? request.query.timeoutMs);
      return (await proposeOnLeader(context, request, reply, scope, { type: 'authUserPut', name, roles })) ?? reply;
    },
  );

  app.get(
    '/v1/auth/users',
    { schema: { tags, summary: 'List users (admin).', querystring: AuthTimeoutQuery, response: { 200: schemas.usersResponse, ...ERROR_RESPONSES } } },
    async (request) => {
      await linearizable(request, request.query.timeoutMs);
      return { users: node.kv.auth.users() };
    },
  );

  app.get(
    '/v1/auth/users/:name',
    {
      schema: {
        tags,
        summary: "A user, its roles and its tokens' ids (admin).",
        params: NameParams,
        querystring: AuthTimeoutQuery,
        response: { 200: schemas.userDetail, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      await linearizable(request, request.query.timeoutMs);
      const user = node.kv.auth.user(request.params.name);
      if (user === undefined) throw new ConcordError('not_found', `user ${JSON.stringify(request.params.name)} not found`, { user: request.params.name });
      return { name: user.name, roles: [...user.roles], tokens: node.kv.auth.tokens(user.name) };
    },
  );

  app.delete(
    '/v1/auth/users/:name',
    {
      schema: {
        tags,
        summary: 'Delete a user and revoke its tokens (admin; refused if it would leave no admin).',
        params: NameParams,
        querystring: AuthTimeoutQuery,
        response: { 200: schemas.deleteResponse, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const scope = new RequestScope(request, context.limits, request.query.timeoutMs);
      return (await proposeOnLeader(context, request, reply, scope, { type: 'authUserDelete', name: request.params.name })) ?? reply;
    },
  );

  app.post(
    '/v1/auth/roles',
    {
      schema: {
        tags,
        summary: 'Create a role, or replace its permissions (admin).',
        querystring: AuthTimeoutQuery,
        body: schemas.roleBody,
        response: { 200: schemas.roleResponse, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const { name, permissions, timeoutMs } = request.body;
      const scope = new RequestScope(request, context.limits, timeoutMs ?? request.query.timeoutMs);
      return (await proposeOnLeader(context, request, reply, scope, { type: 'authRolePut', name, permissions: permissions as Permission[] })) ?? reply;
    },
  );

  app.get(
    '/v1/auth/roles',
    { schema: { tags, summary: 'List roles and their permissions (admin).', querystring: AuthTimeoutQuery, response: { 200: schemas.rolesResponse, ...ERROR_RESPONSES } } },
    async (request) => {
      await linearizable(request, request.query.timeoutMs);
      return { roles: node.kv.auth.roles() };
    },
  );

  app.get(
    '/v1/auth/roles/:name',
    {
      schema: { tags, summary: 'A role and its permissions (admin).', params: NameParams, querystring: AuthTimeoutQuery, response: { 200: schemas.roleDetail, ...ERROR_RESPONSES } },
    },
    async (request) => {
      await linearizable(request, request.query.timeoutMs);
      const role = node.kv.auth.role(request.params.name);
      if (role === undefined) throw new ConcordError('not_found', `role ${JSON.stringify(request.params.name)} not found`, { role: request.params.name });
      return role;
    },
  );

  app.delete(
    '/v1/auth/roles/:name',
    {
      schema: {
        tags,
        summary: 'Delete a role; users holding it lose it (admin; refused if it would leave no admin).',
        params: NameParams,
        querystring: AuthTimeoutQuery,
        response: { 200: schemas.deleteResponse, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const scope = new RequestScope(request, context.limits, request.query.timeoutMs);
      return (await proposeOnLeader(context, request, reply, scope, { type: 'authRoleDelete', name: request.params.name })) ?? reply;
    },
  );

  app.post(
    '/v1/auth/tokens',
    {
      schema: {
        tags,
        summary: 'Create a token for a user; the answer carries the secret, once (admin).',
        querystring: AuthTimeoutQuery,
        body: schemas.tokenBody,
        response: { 200: schemas.tokenCreated, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const { user, ttlMs, description, timeoutMs } = request.body;
      const scope = new RequestScope(request, context.limits, timeoutMs ?? request.query.timeoutMs);
      const secret = newTokenSecret();
      const id = newTokenId();
      const result = await proposeOnLeader(context, request, reply, scope, {
        type: 'authTokenCreate',
        id,
        user,
        hash: hashToken(secret),
        ...(ttlMs === undefined ? {} : { ttlMs }),
        ...(description === undefined ? {} : { description }),
      });
      if (result === null) return reply;
      if (result.token.id !== id) {
        throw new ConcordError('compare_failed', `this idempotency-key already created token ${result.token.id}; its secret was in the first answer only`, {
          current: result.token,
        });
      }
      return { revision: result.revision, authRevision: result.authRevision, token: secret, info: result.token };
    },
  );

  app.get(
    '/v1/auth/tokens',
    {
      schema: {
        tags,
        summary: "List tokens (ids, owners, expiry; never secrets or hashes), optionally one user's (admin).",
        querystring: schemas.tokensQuery,
        response: { 200: schemas.tokensResponse, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      await linearizable(request, request.query.timeoutMs);
      return { tokens: node.kv.auth.tokens(request.query.user) };
    },
  );

  app.delete(
    '/v1/auth/tokens/:id',
    {
      schema: {
        tags,
        summary: 'Revoke a token: each node refuses it once it applies the revocation (admin).',
        params: TokenIdParams,
        querystring: AuthTimeoutQuery,
        response: { 200: schemas.deleteResponse, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const scope = new RequestScope(request, context.limits, request.query.timeoutMs);
      return (await proposeOnLeader(context, request, reply, scope, { type: 'authTokenRevoke', id: request.params.id })) ?? reply;
    },
  );
}
