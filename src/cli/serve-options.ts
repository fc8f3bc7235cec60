/**
 * The flags of `concord serve` (fixed by the HTTP contract's "Running a node"), each also
 * settable as CONCORD_<FLAG> in upper snake case. Flags win over the environment. Every value is
 * validated here, once, with an error that names the flag — a node never starts half-configured.
 */
import { parseArgs } from 'node:util';
import { ConcordError } from '../common/errors.ts';
import { isMemberId } from '../common/member-id.ts';
import type { PeerTlsOptions } from '../rpc/peer-tls.ts';
import { loadTlsMaterial, type TlsMaterial } from '../tls/tls-files.ts';
import { AUTH_FLAGS, SWITCH_FLAGS, parseAuthOptions, type AuthServeOptions } from './serve-auth-options.ts';

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export interface ServeOptions {
  readonly id: string;
  readonly dataDir: string;
  readonly listenClient: HostPort;
  readonly listenPeer: HostPort;
  readonly advertiseClient: string;
  /** Member id → peer address, from --initial-cluster (a hint once the data dir exists; empty with --join). */
  readonly initialCluster: ReadonlyMap<string, HostPort>;
  /**
   * --join URL: an existing member's client URL. A node with a new data dir asks that cluster
   * to add it (as a learner, promoted once caught up) instead of bootstrapping one.
   */
  readonly join: string | null;
  /** host:port other members dial to reach this node (--advertise-peer, default --listen-peer). */
  readonly advertisePeer: HostPort;
  readonly clusterId: string;
  /** --cluster-id (or CONCORD_CLUSTER_ID) was given, not defaulted: it must match a data dir's stored id. */
  readonly clusterIdExplicit: boolean;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
  /**
   * Not in the contract (a tuning knob): compact the log into a snapshot every this many
   * applied entries. Tests set it low to exercise snapshot catch-up.
   */
  readonly snapshotEvery: number;
  /**
   * TEST-ONLY planted bug, hidden (not in the contract, not in `concord help`): above 0, linearizable
   * key GETs skip ReadIndex and answer from a read cache up to this many ms stale
   * (src/server/test-plants.ts). The chaos tool's test (test/chaos/) sets it to prove its checker
   * catches stale reads. 0 (the default) = off.
   */
  readonly testStaleReadsMs: number;
  /**
   * --client-cert/--client-key (and --client-ca): the client API serves HTTPS; with the CA,
   * clients must present a certificate it signed. null = plain HTTP. The files are read here.
   */
  readonly clientTls: TlsMaterial | null;
  /** --peer-cert/--peer-key/--peer-ca, all three: mutual TLS between peers. null = plain TCP. */
  readonly peerTls: PeerTlsOptions | null;
  /** --auth, --auth-bootstrap-token-file, --token-rate-limit (serve-auth-options.ts). */
  readonly auth: AuthServeOptions;
}

/**
 * Applied entries between snapshots: etcd 3.4's default (--snapshot-count 100,000). A snapshot
 * holds the whole state and the watch history (about 7 MB after a few thousand 100-byte puts),
 * so taking one every 10,000 entries wrote more snapshot than log under load, and each one
 * competed with the log's synced writes for the disk: puts at 64 in flight had a p99 of
 * 84-90 ms every 10,000 entries and 67-71 ms every 100,000 (docs/performance.md).
 */
export const DEFAULT_SNAPSHOT_EVERY = 100_000;

/**
 * Whatever the entry count, a snapshot is also taken once the entries applied since the last one
 * carry this much data: the log, in memory and on disk, stays bounded when values are large
 * (100,000 entries of 1 MiB values would be 100 GiB).
 */
export const SNAPSHOT_EVERY_BYTES = 64 * 1024 * 1024;

interface FlagSpec {
  readonly required: boolean;
  readonly fallback?: string;
}

