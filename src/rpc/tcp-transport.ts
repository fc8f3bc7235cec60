/**
 * The production Transport: Raft messages between nodes over TCP, in msgpackr frames
 * (frame-codec.ts). Each node dials one long-lived connection to every peer and sends only on
 * it; it receives on the connections its peers dial in (as etcd's rafthttp keeps one stream per
 * direction). That keeps reconnection one-sided and free of simultaneous-dial races.
 *
 * Best effort, as Transport promises: send() never blocks or throws. Each send() is one write
 * per peer (the caller batches), queued per peer up to `maxQueuedMessagesPerPeer` (oldest dropped beyond it,
 * and counted), and lost if a connection dies with them in flight; Raft retransmits.
 *
 * Limits: frames up to `maxFrameBytes` (default 64 MiB) both ways; a handshake must complete
 * within `handshakeTimeoutMs` (default 5 s); at most `maxPendingConnections` (default 64)
 * inbound connections may be awaiting their handshake; one inbound connection per peer (a
 * newer one replaces the older, which a restarted peer leaves half-open).
 *
 * With `tls` set (--peer-cert/--peer-key/--peer-ca) every connection is mutual TLS
 * (peer-tls.ts): a peer without a certificate from the cluster CA fails the TLS handshake, and
 * one whose certificate names another member than the id it claims is refused and logged.
 * Without it the transport is plain TCP, as before.
 */
import net from 'node:net';
import tls, { type TLSSocket } from 'node:tls';
import { randomInt } from 'node:crypto';
import type { Logger } from 'pino';
import type { Message } from '../raft/messages.ts';
import type { NodeId } from '../raft/types.ts';
import type { Transport } from '../node/transport.ts';
import { ConcordError } from '../common/errors.ts';
import { type Random, SeededRandom } from '../common/random.ts';
import { DEFAULT_MAX_FRAME_BYTES, FRAME_HEADER_BYTES } from './frame-codec.ts';
import { InboundConnection } from './inbound-connection.ts';
import { MAX_CLIENT_URL_LENGTH, parseHandshake } from './message-schema.ts';
import { OutboundPeer, type PeerAddress, type PeerState } from './outbound-peer.ts';
import { peerServerOptions, socketMemberId, type PeerTlsOptions } from './peer-tls.ts';
import { type TransportStats, emptyStats } from './transport-stats.ts';

export type { PeerAddress, PeerState } from './outbound-peer.ts';

export interface TcpTransportOptions {
  readonly nodeId: NodeId;
  readonly clusterId: string;
  /**
   * This node's advertised client URL (--advertise-client), carried in every handshake so that
   * each member learns every other member's HTTP address (for forwarding to the leader).
   */
  readonly clientUrl?: string;
  readonly listenHost: string;
  /** 0 picks an ephemeral port; see {@link TcpTransport.address}. */
  readonly listenPort: number;
  /** Every other member's peer address. Unknown ids are refused at handshake. */
  readonly peers: ReadonlyMap<NodeId, PeerAddress>;
  /** Receives each validated message from a peer; an exception thrown here is not caught. */
  readonly onMessage: (message: Message) => void;
  readonly logger: Logger;
  /** Jitter for reconnect backoff; seeded from crypto when absent. */
  readonly random?: Random;
  readonly maxQueuedMessagesPerPeer: number;
  readonly reconnectBaseMs: number;
  readonly reconnectMaxMs: number;
  readonly maxFrameBytes?: number;
  readonly handshakeTimeoutMs?: number;
  readonly maxPendingConnections?: number;
  /**
   * The address outgoing connections bind to, so peers see our peer host as the source.
   * Defaults to `listenHost`, or to the OS's choice when listening on a wildcard address.
   */
  readonly localAddress?: string;
  /** Mutual TLS between peers; absent = plain TCP. */
  readonly tls?: PeerTlsOptions;
  /** Notified on every peer state change (for metrics and logs). */
  readonly onPeerStateChange?: (peerId: NodeId, state: PeerState) => void;
  /** Notified when a peer's advertised client URL is learned or changes. */
  readonly onPeerClientUrl?: (peerId: NodeId, clientUrl: string) => void;
  /**
   * Notified when the live connection a peer dialed in (the one it sends us Raft messages on)
   * closes and no newer one replaced it: usually the peer's process died, as its kernel closes
   * its sockets. Not called for our own close().
   */
  readonly onPeerGone?: (peerId: NodeId) => void;
}

