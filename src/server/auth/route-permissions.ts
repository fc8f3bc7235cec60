/**
 * What each route needs, read from the request after validation (so the names are the parsed
 * path, query and body). One table, keyed by method and route: a route not listed here needs
 * admin, so a route added later is closed until someone decides otherwise.
 *
 * Choices worth knowing (docs/security.md):
 * - a range (GET /v1/kv?prefix, a txn range, DELETE /v1/kv?prefix, GET /v1/locks?prefix) is
 *   refused unless one prefix permission covers the whole range: filtering would make `more`
 *   and the revision's picture lie about what exists;
 * - a watch on a prefix is allowed when the token may read some key under it, and its events are
 *   filtered key by key (watch-routes.ts);
 * - a txn needs read on every key it compares or gets, write on every key it puts or deletes, and
 *   read on the lock or election of a lock compare or fence; a fence on a plain write likewise;
 * - leases carry no name: any valid token may grant, renew and list them; reading one (its
 *   answer lists its keys) needs read, and revoking one write, on every key attached to it
 *   (checked against this node's state, as etcd does);
 * - a put or a conditional delete by a token that may not read the key gets no `prev` and no
 *   `current` (kv-routes.ts, AuthGate.withoutUnreadableCurrent);
 * - GET /v1/services lists every service: it needs read on all service names.
 */
import type { FastifyRequest } from 'fastify';
import type { Access, Resource } from '../../auth/index.ts';
import type { ServerContext } from '../context.ts';

export type Requirement =
  | { readonly kind: 'authenticated' }
  | { readonly kind: 'admin' }
  | { readonly kind: 'name'; readonly resource: Resource; readonly access: Access; readonly name: string }
  | { readonly kind: 'covers'; readonly resource: Resource; readonly access: Access; readonly prefix: string }
  | { readonly kind: 'touches'; readonly resource: Resource; readonly access: Access; readonly prefix: string };

type Parts = { params: Record<string, string>; query: Record<string, unknown>; body: Record<string, unknown> };
type Rule = (parts: Parts, context: ServerContext) => Requirement[];

const AUTHENTICATED: Requirement[] = [{ kind: 'authenticated' }];
const ADMIN: Requirement[] = [{ kind: 'admin' }];

function name(resource: Resource, access: Access, target: string): Requirement {
  return { kind: 'name', resource, access, name: target };
}

function covers(resource: Resource, access: Access, prefix: unknown): Requirement {
  return { kind: 'covers', resource, access, prefix: typeof prefix === 'string' ? prefix : '' };
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

/** A `fence` or lock compare `{lock: name}` / `{election: name}` needs read on that holding. */
function holdingRead(ref: unknown): Requirement[] {
  if (typeof ref !== 'object' || ref === null) return [];
  const fields = ref as Record<string, unknown>;
  if (typeof fields['lock'] === 'string') return [name('lock', 'read', fields['lock'])];
  if (typeof fields['election'] === 'string') return [name('election', 'read', fields['election'])];
  return [];
}

function txnOpRequirements(op: unknown): Requirement[] {
  const fields = (typeof op === 'object' && op !== null ? op : {}) as Record<string, Record<string, unknown> | undefined>;
  if (fields['put'] !== undefined) return [name('key', 'write', text(fields['put']['key']))];
  if (fields['delete'] !== undefined) return [name('key', 'write', text(fields['delete']['key']))];
  if (fields['get'] !== undefined) return [name('key', 'read', text(fields['get']['key']))];
  if (fields['range'] !== undefined) return [covers('key', 'read', fields['range']['prefix'])];
  return [];
}

function txnRequirements({ body }: Parts): Requirement[] {
  const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);
  const compares = list(body['compare']).flatMap((compare) => {
    const fields = (compare ?? {}) as Record<string, unknown>;
    return typeof fields['key'] === 'string' ? [name('key', 'read', fields['key'])] : holdingRead(compare);
  });
  const ops = [...list(body['success']), ...list(body['failure'])].flatMap(txnOpRequirements);
  return [...compares, ...ops, ...holdingRead(body['fence'])];
}