const FLAGS = {
  id: { required: true },
  'data-dir': { required: true },
  'listen-client': { required: true },
  'listen-peer': { required: true },
  // Required unless --join names a cluster to join.
  'initial-cluster': { required: false },
  join: { required: false },
  'advertise-client': { required: false },
  // Beyond the contract: the peer address others dial when --listen-peer is a wildcard (compose).
  'advertise-peer': { required: false },
  'cluster-id': { required: false, fallback: 'concord' },
  'log-level': { required: false, fallback: 'info' },
  // Tuning beyond the contract's flags; documented in `concord help`.
  'snapshot-every': { required: false, fallback: String(DEFAULT_SNAPSHOT_EVERY) },
  // TEST-ONLY planted bug (see ServeOptions.testStaleReadsMs); hidden from help on purpose.
  'test-stale-reads-ms': { required: false, fallback: '0' },
  // TLS (docs/security.md): PEM file paths.
  'client-cert': { required: false },
  'client-key': { required: false },
  'client-ca': { required: false },
  'peer-cert': { required: false },
  'peer-key': { required: false },
  'peer-ca': { required: false },
  // Authentication (docs/security.md): --auth is a switch.
  ...AUTH_FLAGS,
} as const satisfies Record<string, FlagSpec>;

type FlagName = keyof typeof FLAGS;

/** Every flag `concord serve` accepts, without the leading dashes. */
export const SERVE_FLAGS: readonly string[] = Object.keys(FLAGS);

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;

/** An IPv6 literal goes in brackets in a URL. */
function formatUrlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** Peer TLS is mutual: a certificate, its key and the cluster CA, all three or none. */
function parsePeerTls(cert: string | null, key: string | null, ca: string | null): PeerTlsOptions | null {
  const given = [cert, key, ca].filter((path) => path !== null).length;
  if (given === 0) return null;
  if (given < 3) throw invalid('--peer-cert, --peer-key and --peer-ca must be given together (peer TLS is mutual)');
  const material = loadTlsMaterial('peer', { cert, key, ca });
  if (material?.ca === undefined) throw invalid('--peer-ca is required for peer TLS');
  return { cert: material.cert, key: material.key, ca: material.ca };
}

function invalid(message: string): ConcordError {
  return new ConcordError('invalid_argument', message);
}

export function environmentName(flag: string): string {
  return `CONCORD_${flag.replace(/-/g, '_').toUpperCase()}`;
}

/** Reads `--flag value` / `--flag=value` with node:util's parseArgs; unknown flags are errors. */
function parseFlags(argv: readonly string[]): Map<FlagName, string> {
  const names = Object.keys(FLAGS) as FlagName[];
  let parsed: Record<string, string | boolean | undefined>;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: Object.fromEntries(names.map((name) => [name, { type: SWITCH_FLAGS.has(name) ? ('boolean' as const) : ('string' as const) }])),
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    throw invalid(error instanceof Error ? error.message : String(error));
  }
  const values = new Map<FlagName, string>();
  for (const name of names) {
    const value = parsed[name];
    if (typeof value === 'string') values.set(name, value);
    else if (value === true) values.set(name, 'true');
  }
  return values;
}

export function parseHostPort(flag: string, text: string): HostPort {
  const match = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(text);
  const port = Number(match?.[2]);
  if (match === null || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw invalid(`--${flag} must be host:port with a port in 1..65535, got ${JSON.stringify(text)}`);
  }
  return { host: (match[1] ?? '').replace(/^\[|\]$/g, ''), port };
}

/** `id=host:port,...` (the --initial-cluster syntax); `flag` names the flag in errors. */
export function parseInitialCluster(text: string, flag = 'initial-cluster'): Map<string, HostPort> {
  const members = new Map<string, HostPort>();
  for (const part of text.split(',')) {
    const [id = '', address = ''] = part.split('=');
    if (!isMemberId(id)) throw invalid(`--${flag}: bad member id ${JSON.stringify(id)}`);
    if (members.has(id)) throw invalid(`--${flag}: member ${id} listed twice`);
    members.set(id, parseHostPort(flag, address));
  }
  return members;
}