const WILDCARD_HOSTS: ReadonlySet<string> = new Set(['', '0.0.0.0', '::']);

function invalid(message: string): ConcordError {
  return new ConcordError('invalid_argument', `TcpTransport: ${message}`);
}

function validate(options: TcpTransportOptions, maxFrameBytes: number): void {
  const positive = (value: number): boolean => Number.isSafeInteger(value) && value > 0;
  if (options.nodeId.length === 0) throw invalid('nodeId is empty');
  if (options.peers.has(options.nodeId)) throw invalid('peers must not include this node');
  if (options.clientUrl !== undefined && !parseHandshake({ clusterId: options.clusterId, nodeId: options.nodeId, clientUrl: options.clientUrl }).ok) {
    throw invalid(`clientUrl must be an http(s) URL of at most ${MAX_CLIENT_URL_LENGTH} characters`);
  }
  if (!positive(options.maxQueuedMessagesPerPeer)) {
    throw invalid('maxQueuedMessagesPerPeer must be > 0');
  }
  if (!positive(options.reconnectBaseMs)) throw invalid('reconnectBaseMs must be > 0');
  if (!(options.reconnectMaxMs >= options.reconnectBaseMs)) {
    throw invalid('reconnectMaxMs < reconnectBaseMs');
  }
  const frameBytesValid = maxFrameBytes > FRAME_HEADER_BYTES && maxFrameBytes <= 0xffff_ffff;
  if (!positive(maxFrameBytes) || !frameBytesValid) {
    throw invalid('maxFrameBytes out of range');
  }
}

export class TcpTransport implements Transport {
  private readonly logger: Logger;
  private readonly random: Random;
  private readonly maxFrameBytes: number;
  private readonly handshakeTimeoutMs: number;
  private readonly maxPendingConnections: number;
  private readonly localAddress: string | null;
  private readonly counters: TransportStats = emptyStats();
  private readonly outbound = new Map<NodeId, OutboundPeer>();
  private readonly addresses = new Map<NodeId, PeerAddress>();
  /** The client URL each peer last advertised in a handshake (either direction). */
  private readonly clientUrls = new Map<NodeId, string>();
  /** Accepted connections still awaiting their handshake. */
  private readonly pending = new Set<InboundConnection>();
  /** Invariant: holds only authenticated connections, keyed by their peer id. */
  private readonly inbound = new Map<NodeId, InboundConnection>();
  private server: net.Server | null = null;
  private started = false;
  private closed = false;

  constructor(private readonly options: TcpTransportOptions) {
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    validate(options, this.maxFrameBytes);
    this.logger = options.logger.child({ component: 'rpc', nodeId: options.nodeId });
    this.random = options.random ?? new SeededRandom(randomInt(0, 2 ** 32));
    this.handshakeTimeoutMs = options.handshakeTimeoutMs ?? 5_000;
    this.maxPendingConnections = options.maxPendingConnections ?? 64;
    this.localAddress =
      options.localAddress ?? (WILDCARD_HOSTS.has(options.listenHost) ? null : options.listenHost);
    for (const [peerId, address] of options.peers) this.addPeer(peerId, address);
  }

