/**
 * Safe defaults: a node whose client or peer listener is reachable beyond this machine (not a
 * loopback address) and that has neither TLS nor authentication on that side says so loudly at
 * start — once, at warn level, naming what anyone on the network can do. It still starts: a
 * private network or a mesh may protect it; the operator decides, knowingly.
 */
import { isIP } from 'node:net';
import type { Logger } from 'pino';
import type { HostPort } from './serve-options.ts';

/** What the warning needs of the node's options. */
export interface ExposureSettings {
  readonly listenClient: HostPort;
  readonly listenPeer: HostPort;
  readonly clientTls: unknown;
  readonly peerTls: unknown;
  /** --auth (bearer tokens on the client API). */
  readonly authEnabled: boolean;
}

/** True for addresses only this machine can reach: 127.0.0.0/8, ::1, localhost. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (bare === 'localhost' || bare === '::1') return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(bare);
  return mapped !== null && (mapped[1] ?? '').startsWith('127.');
}

/** The exposures of a node's settings, each a sentence; empty when there are none. */
export function describeExposures(settings: ExposureSettings): string[] {
  const exposures: string[] = [];
  const client = `${settings.listenClient.host}:${settings.listenClient.port}`;
  const peer = `${settings.listenPeer.host}:${settings.listenPeer.port}`;
  if (!isLoopbackHost(settings.listenClient.host) && settings.clientTls === null && !settings.authEnabled) {
    exposures.push(`the client API on ${client} is plain HTTP without authentication: anyone who can reach it can read and write every key, take any lock and change the membership, and requests travel in clear`);
  }
  if (!isLoopbackHost(settings.listenPeer.host) && settings.peerTls === null) {
    exposures.push(`the peer port ${peer} is plain TCP without certificates: anyone who can reach it and knows a member id and the cluster id can speak Raft as that member, and the replicated data travels in clear`);
  }
  return exposures;
}

/** Logs each exposure at warn level; see docs/security.md for turning TLS and auth on. */
export function warnAboutExposure(settings: ExposureSettings, logger: Logger): void {
  for (const exposure of describeExposures(settings)) {
    logger.warn({ exposure: true, see: 'docs/security.md' }, `SECURITY WARNING: ${exposure}`);
  }
}
