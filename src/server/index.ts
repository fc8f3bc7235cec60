/**
 * Concord's HTTP server: the contract of ../shared/spec/http-api.md on fastify, over one KvNode.
 *
 *   const { app, metrics, close } = createHttpServer({ node, clusterId, nodeId, logger, members, peerStates?, limits? });
 *   await app.listen({ host, port });
 *   metrics.observeFsync(seconds);   // the process reports each synced storage write
 *   ...
 *   await close();   // ends watch streams, gives requests shutdownGraceMs, closes forwarding pools
 *
 * The caller owns the node: it starts it before and stops it after close(). createHttpServer
 * registers every route synchronously; fastify finishes loading plugins on listen()/ready().
 * members() is read on every forward, so it may change at run time; a member whose clientUrl
 * is '' is never forwarded to (requests wait for a leader that can be reached, then 503).
 *
 * Served: KV (put/get/range/delete/prefix delete), txn, watch (SSE), leases, the service
 * registry (routes/registry-routes.ts), GET /v1/cluster, transfer-leader, /health, /ready,
 * locks and elections (routes/lock-routes.ts, routes/election-routes.ts; fenced writes),
 * /metrics, /openapi.json, maintenance (routes/maintenance-routes.ts: backup download, watch
 * history compaction). Membership changes: membership-routes.ts.
 *
 * Layout: context.ts (the deps and shared machinery), limits.ts, http-errors.ts (the contract's
 * error shape for every error), validation.ts (strict bodies, coerced query strings),
 * replica-service.ts (promises over the callback node), leader-router.ts and leader-forwarder.ts
 * (running leader-only work on the leader), request-scope.ts (deadline, idempotency key,
 * forwarding headers), metrics.ts, openapi.ts, routes/ (one module per area of the contract),
 * schemas/ (TypeBox: validation and OpenAPI), watch/ (SSE sessions).
 */
import { fastify, LogController, type FastifyInstance } from 'fastify';
import { ConcordError } from '../common/errors.ts';
import type { ConcordApp, ServerContext, ServerDeps } from './context.ts';
import { contractClientErrorHandler, installErrorHandlers, sendErrorAnswer, toErrorAnswer } from './http-errors.ts';
import { resolveServerLimits } from './limits.ts';
import { ClientStreamQuota } from './client-streams.ts';
import { forwardingTls, httpsServerOptions, logTlsHandshakeFailures } from './client-tls.ts';
import { ConcordMetrics } from './metrics.ts';
import { LeaderForwarder } from './leader-forwarder.ts';
import { registerOpenApi } from './openapi.ts';
import { LeaderRouter } from './leader-router.ts';
import { ReplicaService } from './replica-service.ts';
import { registerClusterRoutes } from './routes/cluster-routes.ts';
import { registerMembershipRoutes } from './routes/membership-routes.ts';
import { registerKvRoutes } from './routes/kv-routes.ts';
import { registerLeaseRoutes } from './routes/lease-routes.ts';
import { registerTxnRoutes } from './routes/txn-routes.ts';
import { registerWatchRoutes } from './routes/watch-routes.ts';
import { registerOpsRoutes } from './routes/ops-routes.ts';
import { registerRegistryRoutes } from './routes/registry-routes.ts';
import { registerLockRoutes } from './routes/lock-routes.ts';
import { registerElectionRoutes } from './routes/election-routes.ts';
import { registerMaintenanceRoutes } from './routes/maintenance-routes.ts';
import { registerAuthRoutes } from './routes/auth-routes.ts';
import { AuthGate } from './auth/auth-gate.ts';
import { Deadline } from './deadline.ts';
import { AuthBootstrapper } from './auth/bootstrap.ts';
import { LockWaiters } from './locks/lock-waiters.ts';
import { ElectionObservers } from './locks/election-observers.ts';
import { ErrorBodySchema, KeyValueSchema } from './schemas/common.ts';
import { installValidation } from './validation.ts';

export type { MemberInfo, ServerDeps } from './context.ts';
export { DEFAULT_SERVER_LIMITS, type ServerLimits } from './limits.ts';
export { ConcordMetrics, type PeerConnectionState } from './metrics.ts';

export interface HttpServer {
  readonly app: FastifyInstance;
  readonly metrics: ConcordMetrics;
  /** Stops serving: ends watch streams, closes forwarding connections and the listener. */
  close(): Promise<void>;
}

