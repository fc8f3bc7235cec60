/**
 * Service registry routes. Registration, status changes and deregistration go through the log
 * on the leader. A heartbeat runs on the leader too: it renews the instance's lease there (the
 * leader's countdown decides expiry; a keepalive is never logged) and writes only when the
 * status or note changes. Discovery, the service list and the watch stream are served by the
 * node that received them, after a ReadIndex barrier; a blocking query then waits on this
 * node's applied changes (no polling, no forwarding), so any replica can hold many of them.
 */
import { Type } from '@sinclair/typebox';
import { ConcordError } from '../../common/errors.ts';
import type { KvCommandBody } from '../../kv/index.ts';
import { type DiscoverFilter, type InstanceStatus, discover, findInstance, listServices } from '../../registry/index.ts';
import type { ConcordApp, ServerContext } from '../context.ts';
import { ServiceChangeHub } from '../registry/service-changes.ts';
import { ServiceWatchSession } from '../registry/service-watch-session.ts';
import type { LeaderAttempt } from '../replica-service.ts';
import { RequestScope } from '../request-scope.ts';
import { ERROR_RESPONSES } from '../schemas/common.ts';
import { DEFAULT_WAIT_MS, InstanceParams, ServiceParams, serviceSchemas } from '../schemas/services.ts';
import { REVISION_HEADER, openEventStream, proposeOnLeader, readBarrier } from './route-helpers.ts';

export const INDEX_HEADER = 'x-concord-index';

function instanceNotFound(service: string, id: string): ConcordError {
  return new ConcordError('not_found', `instance ${JSON.stringify(id)} of service ${JSON.stringify(service)} not found (expired, deregistered or never registered)`, {
    service,
    id,
  });
}

function filterOf(query: { status?: InstanceStatus; tag?: string }): DiscoverFilter {
  return { ...(query.status === undefined ? {} : { status: query.status }), ...(query.tag === undefined ? {} : { tag: query.tag }) };
}

type HeartbeatBody = { readonly status?: InstanceStatus; readonly note?: string } | undefined;