  /** Listens for peers and starts dialing every peer. */
  async start(): Promise<void> {
    if (this.started || this.closed) {
      throw new ConcordError('internal', 'TcpTransport: start() after start() or close()');
    }
    this.started = true;
    const server = this.createListener();
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: this.options.listenHost, port: this.options.listenPort }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (error) => this.logger.error({ err: error }, 'listener error'));
    this.logger.info({ address: this.address() }, 'rpc transport listening');
    for (const peer of this.outbound.values()) peer.start();
  }

  /** A TCP listener, or a TLS one that requires and verifies peer certificates. */
  private createListener(): net.Server {
    const peerTls = this.options.tls;
    if (peerTls === undefined) return net.createServer((socket) => this.accept(socket));
    const server = tls.createServer(
      { ...peerServerOptions(peerTls), handshakeTimeout: this.handshakeTimeoutMs },
      (socket) => this.accept(socket, socketMemberId(socket)),
    );
    // A peer without a certificate from the cluster CA (or none at all) ends here.
    server.on('tlsClientError', (error, socket: TLSSocket) => {
      this.counters.connectionsRefused += 1;
      this.logger.warn({ remote: `${socket.remoteAddress}:${socket.remotePort}`, reason: error.message },
        'refused inbound connection: TLS handshake failed');
    });
    return server;
  }

  /** The address actually listened on (the real port when listenPort was 0). */
  address(): PeerAddress {
    const address = this.server?.address();
    if (address === null || address === undefined || typeof address === 'string') {
      throw new ConcordError('internal', 'TcpTransport: not listening');
    }
    return { host: address.address, port: address.port };
  }

  send(messages: readonly Message[]): void {
    if (this.closed) {
      this.counters.messagesDroppedOnClose += messages.length;
      return;
    }
    const byPeer = new Map<NodeId, Message[]>();
    for (const message of messages) {
      const batch = byPeer.get(message.to);
      if (batch === undefined) byPeer.set(message.to, [message]);
      else batch.push(message);
    }
    for (const [peerId, batch] of byPeer) {
      const peer = this.outbound.get(peerId);
      if (peer === undefined) {
        this.counters.messagesDroppedUnknownPeer += batch.length;
        this.logger.warn(
          { to: peerId, count: batch.length },
          'dropping messages to an unknown peer',
        );
      } else {
        peer.enqueue(batch);
      }
    }
  }

  /**
   * Replaces the peer map (membership changed, or addresses became known): removed peers and
   * peers with a new address lose their connections; new ones are dialed.
   */
  setPeers(peers: ReadonlyMap<NodeId, PeerAddress>): void {
    if (this.closed) return;
    if (peers.has(this.options.nodeId)) throw invalid('peers must not include this node');
    for (const [peerId, address] of [...this.addresses]) {
      const next = peers.get(peerId);
      if (next !== undefined && next.host === address.host && next.port === address.port) continue;
      this.removePeer(peerId, next === undefined);
    }
    for (const [peerId, address] of peers) {
      if (this.addresses.has(peerId)) continue;
      this.addPeer(peerId, address);
      if (this.started) this.outbound.get(peerId)?.start();
    }
  }

  /** The peers dialed now and where. */
  peerAddresses(): Map<NodeId, PeerAddress> {
    return new Map(this.addresses);
  }

  /** Each peer's outgoing connection state. */
  peerStates(): Map<NodeId, PeerState> {
    return new Map([...this.outbound].map(([peerId, peer]) => [peerId, peer.state]));
  }

  /** The client URL `peerId` last advertised, once a handshake with it has completed. */
  peerClientUrl(peerId: NodeId): string | undefined {
    return this.clientUrls.get(peerId);
  }

  /** Every peer's last advertised client URL (peers not yet heard from are absent). */
  peerClientUrls(): Map<NodeId, string> {
    return new Map(this.clientUrls);
  }

  /** Authenticated inbound connections: peer id to the address the peer connected from. */
  inboundPeers(): Map<NodeId, string> {
    return new Map(
      [...this.inbound].map(([peerId, connection]) => [peerId, connection.remoteAddress]),
    );
  }

  /** A snapshot of the counters. */
  stats(): TransportStats {
    return { ...this.counters };
  }

  /** Closes every connection and the listener, clears every timer; idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const closing: Promise<void>[] = [];
    for (const peer of this.outbound.values()) closing.push(peer.close());
    for (const connection of [...this.pending, ...this.inbound.values()]) {
      closing.push(connection.close());
    }
    const server = this.server;
    if (server !== null && server.listening) {
      closing.push(new Promise<void>((resolve) => server.close(() => resolve())));
    }
    await Promise.all(closing);
    this.logger.info('rpc transport closed');
  }

  private addPeer(peerId: NodeId, address: PeerAddress): void {
    this.addresses.set(peerId, address);
    this.outbound.set(peerId, new OutboundPeer({
      localNodeId: this.options.nodeId,
      clusterId: this.options.clusterId,
      ...(this.options.clientUrl === undefined ? {} : { clientUrl: this.options.clientUrl }),
      peerId,
      address,
      localAddress: this.localAddress,
      maxQueuedMessages: this.options.maxQueuedMessagesPerPeer,
      reconnectBaseMs: this.options.reconnectBaseMs,
      reconnectMaxMs: this.options.reconnectMaxMs,
      handshakeTimeoutMs: this.handshakeTimeoutMs,
      maxFrameBytes: this.maxFrameBytes,
      random: this.random,
      logger: this.logger,
      stats: this.counters,
      ...(this.options.tls === undefined ? {} : { tls: this.options.tls }),
      onStateChange: (id, state) => this.options.onPeerStateChange?.(id, state),
      onClientUrl: (id, url) => this.learnClientUrl(id, url),
    }));
  }

  private learnClientUrl(peerId: NodeId, clientUrl: string): void {
    // Only members may teach us a URL (the handshake has already checked the id is a peer).
    if (!this.addresses.has(peerId) || this.clientUrls.get(peerId) === clientUrl) return;
    this.clientUrls.set(peerId, clientUrl);
    this.logger.info({ peer: peerId, clientUrl }, 'learned peer client URL');
    this.options.onPeerClientUrl?.(peerId, clientUrl);
  }

  private removePeer(peerId: NodeId, dropInbound: boolean): void {
    this.addresses.delete(peerId);
    if (dropInbound) this.clientUrls.delete(peerId);
    void this.outbound.get(peerId)?.close();
    this.outbound.delete(peerId);
    if (dropInbound) void this.inbound.get(peerId)?.close();
  }

  /** `certificateMemberId`: with TLS, the member id the peer's verified certificate names. */
  private accept(socket: net.Socket, certificateMemberId?: string | null): void {
    if (this.closed || this.pending.size >= this.maxPendingConnections) {
      this.counters.connectionsRefused += 1;
      this.logger.warn({ remote: socket.remoteAddress, pending: this.pending.size },
        'refused inbound connection: too many awaiting handshake');
      socket.destroy();
      return;
    }
    const connection = new InboundConnection(socket, {
      localNodeId: this.options.nodeId,
      clusterId: this.options.clusterId,
      ...(this.options.clientUrl === undefined ? {} : { clientUrl: this.options.clientUrl }),
      handshakeTimeoutMs: this.handshakeTimeoutMs,
      maxFrameBytes: this.maxFrameBytes,
      logger: this.logger,
      stats: this.counters,
      ...(certificateMemberId === undefined ? {} : { certificateMemberId }),
      isKnownPeer: (nodeId) => this.addresses.has(nodeId),
      onAuthenticated: (authenticated) => this.onAuthenticated(authenticated),
      onMessage: (message) => this.options.onMessage(message),
      onClose: (closed) => {
        this.pending.delete(closed);
        if (closed.peerId !== null && this.inbound.get(closed.peerId) === closed) {
          this.inbound.delete(closed.peerId);
          if (!this.closed) this.options.onPeerGone?.(closed.peerId);
        }
      },
    });
    this.pending.add(connection);
  }

  private onAuthenticated(connection: InboundConnection): void {
    const peerId = connection.peerId;
    if (peerId === null) return;
    this.pending.delete(connection);
    if (connection.peerClientUrl !== null) this.learnClientUrl(peerId, connection.peerClientUrl);
    const previous = this.inbound.get(peerId);
    this.inbound.set(peerId, connection);
    // A restarted peer's old connection may linger half-open; the newest one is the live one.
    if (previous !== undefined) void previous.close();
  }
}