/** The longest path parameter routed (URL-encoded); longer is 400 invalid_argument. */
const MAX_PATH_PARAM_CHARS = 4096;

export function createHttpServer(deps: ServerDeps): HttpServer {
  const limits = resolveServerLimits(deps.limits, deps.node.kv.config.maxValueBytes);
  let requestCounter = 0;
  const app = fastify({
    loggerInstance: deps.logger,
    // HTTPS when the node has a certificate (--client-cert); client certificates with --client-ca.
    ...(deps.tls === undefined ? {} : { https: httpsServerOptions(deps.tls) }),
    // fastify's two info lines per request (incoming, completed) cost two synchronous writes to
    // stdout per request, ~8 % of a leader's CPU under load; installCommonHeaders logs one line
    // per request at debug instead, and every 5xx answer at warn. (A LogController, not the
    // top-level disableRequestLogging that fastify 5.8+ warns about as FSTDEP023.)
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: limits.bodyLimitBytes,
    requestIdHeader: 'x-request-id',
    // Ids unique across the cluster, so a forwarded request's log lines on both nodes match.
    genReqId: () => `${deps.nodeId}-${(++requestCounter).toString(36)}`,
    // fastify's own 503 body is not the contract's shape; installCommonHeaders answers instead.
    return503OnClosing: false,
    // Requests Node's parser refuses (oversized headers, NUL in the path) get the contract's shape too.
    clientErrorHandler: contractClientErrorHandler(deps.nodeId),
    // Path parameters (lock, election, service names; lease ids) are bounded by their schemas
    // (names up to 512 bytes, which URL-encoded take up to 1536 characters); find-my-way's default
    // of 100 characters refused longer valid names with a 414 of its own.
    routerOptions: { maxParamLength: MAX_PATH_PARAM_CHARS },
    // A malformed or overlong path parameter is refused before routing: in the contract's shape.
    frameworkErrors: (error, request, reply) => {
      request.log.debug({ code: error.code }, error.message);
      // No route matched, so the onSend hook that sets this header does not run.
      reply.header('x-concord-node', deps.nodeId);
      return sendErrorAnswer(reply, toErrorAnswer(error), limits.retryAfterSeconds);
    },
  }) as unknown as ConcordApp;
  const metrics = new ConcordMetrics({
    node: deps.node,
    ...(deps.peerStates === undefined ? {} : { peerStates: () => deps.peerStates?.() ?? {} }),
    ...(deps.transportStats === undefined ? {} : { transportStats: deps.transportStats }),
    sampleIntervalMs: limits.metricsSampleIntervalMs,
  });
  const forwarder = new LeaderForwarder(deps.nodeId, limits.maxForwardedInFlight, forwardingTls(deps.tls));
  const router = new LeaderRouter({
    forwarder,
    members: () => deps.members(),
    pollIntervalMs: limits.leaderPollIntervalMs,
    isLeader: () => deps.node.host.role === 'leader',
  });
  const service = new ReplicaService(deps.node, metrics, limits.leaderPollIntervalMs, deps.auth?.enabled !== true);
  const clientStreams = new ClientStreamQuota(limits.maxWatchersPerClient);
  // --auth (server/auth/): bearer tokens checked against the replicated auth table.
  const auth = new AuthGate(
    deps.auth?.enabled === true,
    () => deps.node.kv.auth,
    { ratePerSecond: limits.tokenRequestsPerSecond, burst: limits.tokenBurst, maxBuckets: limits.maxTokenBuckets },
    () => service.readBarrier(Deadline.afterMs(limits.defaultTimeoutMs)),
  );
  const bootstrapHash = deps.auth?.bootstrapTokenHash;
  const bootstrapper =
    bootstrapHash === undefined
      ? null
      : new AuthBootstrapper({ node: deps.node, tokenHash: bootstrapHash, logger: deps.logger, intervalMs: limits.leaderPollIntervalMs * 4 });
  const context: ServerContext = { deps, limits, metrics, service, router, clientStreams, auth };
  // Requests waiting for a lock or an election, and election observers, follow this replica's log.
  const lockWaiters = new LockWaiters(deps.node.kv);
  const electionObservers = new ElectionObservers(deps.node.kv, limits.watchProgressIntervalMs);

  capClientConnections(app, limits.maxClientConnections);
  if (deps.tls !== undefined) logTlsHandshakeFailures(app.server, app.log);
  installValidation(app as unknown as FastifyInstance);
  installErrorHandlers(app as unknown as FastifyInstance, limits.retryAfterSeconds);
  const lifecycle = { closing: false };
  installCommonHeaders(app, context, lifecycle);
  auth.install(app as unknown as FastifyInstance, context);
  app.addSchema(ErrorBodySchema);
  app.addSchema(KeyValueSchema);

  registerOpenApi(app as unknown as FastifyInstance);
  // Routes go in a plugin loaded after swagger, so swagger's onRoute hook sees every one of them.
  void app.register(async (instance) => {
    const routes = instance as ConcordApp;
    registerOpsRoutes(routes, context);
    registerKvRoutes(routes, context);
    registerTxnRoutes(routes, context);
    registerLeaseRoutes(routes, context);
    registerClusterRoutes(routes, context);
    registerMembershipRoutes(routes, context);
    registerWatchRoutes(routes, context);
    registerRegistryRoutes(routes, context);
    registerLockRoutes(routes, context, lockWaiters);
    registerElectionRoutes(routes, context, lockWaiters, electionObservers);
    registerMaintenanceRoutes(routes, context);
    registerAuthRoutes(routes, context);
  });

  return {
    app: app as unknown as FastifyInstance,
    metrics,
    async close() {
      lifecycle.closing = true;
      metrics.stop();
      bootstrapper?.stop();
      const cutOff = setTimeout(() => app.server.closeAllConnections(), limits.shutdownGraceMs);
      try {
        await app.close();
      } finally {
        clearTimeout(cutOff);
        lockWaiters.close();
        electionObservers.close();
        await forwarder.close();
      }
    },
  };
}