export function registerRegistryRoutes(app: ConcordApp, context: ServerContext): void {
  const schemas = serviceSchemas;
  const { node } = context.deps;
  const tags = ['services'];
  const hub = new ServiceChangeHub(node.kv);
  const sessions = new Set<ServiceWatchSession>();
  /** Aborts every blocking query in progress: on close they answer at once with what they have. */
  const waiting = new Set<AbortController>();

  app.addHook('preClose', async () => {
    for (const session of [...sessions]) session.close();
    for (const controller of [...waiting]) controller.abort();
  });
  app.addHook('onClose', async () => hub.close());

  /** The status and note a heartbeat leaves the instance with: what it names, else what it has. */
  function statusAfter(body: HeartbeatBody, instance: { status: InstanceStatus; note?: string }): { status: InstanceStatus; note: string } {
    const status = body?.status ?? instance.status;
    const note = body?.note ?? (body?.status === undefined ? (instance.note ?? '') : '');
    return { status, note };
  }

  /**
   * A follower's heartbeat that changes nothing (a plain keepalive) renews the instance's lease
   * over the peer connection: a read barrier here makes the instance's registration (or its
   * removal) and its status visible, then the leader renews the lease behind a barrier of its
   * own. Null when that path does not apply (a status or note to write, which the leader does)
   * or gave no answer: the router then forwards the HTTP request.
   */
  async function heartbeatOverPeers(service: string, id: string, body: HeartbeatBody, scope: RequestScope): Promise<LeaderAttempt<number> | null> {
    if (!context.service.forwardsOverPeers) return null;
    await context.service.readBarrier(scope.deadline);
    const instance = findInstance(node.kv, service, id);
    if (instance === null) throw instanceNotFound(service, id);
    const after = statusAfter(body, instance);
    if (after.status !== instance.status || after.note !== (instance.note ?? '')) return null;
    const renewed = await context.service.renewOverPeers(instance.lease, scope.deadline);
    if (renewed === null) return null;
    if (!renewed.ok) throw instanceNotFound(service, id);
    return { kind: 'done', value: renewed.ttlMs };
  }

  app.put(
    '/v1/services/:service/instances/:id',
    {
      schema: {
        tags,
        summary: 'Register (or re-register) an instance, on a lease of its own (ttlMs) or an existing one (lease).',
        params: InstanceParams,
        querystring: schemas.timeoutQuery,
        body: schemas.registerBody,
        response: { 200: schemas.registerResponse, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const { service, id } = request.params;
      const { address, port, tags: instanceTags = [], meta = {}, ttlMs, lease, timeoutMs } = request.body;
      const scope = new RequestScope(request, context.limits, timeoutMs ?? request.query.timeoutMs);
      const command: KvCommandBody = {
        type: 'serviceRegister',
        service,
        id,
        address,
        port,
        tags: instanceTags,
        meta,
        ...(ttlMs === undefined ? {} : { ttlMs }),
        ...(lease === undefined ? {} : { lease }),
      };
      const result = await proposeOnLeader(context, request, reply, scope, command);
      return result ?? reply;
    },
  );

  app.post(
    '/v1/services/:service/instances/:id/heartbeat',
    {
      schema: {
        tags,
        summary: "Renew the instance's lease; a changed status or note is also written.",
        description: 'A heartbeat with the status and note the instance already has is only a lease keepalive (never logged).',
        params: InstanceParams,
        querystring: schemas.timeoutQuery,
        body: schemas.heartbeatBody,
        response: { 200: schemas.heartbeatResponse, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const { service, id } = request.params;
      const body = request.body;
      const scope = new RequestScope(request, context.limits, body?.timeoutMs ?? request.query.timeoutMs);
      // Inline, not a named local: run from source (tsx keeps names) each named closure costs ~1 µs.
      const routed = await context.router.run(request, reply, scope, true, async (): Promise<LeaderAttempt<number>> => {
        if (!node.leases.isLeading) return (await heartbeatOverPeers(service, id, body, scope)) ?? context.service.leaderAttempt<number>();
        // The barrier makes the instance's registration (and any expiry already decided) visible here.
        await context.service.readBarrier(scope.deadline);
        const instance = findInstance(node.kv, service, id);
        if (instance === null) throw instanceNotFound(service, id);
        const renewed = node.keepAlive(instance.lease);
        if (!renewed.ok) {
          if (renewed.code === 'not_leader') return context.service.leaderAttempt<number>();
          throw instanceNotFound(service, id);
        }
        const { status, note } = statusAfter(body, instance);
        if (status !== instance.status || note !== (instance.note ?? '')) {
          const proposed = await context.service.proposeOnce({ type: 'serviceStatus', service, id, status, note }, scope.idempotencyKey, scope.deadline);
          if (proposed.kind !== 'done') return proposed;
          reply.header(REVISION_HEADER, String(proposed.value.revision));
          const result = proposed.value.result;
          if ('error' in result) throw instanceNotFound(service, id);
        }
        return { kind: 'done', value: renewed.remainingMs };
      });
      if (routed.kind === 'relayed') return reply;
      if (!reply.hasHeader(REVISION_HEADER)) reply.header(REVISION_HEADER, String(node.kv.revision));
      return { remainingMs: routed.value };
    },
  );

  app.delete(
    '/v1/services/:service/instances/:id',
    {
      schema: {
        tags,
        summary: 'Deregister an instance; a lease it owns (registered with ttlMs) is revoked with it.',
        params: InstanceParams,
        querystring: schemas.timeoutQuery,
        response: { 200: schemas.revisionResponse, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const { service, id } = request.params;
      const scope = new RequestScope(request, context.limits, request.query.timeoutMs);
      const result = await proposeOnLeader(context, request, reply, scope, { type: 'serviceDeregister', service, id });
      return result === null ? reply : { revision: result.revision };
    },
  );

  app.get(
    '/v1/services',
    {
      schema: {
        tags,
        summary: 'Services with at least one instance: instance and passing counts, sorted by name.',
        querystring: schemas.listQuery,
        response: { 200: schemas.listResponse, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const scope = new RequestScope(request, context.limits, request.query.timeoutMs);
      await readBarrier(context, scope, request.query.consistency);
      const { services, storeRevision } = listServices(node.kv);
      reply.header(REVISION_HEADER, String(storeRevision));
      return { services };
    },
  );

  app.get(
    '/v1/services/:service',
    {
      schema: {
        tags,
        summary: "A service's instances, filtered by status and tag; with index, a blocking query.",
        description:
          "With `index`, the answer waits until the service's revision exceeds it (any registration, status change, " +
          'deregistration or expiry in the service), or `waitMs` passes; then it carries the list as it is. ' +
          'x-concord-index (= `revision`) is the index to pass next.',
        params: ServiceParams,
        querystring: schemas.discoverQuery,
        response: { 200: schemas.discoverResponse, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const { service } = request.params;
      const { index, waitMs, consistency, timeoutMs } = request.query;
      const scope = new RequestScope(request, context.limits, timeoutMs);
      await readBarrier(context, scope, consistency);
      if (index !== undefined) {
        if (waiting.size >= context.limits.maxBlockingQueries) {
          throw new ConcordError('overloaded', `this node holds at most ${context.limits.maxBlockingQueries} blocking queries`);
        }
        const controller = new AbortController();
        const abortIfGone = (): void => {
          if (!reply.raw.writableFinished) controller.abort();
        };
        waiting.add(controller);
        reply.raw.once('close', abortIfGone);
        try {
          await hub.waitForChange(service, index, waitMs ?? DEFAULT_WAIT_MS, controller.signal);
        } finally {
          waiting.delete(controller);
          reply.raw.off('close', abortIfGone);
        }
      }
      const view = discover(node.kv, service, filterOf(request.query));
      reply.header(INDEX_HEADER, String(view.revision));
      reply.header(REVISION_HEADER, String(view.storeRevision));
      return { revision: view.revision, instances: view.instances };
    },
  );

  app.get(
    '/v1/services/:service/watch',
    {
      schema: {
        tags,
        summary: "Server-sent events: the service's full instance list at each change.",
        description:
          '`event: instances` with {revision, instances} when the stream opens and after each change to the service ' +
          "(the event id is the service revision); `event: progress` with {revision} (the store's) while idle.",
        params: ServiceParams,
        querystring: schemas.watchQuery,
        produces: ['text/event-stream'],
        response: { 200: Type.String({ description: 'text/event-stream' }), ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const { service } = request.params;
      if (sessions.size >= context.limits.maxWatchers) {
        throw new ConcordError('overloaded', `this node serves at most ${context.limits.maxWatchers} service watch streams`);
      }
      context.clientStreams.admit(request, reply);
      // The first list reflects every write acknowledged before the request.
      await readBarrier(context, new RequestScope(request, context.limits, undefined), 'linearizable');
      const response = openEventStream(context, request, reply);
      context.metrics.watchOpened();
      const options = {
        service,
        filter: filterOf(request.query),
        progressIntervalMs: context.limits.watchProgressIntervalMs,
        maxBufferedBytes: context.limits.watchMaxBufferedBytes,
        ...context.auth.streamGuard(request),
      };
      const session = new ServiceWatchSession(node.kv, hub, response, options, (closed) => {
        sessions.delete(closed);
        context.metrics.watchClosed();
        context.metrics.observeHttpRequest('GET', '/v1/services/:service/watch', 200, null);
      });
      sessions.add(session);
      session.begin();
      return reply;
    },
  );
}