function watchRequirements({ query }: Parts): Requirement[] {
  if (typeof query['key'] === 'string') return [name('key', 'read', query['key'])];
  return [{ kind: 'touches', resource: 'key', access: 'read', prefix: text(query['prefix']) }];
}

function leaseRevokeRequirements({ params }: Parts, context: ServerContext): Requirement[] {
  const keys = context.deps.node.kv.lease(params['id'] ?? '')?.keys ?? [];
  return keys.length === 0 ? AUTHENTICATED : keys.map((key) => name('key', 'write', key));
}

function holdingRules(resource: 'lock' | 'election', mount: string, writeVerbs: readonly string[]): Record<string, Rule> {
  const rules: Record<string, Rule> = {
    [`GET ${mount}/:name`]: ({ params }) => [name(resource, 'read', params['name'] ?? '')],
  };
  for (const verb of writeVerbs) rules[`POST ${mount}/:name/${verb}`] = ({ params }) => [name(resource, 'write', params['name'] ?? '')];
  return rules;
}

const RULES: Readonly<Record<string, Rule>> = {
  'GET /v1/cluster': () => AUTHENTICATED,
  'GET /v1/auth/whoami': () => AUTHENTICATED,

  'PUT /v1/kv/*': ({ params, body }) => [name('key', 'write', params['*'] ?? ''), ...holdingRead(body['fence'])],
  'GET /v1/kv/*': ({ params }) => [name('key', 'read', params['*'] ?? '')],
  'DELETE /v1/kv/*': ({ params }) => [name('key', 'write', params['*'] ?? '')],
  'GET /v1/kv': ({ query }) => [covers('key', 'read', query['prefix'])],
  'DELETE /v1/kv': ({ query }) => [covers('key', 'write', query['prefix'])],
  'POST /v1/txn': txnRequirements,
  'GET /v1/watch': watchRequirements,

  'POST /v1/leases': () => AUTHENTICATED,
  'GET /v1/leases': () => AUTHENTICATED,
  // A lease's answer lists its keys: reading it needs read on each of them.
  'GET /v1/leases/:id': ({ params }, context) =>
    (context.deps.node.kv.lease(params['id'] ?? '')?.keys ?? []).map((key) => name('key', 'read', key)).concat(AUTHENTICATED),
  'POST /v1/leases/:id/keepalive': () => AUTHENTICATED,
  'DELETE /v1/leases/:id': leaseRevokeRequirements,

  ...holdingRules('lock', '/v1/locks', ['acquire', 'release', 'withdraw']),
  'GET /v1/locks': ({ query }) => [covers('lock', 'read', query['prefix'])],
  ...holdingRules('election', '/v1/elections', ['campaign', 'proclaim', 'resign', 'withdraw']),
  'GET /v1/elections/:name/observe': ({ params }) => [name('election', 'read', params['name'] ?? '')],

  'PUT /v1/services/:service/instances/:id': ({ params }) => [name('service', 'write', params['service'] ?? '')],
  'DELETE /v1/services/:service/instances/:id': ({ params }) => [name('service', 'write', params['service'] ?? '')],
  'POST /v1/services/:service/instances/:id/heartbeat': ({ params }) => [name('service', 'write', params['service'] ?? '')],
  'GET /v1/services': () => [covers('service', 'read', '')],
  'GET /v1/services/:service': ({ params }) => [name('service', 'read', params['service'] ?? '')],
  'GET /v1/services/:service/watch': ({ params }) => [name('service', 'read', params['service'] ?? '')],
};

/** The requirements of `request`'s route; admin for any route the table does not know. */
export function requirementsOf(request: FastifyRequest, context: ServerContext): Requirement[] {
  const route = request.routeOptions.url;
  if (route === undefined) return AUTHENTICATED; // unmatched: the 404 answers
  const rule = RULES[`${request.method} ${route}`];
  if (rule === undefined) return ADMIN;
  const object = (value: unknown): Record<string, unknown> => (typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {});
  return rule({ params: object(request.params) as Record<string, string>, query: object(request.query), body: object(request.body) }, context);
}
