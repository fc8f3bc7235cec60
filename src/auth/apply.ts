/**
 * Applies the auth commands to the AuthTable of an apply context. Auth changes are not KV data:
 * the store revision does not move and no watch event is emitted; the auth revision does.
 * Expired tokens are dropped first, judged by the command's proposedAtMs (the proposer's clock
 * carried in the entry), never by a clock of the replica.
 */
import type { ApplyContext } from '../kv/apply-context.ts';
import { type KvErrorResult, isKvError } from '../kv/kv-errors.ts';
import type { AuthCommandBody, AuthResultByType, TokenRecord } from './types.ts';

type AuthResult = AuthResultByType[AuthCommandBody['type']] | KvErrorResult;

export function applyAuthBody(context: ApplyContext, body: AuthCommandBody): AuthResult {
  const table = context.auth;
  table.begin(context.proposedAtMs);
  const revision = context.store.revision;
  const done = <T extends object>(result: T | KvErrorResult): (T & { revision: number; authRevision: number }) | KvErrorResult =>
    isKvError(result) ? result : { ...result, revision, authRevision: table.changed() };
  switch (body.type) {
    case 'authRolePut':
      return done(table.putRole(body.name, body.permissions));
    case 'authRoleDelete':
      return done(table.deleteRole(body.name));
    case 'authUserPut':
      return done(table.putUser(body.name, body.roles));
    case 'authUserDelete':
      return done(table.deleteUser(body.name));
    case 'authTokenCreate': {
      const token: TokenRecord = {
        id: body.id,
        user: body.user,
        hash: body.hash,
        createdAtMs: context.proposedAtMs,
        ...(body.ttlMs === undefined ? {} : { expiresAtMs: context.proposedAtMs + body.ttlMs }),
        ...(body.description === undefined ? {} : { description: body.description }),
      };
      const created = table.createToken(token);
      return done(isKvError(created) ? created : { token: created });
    }
    case 'authTokenRevoke':
      return done(table.revokeToken(body.id));
    case 'authBootstrap': {
      const bootstrapped = table.bootstrap(body.hash, context.proposedAtMs);
      return bootstrapped ? done({ bootstrapped }) : { bootstrapped, revision, authRevision: table.authRevision };
    }
  }
}
