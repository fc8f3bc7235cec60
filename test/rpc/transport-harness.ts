/**
 * Helpers for tests of TcpTransport over real loopback sockets: awaitable event logs (so tests
 * wait for an event, never for a fixed sleep), a pino logger whose lines the test can await,
 * and nodes that are always closed after each test.
 */
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import type { Message } from '../../src/raft/messages.ts';
import type { NodeId } from '../../src/raft/types.ts';
import { SeededRandom } from '../../src/common/random.ts';
import {
  type PeerAddress,
  type PeerState,
  TcpTransport,
  type TcpTransportOptions,
} from '../../src/rpc/tcp-transport.ts';

const DEFAULT_WAIT_MS = 5_000;

interface Waiter<T> {
  readonly predicate: (item: T) => boolean;
  readonly resolve: (item: T) => void;
}

/** Items in arrival order, with promises for items that match a predicate. */
export class EventLog<T> {
  readonly items: T[] = [];
  private waiters: Waiter<T>[] = [];

  push(item: T): void {
    this.items.push(item);
    const ready = this.waiters.filter((waiter) => waiter.predicate(item));
    this.waiters = this.waiters.filter((waiter) => !ready.includes(waiter));
    for (const waiter of ready) waiter.resolve(item);
  }

  /** The first item, past or future, matching `predicate`; rejects after `timeoutMs`. */
  find(predicate: (item: T) => boolean, what: string, timeoutMs = DEFAULT_WAIT_MS): Promise<T> {
    const past = this.items.find(predicate);
    return past !== undefined ? Promise.resolve(past) : this.next(predicate, what, timeoutMs);
  }

  /** The next future item matching `predicate`; rejects after `timeoutMs`. */
  next(predicate: (item: T) => boolean, what: string, timeoutMs = DEFAULT_WAIT_MS): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter<T> = {
        predicate,
        resolve: (item) => {
          clearTimeout(timer);
          resolve(item);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((other) => other !== waiter);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }
}

export interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly [field: string]: unknown;
}

/** A debug-level pino logger whose JSON lines land in an EventLog. */
export function capturingLogger(): { logger: Logger; lines: EventLog<LogLine> } {
  const lines = new EventLog<LogLine>();
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const text of chunk.toString('utf8').split('\n')) {
        if (text.trim() !== '') lines.push(JSON.parse(text) as LogLine);
      }
      callback();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

export interface TestNode {
  readonly nodeId: NodeId;
  readonly transport: TcpTransport;
  readonly inbox: EventLog<Message>;
  readonly states: EventLog<{ peer: NodeId; state: PeerState }>;
  readonly logs: EventLog<LogLine>;
}

export type NodeOverrides = Partial<Omit<TcpTransportOptions, 'nodeId' | 'onMessage' | 'logger'>>;

/** Creates, starts and tracks nodes; `closeAll()` belongs in afterEach. */
export class NodeRegistry {
  private readonly transports: TcpTransport[] = [];

  async start(nodeId: NodeId, overrides: NodeOverrides = {}): Promise<TestNode> {
    const { logger, lines } = capturingLogger();
    const inbox = new EventLog<Message>();
    const states = new EventLog<{ peer: NodeId; state: PeerState }>();
    const transport = new TcpTransport({
      nodeId,
      clusterId: 'test-cluster',
      listenHost: '127.0.0.1',
      listenPort: 0,
      peers: new Map(),
      logger,
      random: new SeededRandom(nodeId.length),
      maxQueuedMessagesPerPeer: 1_000,
      reconnectBaseMs: 10,
      reconnectMaxMs: 100,
      handshakeTimeoutMs: 2_000,
      onMessage: (message) => inbox.push(message),
      onPeerStateChange: (peer, state) => states.push({ peer, state }),
      ...overrides,
    });
    this.transports.push(transport);
    await transport.start();
    return { nodeId, transport, inbox, states, logs: lines };
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.transports.splice(0).map((transport) => transport.close()));
  }
}

/** Resolves once `node`'s outgoing connection to `peer` is in `state`. */
export async function peerState(node: TestNode, peer: NodeId, state: PeerState): Promise<void> {
  if (node.transport.peerStates().get(peer) === state) return;
  await node.states.next((event) => event.peer === peer && event.state === state, `${node.nodeId}→${peer} ${state}`);
}

/** Points every node at every other and waits until all links are connected. */
export async function connectAll(nodes: readonly TestNode[]): Promise<void> {
  const addresses = new Map<NodeId, PeerAddress>(nodes.map((node) => [node.nodeId, node.transport.address()]));
  for (const node of nodes) {
    node.transport.setPeers(new Map([...addresses].filter(([peerId]) => peerId !== node.nodeId)));
  }
  await Promise.all(
    nodes.flatMap((node) =>
      nodes.filter((peer) => peer !== node).map((peer) => peerState(node, peer.nodeId, 'connected')),
    ),
  );
}

export function heartbeat(from: NodeId, to: NodeId, readContext: string): Message {
  return { type: 'heartbeat', from, to, term: 1, commit: 0, readContext };
}

/** Resolves with the heartbeat carrying `readContext` once it reaches `node`. */
export function received(node: TestNode, readContext: string): Promise<Message> {
  return node.inbox.find(
    (message) => message.type === 'heartbeat' && message.readContext === readContext,
    `${node.nodeId} to receive ${readContext}`,
  );
}
