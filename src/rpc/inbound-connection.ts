/**
 * One accepted connection: the receiving half of a peer's link to us. The peer must open with
 * a handshake for our cluster naming a node in our peer map, within the handshake timeout;
 * otherwise the connection is refused (closed) and logged. After the handshake we answer with
 * our own, then only accept message frames, and deliver only messages that come from the
 * handshaked node and are addressed to us. Any malformed frame closes this connection alone:
 * the node, the listener and every other connection carry on.
 */
import type net from 'node:net';
import type { Logger } from 'pino';
import type { Message } from '../raft/messages.ts';
import type { NodeId } from '../raft/types.ts';
import { FrameDecoder, encodeHandshakeFrame } from './frame-codec.ts';
import type { Handshake } from './message-schema.ts';
import type { TransportStats } from './transport-stats.ts';

export interface InboundConnectionOptions {
  readonly localNodeId: NodeId;
  readonly clusterId: string;
  /** Our advertised client URL, sent in our handshake reply when known. */
  readonly clientUrl?: string;
  readonly handshakeTimeoutMs: number;
  readonly maxFrameBytes: number;
  readonly logger: Logger;
  readonly stats: TransportStats;
  /**
   * With peer TLS: the member id the peer's verified certificate names (null if none). The id
   * claimed in the handshake must equal it. Absent on plain TCP.
   */
  readonly certificateMemberId?: string | null;
  readonly isKnownPeer: (nodeId: NodeId) => boolean;
  /** Called once the peer's handshake is accepted. */
  readonly onAuthenticated: (connection: InboundConnection) => void;
  readonly onMessage: (message: Message) => void;
  readonly onClose: (connection: InboundConnection) => void;
}

export class InboundConnection {
  /** The handshaked node id; null until the handshake is accepted. */
  private authenticatedPeer: NodeId | null = null;
  private advertisedClientUrl: string | null = null;
  private readonly decoder: FrameDecoder;
  private handshakeTimer: NodeJS.Timeout | null;
  private logger: Logger;

  constructor(
    readonly socket: net.Socket,
    private readonly options: InboundConnectionOptions,
  ) {
    this.decoder = new FrameDecoder(options.maxFrameBytes);
    this.logger = options.logger.child({ remote: `${socket.remoteAddress}:${socket.remotePort}` });
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 10_000);
    this.handshakeTimer = setTimeout(
      () => this.refuse('no handshake in time'),
      options.handshakeTimeoutMs,
    );
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (error) => this.logger.debug({ err: error }, 'inbound connection error'));
    socket.on('close', () => {
      this.clearHandshakeTimer();
      options.onClose(this);
    });
  }

  get peerId(): NodeId | null {
    return this.authenticatedPeer;
  }

  /** The client URL the peer advertised in its handshake, if it sent one. */
  get peerClientUrl(): string | null {
    return this.advertisedClientUrl;
  }

  /** The address the peer connected from (its bound localAddress). */
  get remoteAddress(): string {
    return this.socket.remoteAddress ?? '';
  }

  /** Closes the connection; resolves once the socket has closed. */
  async close(): Promise<void> {
    this.clearHandshakeTimer();
    if (this.socket.closed) return;
    await new Promise<void>((resolve) => {
      this.socket.once('close', () => resolve());
      this.socket.destroy();
    });
  }

  private clearHandshakeTimer(): void {
    if (this.handshakeTimer !== null) clearTimeout(this.handshakeTimer);
    this.handshakeTimer = null;
  }

  private refuse(reason: string, details: object = {}): void {
    this.options.stats.connectionsRefused += 1;
    this.logger.warn({ ...details, reason }, 'refused inbound connection');
    this.clearHandshakeTimer();
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    if (this.socket.destroyed) return;
    this.options.stats.bytesReceived += chunk.length;
    const { frames, error } = this.decoder.push(chunk);
    for (const frame of frames) {
      if (this.socket.destroyed) return;
      if (frame.kind === 'handshake') {
        this.onHandshake(frame.handshake);
      } else if (this.authenticatedPeer === null) {
        this.refuse('messages before handshake');
      } else {
        this.options.stats.framesReceived += 1;
        this.deliver(this.authenticatedPeer, frame.messages);
      }
    }
    if (error !== null && !this.socket.destroyed) {
      this.options.stats.malformedFrames += 1;
      this.logger.error(
        { reason: error, peer: this.authenticatedPeer },
        'malformed frame, closing connection',
      );
      this.clearHandshakeTimer();
      this.socket.destroy();
    }
  }

  private onHandshake({ clusterId, nodeId, clientUrl }: Handshake): void {
    if (this.authenticatedPeer !== null) {
      this.refuse('second handshake on one connection', { peer: this.authenticatedPeer });
    } else if (clusterId !== this.options.clusterId) {
      this.refuse('peer belongs to another cluster', {
        theirCluster: clusterId,
        theirNodeId: nodeId,
      });
    } else if (nodeId === this.options.localNodeId || !this.options.isKnownPeer(nodeId)) {
      this.refuse('unknown node id', { theirNodeId: nodeId });
    } else if (this.options.certificateMemberId !== undefined && this.options.certificateMemberId !== nodeId) {
      // A valid certificate of one member must not let it speak as another.
      this.refuse('peer certificate names another member than the handshake', {
        theirNodeId: nodeId,
        certificateMemberId: this.options.certificateMemberId,
      });
    } else {
      this.clearHandshakeTimer();
      this.authenticatedPeer = nodeId;
      this.advertisedClientUrl = clientUrl ?? null;
      this.logger = this.logger.child({ peer: nodeId });
      const ownUrl = this.options.clientUrl;
      this.socket.write(encodeHandshakeFrame({
        clusterId,
        nodeId: this.options.localNodeId,
        ...(ownUrl === undefined ? {} : { clientUrl: ownUrl }),
      }));
      this.logger.info({ clientUrl }, 'accepted inbound connection');
      this.options.onAuthenticated(this);
    }
  }

  private deliver(peerId: NodeId, messages: readonly Message[]): void {
    for (const message of messages) {
      // The handshake vouches for the sender; a message claiming another sender is forged or
      // misrouted, and feeding it to Raft would corrupt its view of who said what.
      if (message.from !== peerId || message.to !== this.options.localNodeId) {
        this.options.stats.messagesDroppedMisaddressed += 1;
        this.logger.warn({ from: message.from, to: message.to, type: message.type },
          'dropping misaddressed message');
        continue;
      }
      this.options.stats.messagesReceived += 1;
      this.options.onMessage(message);
      // The handler may close the transport (and so this socket) while we are delivering.
      if (this.socket.destroyed) return;
    }
  }
}
