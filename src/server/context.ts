/**
 * What every route module gets: the caller's dependencies, the limits in force, and the shared
 * machinery (metrics, the promise layer over the node, the leader router). One object, so a
 * route module's signature does not grow with each thing it needs.
 */
import type { FastifyBaseLogger, FastifyInstance, RawReplyDefaultExpression, RawRequestDefaultExpression, RawServerDefault } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { KvNode } from '../node/kv-node.ts';
import type { ServerLimits } from './limits.ts';
import type { LeaderRouter } from './leader-router.ts';
import type { ConcordMetrics, PeerConnectionState } from './metrics.ts';
import type { ReplicaService } from './replica-service.ts';
import type { ClientStreamQuota } from './client-streams.ts';
import type { TlsMaterial } from '../tls/tls-files.ts';
import type { AuthGate } from './auth/auth-gate.ts';

export interface MemberInfo {
  readonly id: string;
  readonly peerAddress: string;
  /** The member's client URL; '' when unknown (then it cannot be forwarded to). */
  readonly clientUrl: string;
  readonly voter: boolean;
}

export interface ServerDeps {
  /** This replica (already started by the caller). */
  readonly node: KvNode;
  readonly clusterId: string;
  readonly nodeId: string;
  readonly logger: import('pino').Logger;
  /** Member table for GET /v1/cluster and forwarding: id, peerAddress, clientUrl (may be '' when unknown), voter. */
  members(): readonly MemberInfo[];
  /** Peer connection states for the peer gauge of /metrics. */
  peerStates?(): Readonly<Record<string, PeerConnectionState>>;
  /** The peer transport's counters, for /metrics. */
  transportStats?(): Readonly<import('../rpc/transport-stats.ts').TransportStats>;
  /**
   * Serve HTTPS with this certificate and key; with `ca`, clients must present a certificate
   * it signed (client-tls.ts). Forwarding to an https:// leader uses them too. Absent = HTTP.
   */
  readonly tls?: TlsMaterial;
  /** Overrides of the server's bounds and timings (see limits.ts). */
  readonly limits?: Partial<ServerLimits>;
  /**
   * `--auth`: every /v1 route needs a bearer token (server/auth/auth-gate.ts). With a bootstrap
   * token's hash, the leader creates the first admin from it while none exists.
   */
  readonly auth?: { readonly enabled: boolean; readonly bootstrapTokenHash?: string };
  /**
   * TEST-ONLY planted bug (hidden flag `serve --test-stale-reads-ms`, see test-plants.ts): when
   * above 0, linearizable key GETs skip ReadIndex and come from a read cache this many ms stale.
   */
  readonly testStaleReadsMs?: number;
}

/** The fastify instance the routes are written against: TypeBox schemas type the requests. */
export type ConcordApp = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

export interface ServerContext {
  readonly deps: ServerDeps;
  readonly limits: ServerLimits;
  readonly metrics: ConcordMetrics;
  readonly service: ReplicaService;
  readonly router: LeaderRouter;
  /** Streams open per client address (limits.maxWatchersPerClient). */
  readonly clientStreams: ClientStreamQuota;
  /** Authentication and authorization (open when auth is off). */
  readonly auth: AuthGate;
}