/** Resolves flags over CONCORD_* variables over defaults, and validates the whole. */
export function parseServeOptions(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): ServeOptions {
  const flags = parseFlags(argv);
  const value = (name: FlagName): string | undefined => {
    const spec: FlagSpec = FLAGS[name];
    return flags.get(name) ?? env[environmentName(name)] ?? spec.fallback;
  };
  const missing = (Object.keys(FLAGS) as FlagName[]).filter((name) => FLAGS[name].required && value(name) === undefined);
  if (missing.length > 0) {
    throw invalid(`missing ${missing.map((name) => `--${name} (or ${environmentName(name)})`).join(', ')}`);
  }
  const id = value('id') ?? '';
  if (!isMemberId(id)) throw invalid(`--id must be 1-64 letters, digits, '.', '_' or '-', got ${JSON.stringify(id)}`);
  const listenClient = parseHostPort('listen-client', value('listen-client') ?? '');
  const join = value('join') ?? null;
  if (join !== null) {
    let url: URL | null = null;
    try {
      url = new URL(join);
    } catch {
      url = null;
    }
    if (url === null || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
      throw invalid(`--join must be an http(s) URL of an existing member, got ${JSON.stringify(join)}`);
    }
  }
  const initialClusterText = value('initial-cluster');
  if (initialClusterText === undefined && join === null) {
    throw invalid(`missing --initial-cluster (or ${environmentName('initial-cluster')}), or --join URL to join an existing cluster`);
  }
  const initialCluster = initialClusterText === undefined ? new Map<string, HostPort>() : parseInitialCluster(initialClusterText);
  if (join === null && !initialCluster.has(id)) throw invalid(`--initial-cluster does not list this node's id ${id}`);
  const listenPeer = parseHostPort('listen-peer', value('listen-peer') ?? '');
  const advertisePeerText = value('advertise-peer');
  const advertisePeer =
    advertisePeerText !== undefined ? parseHostPort('advertise-peer', advertisePeerText) : (initialCluster.get(id) ?? listenPeer);
  const logLevel = value('log-level') ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw invalid(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(logLevel)}`);
  }
  const clientTls = loadTlsMaterial('client', { cert: value('client-cert') ?? null, key: value('client-key') ?? null, ca: value('client-ca') ?? null });
  const peerTls = parsePeerTls(value('peer-cert') ?? null, value('peer-key') ?? null, value('peer-ca') ?? null);
  const advertiseClient = value('advertise-client') ?? `${clientTls === null ? 'http' : 'https'}://${formatUrlHost(listenClient.host)}:${listenClient.port}`;
  try {
    new URL(advertiseClient);
  } catch {
    throw invalid(`--advertise-client must be a URL, got ${JSON.stringify(advertiseClient)}`);
  }
  const snapshotEveryText = value('snapshot-every') ?? String(DEFAULT_SNAPSHOT_EVERY);
  const snapshotEvery = Number(snapshotEveryText);
  if (!/^\d+$/.test(snapshotEveryText) || !Number.isSafeInteger(snapshotEvery) || snapshotEvery < 1) {
    throw invalid(`--snapshot-every must be a positive integer, got ${JSON.stringify(snapshotEveryText)}`);
  }
  const testStaleReadsText = value('test-stale-reads-ms') ?? '0';
  const testStaleReadsMs = Number(testStaleReadsText);
  if (!/^\d+$/.test(testStaleReadsText) || !Number.isSafeInteger(testStaleReadsMs)) {
    throw invalid(`--test-stale-reads-ms must be a non-negative integer, got ${JSON.stringify(testStaleReadsText)}`);
  }
  return {
    id,
    dataDir: value('data-dir') ?? '',
    listenClient,
    listenPeer,
    advertiseClient,
    initialCluster,
    join,
    advertisePeer,
    clusterId: value('cluster-id') ?? 'concord',
    clusterIdExplicit: flags.has('cluster-id') || env[environmentName('cluster-id')] !== undefined,
    logLevel: logLevel as ServeOptions['logLevel'],
    snapshotEvery,
    testStaleReadsMs,
    clientTls,
    peerTls,
    auth: parseAuthOptions(value),
  };
}