/**
 * Node's own cap on open client connections: beyond it the listener closes new ones at once
 * (its 'drop' event), which is cheaper than any answer; logged at most once a second.
 */
function capClientConnections(app: ConcordApp, maxConnections: number): void {
  app.server.maxConnections = maxConnections;
  let lastLoggedMs = 0;
  let droppedSinceLog = 0;
  app.server.on('drop', (dropped?: { remoteAddress?: string }) => {
    droppedSinceLog += 1;
    const nowMs = Date.now();
    if (nowMs - lastLoggedMs < 1000) return;
    app.log.warn({ maxConnections, dropped: droppedSinceLog, remote: dropped?.remoteAddress }, 'client connection limit reached: closing new connections');
    lastLoggedMs = nowMs;
    droppedSinceLog = 0;
  });
}

/**
 * Probes whose 503 is their answer (not ready yet, shutting down), not a failure: the local
 * cluster and orchestrators poll /ready while a cluster forms, and warning on each poll buries
 * the real failures. They get the debug line like any other request.
 */
const PROBE_ROUTES: ReadonlySet<string> = new Set(['/health', '/ready']);

/**
 * x-concord-node on every answer, x-concord-leader when a leader is known, request metrics, and
 * 503 unavailable (contract shape, retry-after) for requests that arrive while shutting down.
 *
 * The hooks take fastify's `done` callback rather than being async: fastify runs an async hook's
 * continuation on a microtask, and these three run on every request.
 */
function installCommonHeaders(app: ConcordApp, context: ServerContext, lifecycle: { readonly closing: boolean }): void {
  const { node, nodeId } = context.deps;
  app.addHook('onRequest', (_request, reply, done) => {
    if (!lifecycle.closing) {
      done();
      return;
    }
    reply.header('connection', 'close');
    done(new ConcordError('unavailable', 'node is shutting down'));
  });
  app.addHook('onSend', (request, reply, payload, done) => {
    reply.header('x-concord-node', nodeId);
    reply.header('x-request-id', request.id);
    const leader = node.host.raft.leader;
    if (leader !== '' && !reply.hasHeader('x-concord-leader')) reply.header('x-concord-leader', leader);
    done(null, payload);
  });
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const elapsedMs = reply.elapsedTime;
    context.metrics.observeHttpRequest(request.method, route, reply.statusCode, elapsedMs / 1000);
    if (reply.statusCode >= 500 && !(reply.statusCode === 503 && PROBE_ROUTES.has(route))) {
      request.log.warn({ method: request.method, url: request.url, status: reply.statusCode, ms: elapsedMs }, 'request failed');
    } else if (context.deps.logger.isLevelEnabled('debug')) {
      request.log.debug({ method: request.method, url: request.url, status: reply.statusCode, ms: elapsedMs }, 'request');
    }
    done();
  });
}
