/**
 * The long-lived outgoing connection to one peer: a bounded send queue, one write per flush,
 * a handshake before any message leaves, and reconnection with capped exponential backoff and
 * jitter (so a restarted cluster does not have every node redial in lockstep).
 *
 * Messages wait in the queue while the connection is down or the socket is backed up; nothing
 * is ever buffered without bound. A peer is 'connected' only after it has answered our
 * handshake with its own, for the expected cluster and node id: until then nothing is sent,
 * so a peer that refuses us does not swallow messages.
 */
import net from 'node:net';
import tls from 'node:tls';
import type { Logger } from 'pino';
import type { Message } from '../raft/messages.ts';
import type { NodeId } from '../raft/types.ts';
import type { Random } from '../common/random.ts';
import { FrameDecoder, encodeHandshakeFrame, encodeMessageFrames } from './frame-codec.ts';
import { SendQueue } from './send-queue.ts';
import { peerConnectOptions, type PeerTlsOptions } from './peer-tls.ts';
import type { TransportStats } from './transport-stats.ts';

export type PeerState = 'connected' | 'connecting' | 'disconnected';

export interface PeerAddress {
  readonly host: string;
  readonly port: number;
}

export interface OutboundPeerOptions {
  readonly localNodeId: NodeId;
  readonly clusterId: string;
  /** Our advertised client URL, sent in our handshake when known. */
  readonly clientUrl?: string;
  readonly peerId: NodeId;
  readonly address: PeerAddress;
  /** The local address outgoing sockets bind to, or null to let the OS choose. */
  readonly localAddress: string | null;
  readonly maxQueuedMessages: number;
  readonly reconnectBaseMs: number;
  readonly reconnectMaxMs: number;
  readonly handshakeTimeoutMs: number;
  readonly maxFrameBytes: number;
  readonly random: Random;
  readonly logger: Logger;
  readonly stats: TransportStats;
  /** Mutual TLS (the peer's certificate must name `peerId`); absent = plain TCP. */
  readonly tls?: PeerTlsOptions;
  readonly onStateChange: (peerId: NodeId, state: PeerState) => void;
  /** The peer's handshake reply carried its advertised client URL. */
  readonly onClientUrl?: (peerId: NodeId, clientUrl: string) => void;
}

export class OutboundPeer {
  private readonly queue: SendQueue<Message>;
  private readonly logger: Logger;
  private socket: net.Socket | null = null;
  private currentState: PeerState = 'disconnected';
  /** Consecutive failed attempts since the last successful handshake; drives the backoff. */
  private failedAttempts = 0;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private handshakeTimer: NodeJS.Timeout | null = null;
  private waitingForDrain = false;
  /** Set while the queue overflows, so one overflow episode logs once, not per message. */
  private overflowing = false;
  private closed = false;

  constructor(private readonly options: OutboundPeerOptions) {
    this.queue = new SendQueue(options.maxQueuedMessages);
    this.logger = options.logger.child({ peer: options.peerId });
  }

  get state(): PeerState {
    return this.currentState;
  }

  get queuedMessages(): number {
    return this.queue.length;
  }

  /** Starts the first connection attempt. */
  start(): void {
    if (!this.closed && this.socket === null && this.reconnectTimer === null) this.connect();
  }

  /**
   * Queues messages and writes them at once (one write per call: NodeHost already batches a
   * Ready's messages into one call, and deferring the write to a later turn of the event loop
   * put that turn's other work — a few hundred microseconds under load — in front of every
   * append and acknowledgement).
   */
  enqueue(messages: readonly Message[]): void {
    if (this.closed) {
      this.options.stats.messagesDroppedOnClose += messages.length;
      return;
    }
    let dropped = 0;
    for (const message of messages) dropped += this.queue.push(message);
    if (dropped > 0) {
      if (!this.overflowing) {
        this.logger.warn({ capacity: this.queue.capacity, state: this.currentState },
          'send queue full, dropping oldest messages');
      }
      this.overflowing = true;
      this.options.stats.messagesDroppedQueueFull += dropped;
    }
    this.flush();
  }

  /** Closes the connection for good, drops what is queued, and clears every timer. */
  async close(): Promise<void> {
    this.closed = true;
    this.clearTimers();
    this.options.stats.messagesDroppedOnClose += this.queue.clear();
    const socket = this.socket;
    if (socket === null || socket.closed) return;
    await new Promise<void>((resolve) => {
      socket.once('close', () => resolve());
      socket.destroy();
    });
  }

  private clearTimers(): void {
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
    if (this.handshakeTimer !== null) clearTimeout(this.handshakeTimer);
    this.reconnectTimer = null;
    this.handshakeTimer = null;
  }

  private setState(state: PeerState): void {
    if (state === this.currentState) return;
    this.currentState = state;
    this.options.onStateChange(this.options.peerId, state);
  }

