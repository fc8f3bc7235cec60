/**
 * `concord serve`: one Concord node as an operating-system process. It wires the production
 * parts together — WalStorage in the data dir, the TCP peer transport, a KvNode on the system
 * clock with crypto-seeded randomness, the HTTP API — and owns the process's life: the data
 * dir's cluster id (src/maintenance/cluster-id.ts), startup errors that name what is wrong, a
 * graceful shutdown on SIGTERM/SIGINT (a leader hands leadership off first), and a non-zero exit on
 * anything fatal (a failed storage write stops the node; a process that cannot persist must not
 * keep answering).
 *
 * Durability: a write is acknowledged only from the node's apply path, which runs after the
 * storage's synced batch (persist before send, before apply). Nothing here acknowledges
 * anything, so SIGKILL loses no acknowledged write.
 */
import { randomInt } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { pino, type Logger } from 'pino';
import { ConcordError } from '../common/errors.ts';
import { SeededRandom } from '../common/random.ts';
import { SystemClock } from '../common/clock.ts';
import { KvNode } from '../node/kv-node.ts';
import { mostCaughtUpVoter } from '../node/raft-view.ts';
import { readStoredCluster, resolveClusterId, writeStoredCluster } from '../maintenance/cluster-id.ts';
import { DEFAULT_RAFT_CONFIG, validateRaftConfig, type RaftConfig } from '../raft/config.ts';
import type { ClusterConfig, NodeId, PersistedState } from '../raft/types.ts';
import type { RaftEvent } from '../raft/raft-node.ts';
import { initialClusterConfig } from './initial-cluster.ts';
import { EndpointPublisher } from './endpoint-publisher.ts';
import { fetchClusterInfo, requestMembership } from './join.ts';
import { formatHostPort, MemberDirectory } from './member-directory.ts';
import { describeConfig } from '../raft/membership.ts';
import { nextPeerIds } from '../node/peer-set.ts';
import { TcpTransport, type PeerAddress } from '../rpc/tcp-transport.ts';
import { WalStorage } from '../storage/wal-storage.ts';
import { SNAPSHOT_EVERY_BYTES, type ServeOptions } from './serve-options.ts';
import { TimedStorage } from './timed-storage.ts';
import { warnAboutExposure } from './exposure-warning.ts';
import { RUNTIME } from './runtime.ts';
import type { ServerDeps } from '../server/index.ts';

/** 100 ms ticks, elections after 10–20 ticks: etcd's 1 s election timeout, 100 ms heartbeat. */
export const TICK_MS = 100;
/** Raft events worth a log line (the rest are counted in the simulator only). */
const LOGGED_RAFT_EVENTS: ReadonlySet<RaftEvent> = new Set<RaftEvent>([
  'snapshot-sent', 'snapshot-installed', 'check-quorum-step-down', 'leadership-transferred', 'leader-forgotten',
]);
const ELECTION_TICKS = 10;
const HEARTBEAT_TICKS = 1;
const MAX_PENDING_PROPOSALS = 10_000;
const MAX_PENDING_READS = 10_000;
/** How long a graceful shutdown waits for in-flight HTTP requests before closing anyway. */
const HTTP_DRAIN_MS = 5_000;
/** How long a graceful shutdown waits for the last storage write. */
const STORAGE_DRAIN_MS = 5_000;
/**
 * How long a leader that is shutting down waits for the voter it handed leadership to to take
 * over, before it stops anyway (the others then elect a leader after an election timeout).
 */
const LEADERSHIP_HANDOFF_MS = 2_000;

/** The HTTP server as serve drives it (src/server's createHttpServer fits; tests may pass others). */
export interface HttpServerHandle {
  readonly app: { listen(options: { host: string; port: number }): Promise<string> };
  readonly metrics: { observeFsync(seconds: number): void };
  close(): Promise<void>;
}

export type HttpServerFactory = (deps: ServerDeps) => HttpServerHandle;


function isFresh(persisted: PersistedState): boolean {
  return persisted.snapshot === null && persisted.entries.length === 0 && persisted.hardState.term === 0;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Opens and loads the data dir, or throws a ConcordError whose message names it. */
async function openStorage(dataDir: string): Promise<{ storage: WalStorage; persisted: PersistedState }> {
  try {
    await mkdir(dataDir, { recursive: true });
  } catch (error) {
    throw new ConcordError('storage_failure', `cannot create data dir ${dataDir}: ${errorMessage(error)}`, { dataDir });
  }
  const storage = await WalStorage.open(dataDir);
  try {
    return { storage, persisted: await storage.load() };
  } catch (error) {
    await storage.close().catch(() => undefined);
    throw error;
  }
}

export function raftConfigFor(id: NodeId): RaftConfig {
  const config: RaftConfig = { ...DEFAULT_RAFT_CONFIG, id, electionTicks: ELECTION_TICKS, heartbeatTicks: HEARTBEAT_TICKS };
  const problems = validateRaftConfig(config);
  if (problems.length > 0) throw new ConcordError('internal', `raft config: ${problems.join('; ')}`);
  return config;
}

/** The process's logger; runServe adds `clusterId` once it knows the data dir's. */
export function makeLogger(options: Pick<ServeOptions, 'id' | 'logLevel'>): Logger {
  return pino({ level: options.logLevel, base: { nodeId: options.id, pid: process.pid } });
}

/**
 * The cluster id this node runs under: the data dir's stored one (an explicit --cluster-id
 * must agree), else the flag's, which is then stored. Throws a ConcordError naming the conflict.
 */
/**
 * The cluster id this node runs under: the one stored in its data dir; else, for a node joining
 * a cluster, that cluster's (an explicit --cluster-id must agree); else --cluster-id.
 */
async function clusterIdOf(options: ServeOptions, joinedClusterId: string | null): Promise<{ clusterId: string; stored: boolean }> {
  const stored = await readStoredCluster(options.dataDir);
  if (stored === null && joinedClusterId !== null && options.clusterIdExplicit && options.clusterId !== joinedClusterId) {
    throw new ConcordError(
      'invalid_argument',
      `the cluster at --join has id ${JSON.stringify(joinedClusterId)}, but --cluster-id is ${JSON.stringify(options.clusterId)}`,
    );
  }
  const flag = { clusterId: joinedClusterId ?? options.clusterId, explicit: options.clusterIdExplicit };
  const clusterId = resolveClusterId(options.dataDir, flag, stored);
  if (stored === null) await writeStoredCluster(options.dataDir, { clusterId });
  return { clusterId, stored: stored !== null };
}

/**
 * A leader about to stop hands leadership to the most caught-up voter first and waits (at most
 * LEADERSHIP_HANDOFF_MS) until another node leads, so a rolling restart costs no election
 * timeout. Requests arriving meanwhile wait for the new leader and are forwarded to it. It stops
 * waiting early if the target's connection to us closes: the target is stopping too (the whole
 * cluster told to stop at once: Ctrl-C on `npm start`, `docker compose down`), and nobody will
 * take over.
 */
async function handOffLeadership(node: KvNode, logger: Logger, isConnected: (peer: NodeId) => boolean): Promise<void> {
  const raft = node.host.raft;
  if (!node.host.isRunning || raft.currentRole !== 'leader') return;
  const target = mostCaughtUpVoter(raft);
  if (target === null) return;
  const fromTerm = raft.currentTerm;
  if (!node.host.transferLeadership(target)) return;
  logger.info({ to: target, term: fromTerm }, `leader shutting down: handing leadership to ${target}`);
  const startedMs = performance.now();
  const movedElsewhere = (): boolean => raft.leader !== '' && raft.leader !== node.id;
  while (!movedElsewhere() && isConnected(target) && performance.now() - startedMs < LEADERSHIP_HANDOFF_MS) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const waitedMs = Math.round(performance.now() - startedMs);
  if (movedElsewhere()) {
    logger.info({ leader: raft.leader, term: raft.currentTerm, fromTerm, waitedMs }, `leadership handed to ${raft.leader} before shutting down`);
  } else if (!isConnected(target)) {
    logger.info({ to: target, waitedMs }, `${target} went away before taking over (stopping too?); shutting down without a hand-off`);
  } else {
    logger.warn({ to: target, waitedMs }, 'leadership did not move before the bound; shutting down anyway');
  }
}

/**
 * Runs a node until a signal or a fatal error; resolves with the process exit code. Startup
 * failures (data dir locked or corrupt, port in use) log and resolve non-zero.
 */
export async function runServe(options: ServeOptions, createHttpServer: HttpServerFactory, logger: Logger = makeLogger(options)): Promise<number> {
  const { id } = options;
  let exitCode: number | null = null;
  let finish: (code: number) => void = () => undefined;
  const finished = new Promise<number>((resolve) => {
    finish = resolve;
  });

  let opened: { storage: WalStorage; persisted: PersistedState };
  try {
    opened = await openStorage(options.dataDir);
  } catch (error) {
    logger.fatal({ err: error, dataDir: options.dataDir }, `cannot use data dir ${options.dataDir}: ${errorMessage(error)}`);
    return 1;
  }
  const { persisted } = opened;
  if (opened.storage.migratedFromFormat !== null) {
    logger.info(
      { dataDir: options.dataDir, entries: persisted.entries.length },
      `data dir migrated from format ${opened.storage.migratedFromFormat}: the Raft log now lives in ${options.dataDir}/wal`,
    );
  }
  const fresh = isFresh(persisted);
  const joining = fresh && options.join !== null;
  let stopping = false;
  const joinOptions = {
    joinUrl: options.join ?? '',
    id,
    peerAddress: formatHostPort(options.advertisePeer),
    clientUrl: options.advertiseClient,
    logger,
    stopped: () => stopping,
    // An https:// cluster is reached as forwarding reaches the leader (server/client-tls.ts).
    ...(options.clientTls === null ? {} : { tls: options.clientTls }),
  };
  const hints = new Map(options.initialCluster);
  let joinedClusterId: string | null = null;
  if (joining) {
    logger.info({ join: options.join }, 'new data dir: joining the cluster at --join');
    try {
      const joined = await fetchClusterInfo(joinOptions);
      joinedClusterId = joined.clusterId;
      for (const [memberId, address] of joined.addresses) hints.set(memberId, address);
    } catch (error) {
      logger.fatal({ err: error, join: options.join }, `cannot join: ${errorMessage(error)}`);
      await opened.storage.close().catch(() => undefined);
      return 1;
    }
  }
  let clusterId: string;
  try {
    const resolved = await clusterIdOf(options, joinedClusterId);
    clusterId = resolved.clusterId;
    logger = logger.child({ clusterId });
    logger.info({ dataDir: options.dataDir }, resolved.stored ? `cluster id ${clusterId} (stored in the data dir)` : `cluster id ${clusterId} (now stored in the data dir)`);
  } catch (error) {
    logger.fatal({ err: error, dataDir: options.dataDir }, `cannot start on data dir ${options.dataDir}: ${errorMessage(error)}`);
    await opened.storage.close().catch(() => undefined);
    return 1;
  }
  const storage = new TimedStorage(opened.storage);
  // A joining node starts with no configuration: it never campaigns, and waits to be added.
  const bootstrap: ClusterConfig = joining ? { voters: [], learners: [] } : initialClusterConfig(options.initialCluster);
  if (joining) {
    logger.info({ members: [...hints.keys()] }, 'starting unconfigured until the cluster adds this node');
  } else if (fresh) {
    logger.info({ members: bootstrap.voters }, 'new data dir: bootstrapping the cluster from --initial-cluster');
  } else {
    logger.info(
      { term: persisted.hardState.term, commit: persisted.hardState.commit, entries: persisted.entries.length,
        snapshotIndex: persisted.snapshot?.meta.index ?? 0 },
      'restarting from the data dir (--initial-cluster is only a hint now)',
    );
  }

  const peers = new Map<NodeId, PeerAddress>([...hints].filter(([peerId]) => peerId !== id));
  let node: KvNode | null = null;
  const transport = new TcpTransport({
    nodeId: id,
    clusterId,
    clientUrl: options.advertiseClient,
    listenHost: options.listenPeer.host,
    listenPort: options.listenPeer.port,
    peers,
    onMessage: (message) => node?.receive(message),
    // A peer's connection closing is how a kill -9 of the leader shows at once: its followers
    // elect a new one within a few ticks instead of an election timeout (RaftNode.leaderGone).
    onPeerGone: (peerId) => node?.peerGone(peerId),
    logger,
    random: new SeededRandom(randomInt(0, 2 ** 32)),
    maxQueuedMessagesPerPeer: 10_000,
    reconnectBaseMs: 50,
    reconnectMaxMs: 2_000,
    // Mutual TLS between peers (--peer-cert/--peer-key/--peer-ca); plain TCP without.
    ...(options.peerTls === null ? {} : { tls: options.peerTls }),
  });

  let shuttingDown = false;
  let http: HttpServerHandle | null = null;
  let nodeStopped = false;

  const directory = new MemberDirectory({
    selfId: id,
    selfPeerAddress: formatHostPort(options.advertisePeer),
    selfClientUrl: options.advertiseClient,
    hints,
    handshakeClientUrl: (memberId) => transport.peerClientUrl(memberId),
  });
  /** Whom the transport dials (peer-set.ts), at the addresses the directory knows. */
  const peersFor = (config: ClusterConfig, committed: boolean, leader: NodeId): Map<NodeId, PeerAddress> => {
    const current = transport.peerAddresses();
    const ids = nextPeerIds(id, config, committed, new Set(current.keys()), [...peers.keys()], leader);
    const { addresses, unreachable } = directory.addressesOf(config, ids, current);
    if (unreachable.length > 0) logger.warn({ members: unreachable }, 'no peer address known for some members');
    return addresses;
  };
  let wasMember = bootstrap.voters.includes(id);
  let publisher: EndpointPublisher | null = null;

  const shutdown = async (code: number, reason: string): Promise<void> => {
    if (shuttingDown) return;
    shuttingDown = true;
    stopping = true;
    publisher?.stop();
    exitCode = code;
    logger.info({ reason }, 'shutting down');
    const isConnected = (peer: NodeId): boolean => transport.inboundPeers().has(peer);
    if (node !== null) await handOffLeadership(node, logger, isConnected).catch((error: unknown) => logger.warn({ err: error }, 'leadership hand-off failed'));
    if (http !== null) {
      const closing = http.close().catch((error: unknown) => logger.warn({ err: error }, 'closing the HTTP server failed'));
      const timedOut = await Promise.race([
        closing.then(() => false),
        new Promise<boolean>((resolve) => setTimeout(() => resolve(true), HTTP_DRAIN_MS).unref()),
      ]);
      if (timedOut) logger.warn({ waitedMs: HTTP_DRAIN_MS }, 'HTTP requests still open after the drain period; closing anyway');
    }
    if (node !== null && !nodeStopped) {
      nodeStopped = true;
      node.stop();
    }
    await transport.close().catch((error: unknown) => logger.warn({ err: error }, 'closing the transport failed'));
    await Promise.race([
      storage.whenIdle(),
      new Promise<void>((resolve) => setTimeout(resolve, STORAGE_DRAIN_MS).unref()),
    ]);
    await storage.close().catch((error: unknown) => logger.warn({ err: error }, 'closing storage failed'));
    logger.info({ exitCode: code }, 'stopped');
    finish(code);
  };

  const fatal = (error: unknown, what: string): void => {
    logger.fatal({ err: error }, `${what}: ${errorMessage(error)}`);
    void shutdown(1, what);
  };

  const onSignal = (signal: NodeJS.Signals): void => {
    if (shuttingDown) {
      logger.warn({ signal }, 'second signal during shutdown: exiting now');
      finish(exitCode === 0 || exitCode === null ? 130 : exitCode);
      return;
    }
    void shutdown(0, signal);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // Started by a launcher over an IPC channel (npm start, the cluster tests): when the launcher
  // goes away, even by SIGKILL, its channel closes, and this node stops rather than linger.
  const onParentGone = (): void => void shutdown(0, 'parent process exited');
  if (process.connected) process.once('disconnect', onParentGone);

  try {
    node = new KvNode({
      raftConfig: raftConfigFor(id),
      bootstrap,
      persisted,
      random: new SeededRandom(randomInt(0, 2 ** 32)),
      clock: new SystemClock(),
      transport,
      storage,
      tickMs: TICK_MS,
      snapshotEveryEntries: options.snapshotEvery,
      snapshotEveryBytes: SNAPSHOT_EVERY_BYTES,
      maxPendingProposals: MAX_PENDING_PROPOSALS,
      maxPendingReads: MAX_PENDING_READS,
      hooks: {
        softStateChanged: (softState, term) => {
          logger.info({ leader: softState.leader === '' ? null : softState.leader, role: softState.role, term }, 'raft state changed');
        },
        restored: (index) => logger.info({ index }, 'state machine restored from a snapshot'),
        raftEvent: (event) => {
          if (LOGGED_RAFT_EVENTS.has(event)) {
            logger.info({ event }, `raft: ${event}`);
          }
        },
        fatal: (error) => {
          nodeStopped = true;
          fatal(error, 'storage write failed, node stopped');
        },
        membershipChanged: (config, committed, leader) => {
          transport.setPeers(peersFor(config, committed, leader));
          logger.info({ voters: config.voters, learners: config.learners, committed }, `membership: ${describeConfig(config)}`);
          const isMember = config.voters.includes(id) || config.learners.includes(id);
          if (wasMember && !isMember) logger.warn('this node was removed from the cluster: it serves nothing more and can be stopped');
          wasMember = isMember;
        },
      },
    });
    transport.setPeers(peersFor(node.host.raft.members, node.host.raft.membershipCommitted, node.host.raft.leader));
    wasMember ||= node.host.raft.members.voters.includes(id) || node.host.raft.members.learners.includes(id);
    await transport.start();
    const runningNode = node;
    runningNode.start();
    publisher = new EndpointPublisher(runningNode, directory, logger);
    publisher.start();
    http = createHttpServer({
      node: runningNode,
      clusterId,
      nodeId: id,
      logger,
      members: () => directory.membersOf(runningNode.host.raft.members),
      peerStates: () => Object.fromEntries(transport.peerStates()),
      // HTTPS (--client-cert/--client-key; client certificates required with --client-ca).
      ...(options.clientTls === null ? {} : { tls: options.clientTls }),
      transportStats: () => transport.stats(),
      // --auth / --auth-bootstrap-token-file / --token-rate-limit (docs/security.md).
      auth: { enabled: options.auth.enabled, ...(options.auth.bootstrapTokenHash === null ? {} : { bootstrapTokenHash: options.auth.bootstrapTokenHash }) },
      limits: { tokenRequestsPerSecond: options.auth.tokenRequestsPerSecond, tokenBurst: Math.max(1, options.auth.tokenRequestsPerSecond) },
      // TEST-ONLY planted bug (hidden --test-stale-reads-ms; 0 = off): see src/server/test-plants.ts.
      ...(options.testStaleReadsMs > 0 ? { testStaleReadsMs: options.testStaleReadsMs } : {}),
    });
    const handle = http;
    storage.onSyncedWrite = (seconds) => handle.metrics.observeFsync(seconds);
    await http.app.listen({ host: options.listenClient.host, port: options.listenClient.port });
    logger.info(
      { listenClient: formatHostPort(options.listenClient), listenPeer: formatHostPort(transport.address()),
        advertiseClient: options.advertiseClient, dataDir: options.dataDir, members: bootstrap.voters,
        clientTls: options.clientTls === null ? 'off' : options.clientTls.ca === undefined ? 'https' : 'https, client certificates required',
        peerTls: options.peerTls === null ? 'off' : 'mutual TLS',
        // compiled (dist/concord) or source (src/ through tsx): bin/concord.js's choice.
        runtime: RUNTIME },
      'concord node started',
    );
    warnAboutExposure({ ...options, authEnabled: options.auth.enabled }, logger);
    if (joining) {
      requestMembership(joinOptions).then(
        (members) => logger.info({ members: members.map((member) => member.id) }, 'joined the cluster: now a voter'),
        (error: unknown) => {
          if (!stopping) fatal(error, 'joining the cluster failed');
        },
      );
    }
  } catch (error) {
    fatal(error, 'startup failed');
  }
  const code = await finished;
  process.off('SIGTERM', onSignal);
  process.off('SIGINT', onSignal);
  process.off('disconnect', onParentGone);
  return code;
}