  private connect(): void {
    const { address, localAddress } = this.options;
    this.setState('connecting');
    const endpoint = { host: address.host, port: address.port, ...(localAddress === null ? {} : { localAddress }) };
    const peerTls = this.options.tls;
    const socket = peerTls === undefined
      ? net.connect(endpoint)
      : tls.connect({ ...endpoint, ...peerConnectOptions(peerTls, this.options.peerId) });
    this.socket = socket;
    this.waitingForDrain = false;
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 10_000);
    // Covers both a connect that hangs (a blackholed host) and a peer that never answers.
    this.handshakeTimer = setTimeout(() => {
      this.logger.warn({ timeoutMs: this.options.handshakeTimeoutMs }, 'handshake timed out');
      socket.destroy();
    }, this.options.handshakeTimeoutMs);
    const decoder = new FrameDecoder(this.options.maxFrameBytes);
    // Over TLS the handshake frame waits for the TLS handshake (and its certificate checks).
    socket.on(peerTls === undefined ? 'connect' : 'secureConnect', () => {
      const { clusterId, localNodeId, clientUrl } = this.options;
      socket.write(encodeHandshakeFrame({
        clusterId,
        nodeId: localNodeId,
        ...(clientUrl === undefined ? {} : { clientUrl }),
      }));
    });
    socket.on('data', (chunk: Buffer) => this.onData(socket, decoder, chunk));
    socket.on('drain', () => {
      this.waitingForDrain = false;
      this.flush();
    });
    socket.on('error', (error) => {
      // While a peer stays down every attempt fails; log the first failure loudly, then quietly.
      const level = this.failedAttempts === 0 ? 'warn' : 'debug';
      this.logger[level]({ err: error, attempt: this.failedAttempts }, 'peer connection error');
    });
    socket.on('close', () => this.onClose(socket));
  }

  /** The peer answers only with its handshake; anything else is a protocol violation. */
  private onData(socket: net.Socket, decoder: FrameDecoder, chunk: Buffer): void {
    const { frames, error } = decoder.push(chunk);
    const [reply, ...rest] = frames;
    const refuse = (reason: string, details: object = {}): void => {
      this.logger.error({ ...details, reason }, 'closing connection to peer');
      socket.destroy();
    };
    if (error !== null) {
      this.options.stats.malformedFrames += 1;
      refuse(error);
    } else if (reply === undefined) {
      return;
    } else if (this.currentState === 'connected' || rest.length > 0 || reply.kind !== 'handshake') {
      refuse('unexpected frame from the peer we dial');
    } else if (reply.handshake.clusterId !== this.options.clusterId) {
      refuse('peer belongs to another cluster', { theirCluster: reply.handshake.clusterId });
    } else if (reply.handshake.nodeId !== this.options.peerId) {
      refuse('peer answered with another node id', { theirNodeId: reply.handshake.nodeId });
    } else {
      if (this.handshakeTimer !== null) clearTimeout(this.handshakeTimer);
      this.handshakeTimer = null;
      this.failedAttempts = 0;
      const peerClientUrl = reply.handshake.clientUrl;
      if (peerClientUrl !== undefined) this.options.onClientUrl?.(this.options.peerId, peerClientUrl);
      this.setState('connected');
      this.logger.info({ address: this.options.address }, 'connected to peer');
      this.flush();
    }
  }

  private onClose(socket: net.Socket): void {
    if (this.socket !== socket) return;
    this.socket = null;
    this.clearTimers();
    if (this.currentState === 'connected') this.logger.warn('connection to peer lost');
    this.setState('disconnected');
    if (this.closed) return;
    const ceilingMs = Math.min(
      this.options.reconnectMaxMs,
      this.options.reconnectBaseMs * 2 ** Math.min(this.failedAttempts, 30),
    );
    // Equal jitter: at least half the backoff, so retries never collapse to zero delay.
    const delayMs = ceilingMs / 2 + this.options.random.float() * (ceilingMs / 2);
    this.failedAttempts += 1;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect();
    }, delayMs);
  }

  /** Sends everything queued as one write (usually one frame), unless the socket is backed up. */
  private flush(): void {
    const socket = this.socket;
    if (socket === null || this.currentState !== 'connected' || this.waitingForDrain) return;
    if (this.queue.length === 0) return;
    const messages = this.queue.take();
    this.overflowing = false;
    const { frames, oversized } = encodeMessageFrames(messages, this.options.maxFrameBytes);
    if (oversized.length > 0) {
      this.options.stats.messagesDroppedOversized += oversized.length;
      this.logger.error(
        { dropped: oversized.length, types: oversized.map((message) => message.type) },
        'messages exceed the frame size limit, dropped',
      );
    }
    if (frames.length === 0) return;
    const bytes = frames.length === 1 ? (frames[0] as Buffer) : Buffer.concat(frames);
    const stats = this.options.stats;
    stats.framesSent += frames.length;
    stats.messagesSent += messages.length - oversized.length;
    stats.bytesSent += bytes.length;
    // Over the high-water mark: stop writing and let the bounded queue absorb the rest.
    if (!socket.write(bytes)) this.waitingForDrain = true;
  }
}
