/**
 * TcpTransport over real loopback sockets on ephemeral ports: delivery both ways, batching,
 * reconnection after a restart, handshake refusals, source-address binding, and the bounds.
 */
import net from 'node:net';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ConcordError } from '../../src/common/errors.ts';
import type { Message } from '../../src/raft/messages.ts';
import { TcpTransport, type TcpTransportOptions } from '../../src/rpc/tcp-transport.ts';
import { messagesDropped } from '../../src/rpc/transport-stats.ts';
import {
  EventLog,
  NodeRegistry,
  connectAll,
  heartbeat,
  peerState,
  received,
  type TestNode,
} from './transport-harness.ts';

const nodes = new NodeRegistry();
afterEach(() => nodes.closeAll());

describe('TcpTransport delivery', () => {
  it('carries messages both ways between two transports', async () => {
    const [a, b] = [await nodes.start('a'), await nodes.start('b')];
    await connectAll([a, b]);
    a.transport.send([heartbeat('a', 'b', 'a-to-b')]);
    b.transport.send([heartbeat('b', 'a', 'b-to-a')]);
    expect(await received(b, 'a-to-b')).toEqual(heartbeat('a', 'b', 'a-to-b'));
    expect(await received(a, 'b-to-a')).toEqual(heartbeat('b', 'a', 'b-to-a'));
    expect(a.transport.stats()).toMatchObject({ framesSent: 1, messagesSent: 1, messagesReceived: 1 });
    expect(a.transport.stats().bytesSent).toBeGreaterThan(0);
    expect(a.transport.peerStates()).toEqual(new Map([['b', 'connected']]));
  });

  it('sends each send() as one frame at once, in order', async () => {
    const [a, b] = [await nodes.start('a'), await nodes.start('b')];
    await connectAll([a, b]);
    const batch = Array.from({ length: 200 }, (_, position) => heartbeat('a', 'b', `m${position}`));
    a.transport.send(batch.slice(0, 150));
    // Written before send() returns: nothing waits for a later turn of the event loop.
    expect(a.transport.stats()).toMatchObject({ framesSent: 1, messagesSent: 150 });
    a.transport.send(batch.slice(150));
    await received(b, 'm199');
    expect(b.inbox.items).toEqual(batch);
    expect(a.transport.stats()).toMatchObject({ framesSent: 2, messagesSent: 200 });
    expect(b.transport.stats()).toMatchObject({ messagesReceived: 200 });
  });

  it('connects three transports pairwise', async () => {
    const trio = [await nodes.start('a'), await nodes.start('b'), await nodes.start('c')];
    await connectAll(trio);
    for (const sender of trio) {
      sender.transport.send(
        trio.filter((peer) => peer !== sender).map((peer) => heartbeat(sender.nodeId, peer.nodeId, sender.nodeId)),
      );
    }
    for (const receiver of trio) {
      for (const sender of trio.filter((peer) => peer !== receiver)) await received(receiver, sender.nodeId);
      expect(receiver.inbox.items).toHaveLength(2);
    }
  });

  it('reconnects to a restarted peer and delivers what was queued meanwhile', async () => {
    const [a, b] = [await nodes.start('a'), await nodes.start('b')];
    await connectAll([a, b]);
    const bAddress = b.transport.address();
    await b.transport.close();
    await peerState(a, 'b', 'disconnected');
    a.transport.send([heartbeat('a', 'b', 'while-down')]);
    const restarted = await nodes.start('b', {
      listenPort: bAddress.port,
      peers: new Map([['a', a.transport.address()]]),
    });
    expect(await received(restarted, 'while-down')).toMatchObject({ from: 'a' });
    await peerState(a, 'b', 'connected');
    restarted.transport.send([heartbeat('b', 'a', 'back')]);
    await received(a, 'back');
  });
});

describe('TcpTransport peer gone', () => {
  it("tells the node when the connection a peer sends on closes (it went away), not at its own close", async () => {
    const goneAtA = new EventLog<string>();
    const goneAtB = new EventLog<string>();
    const a = await nodes.start('a', { onPeerGone: (peer) => goneAtA.push(peer) });
    const b = await nodes.start('b', { onPeerGone: (peer) => goneAtB.push(peer) });
    await connectAll([a, b]);
    a.transport.send([heartbeat('a', 'b', 'hello')]);
    await received(b, 'hello'); // b now holds a's authenticated connection
    await a.transport.close();
    expect(await goneAtB.find((peer) => peer === 'a', "b told that a's connection closed")).toBe('a');
    expect(goneAtA.items).toEqual([]);
    await b.transport.close();
    expect(goneAtB.items).toEqual(['a']);
  });
});

describe('TcpTransport handshake', () => {
  it('refuses a node of another cluster, and logs it', async () => {
    const a = await nodes.start('a');
    const stranger = await nodes.start('c', {
      clusterId: 'other-cluster',
      peers: new Map([['a', a.transport.address()]]),
    });
    a.transport.setPeers(new Map([['c', stranger.transport.address()]]));
    // Until setPeers above, c was also an unknown id: wait for the cluster check specifically.
    const refusal = await a.logs.find(
      (line) => line.msg === 'refused inbound connection' && line['reason'] === 'peer belongs to another cluster',
      'a refusal for the wrong cluster',
    );
    expect(refusal).toMatchObject({ theirCluster: 'other-cluster', theirNodeId: 'c' });
    stranger.transport.send([heartbeat('c', 'a', 'let me in')]);
    expect(a.transport.stats().connectionsRefused).toBeGreaterThanOrEqual(1);
    expect(a.transport.inboundPeers().has('c')).toBe(false);
    expect(stranger.transport.peerStates().get('a')).not.toBe('connected');
    expect(stranger.transport.stats().messagesSent).toBe(0);
  });

  it('refuses a node id missing from the peer map, and logs it', async () => {
    const a = await nodes.start('a');
    const intruder = await nodes.start('x', { peers: new Map([['a', a.transport.address()]]) });
    const refusal = await a.logs.find((line) => line.msg === 'refused inbound connection', 'a refusal');
    expect(refusal).toMatchObject({ reason: 'unknown node id', theirNodeId: 'x', component: 'rpc' });
    expect(a.transport.inboundPeers().size).toBe(0);
    expect(intruder.transport.peerStates().get('a')).not.toBe('connected');
  });

  it('binds outgoing connections to the node\'s own peer host', async () => {
    const a = await nodes.start('a', { listenHost: '127.0.0.11' });
    const b = await nodes.start('b', { listenHost: '127.0.0.12' });
    await connectAll([a, b]);
    expect(b.transport.inboundPeers()).toEqual(new Map([['a', '127.0.0.11']]));
    expect(a.transport.inboundPeers()).toEqual(new Map([['b', '127.0.0.12']]));
  });

  it('learns each peer\'s advertised client URL from the handshakes, both ways', async () => {
    const learned: [string, string, string][] = [];
    const trio = await Promise.all(['a', 'b', 'c'].map((id, position) => nodes.start(id, {
      clientUrl: `http://127.0.0.1:${7001 + position}`,
      onPeerClientUrl: (peer, url) => learned.push([id, peer, url]),
    })));
    await connectAll(trio);
    const [a, b, c] = trio as [TestNode, TestNode, TestNode];
    expect(a.transport.peerClientUrls()).toEqual(new Map([['b', 'http://127.0.0.1:7002'], ['c', 'http://127.0.0.1:7003']]));
    expect(b.transport.peerClientUrl('a')).toBe('http://127.0.0.1:7001');
    expect(c.transport.peerClientUrl('b')).toBe('http://127.0.0.1:7002');
    expect(c.transport.peerClientUrl('zz')).toBeUndefined();
    // Each URL is reported once per learner, however many connections carried it.
    expect(new Set(learned.map((item) => item.join(' '))).size).toBe(learned.length);
    expect(learned).toHaveLength(6);
  });

  it('still connects to a peer that advertises no client URL (an older build)', async () => {
    const a = await nodes.start('a', { clientUrl: 'http://127.0.0.1:7001' });
    const old = await nodes.start('b');
    await connectAll([a, old]);
    expect(a.transport.peerClientUrl('b')).toBeUndefined();
    expect(old.transport.peerClientUrl('a')).toBe('http://127.0.0.1:7001');
    a.transport.send([heartbeat('a', 'b', 'hello-old')]);
    await received(old, 'hello-old');
  });

  it('refuses an invalid own client URL at construction', async () => {
    await expect(nodes.start('a', { clientUrl: 'not a url' })).rejects.toThrow(/clientUrl/);
  });

  it('drops messages whose sender or recipient contradicts the handshake', async () => {
    const [a, b] = [await nodes.start('a'), await nodes.start('b')];
    await connectAll([a, b]);
    const forged: Message = heartbeat('c', 'b', 'forged');
    a.transport.send([forged, heartbeat('a', 'b', 'genuine')]);
    await received(b, 'genuine');
    expect(b.inbox.items.map((message) => message.from)).toEqual(['a']);
    expect(b.transport.stats().messagesDroppedMisaddressed).toBe(1);
    await b.logs.find((line) => line.msg === 'dropping misaddressed message', 'the drop log');
  });
});

describe('TcpTransport bounds', () => {
  it('closes a connection that never sends its handshake', async () => {
    const a = await nodes.start('a', { handshakeTimeoutMs: 100 });
    const { host, port } = a.transport.address();
    const silent = net.connect({ host, port });
    silent.on('error', () => {});
    silent.resume();
    await new Promise<void>((resolve) => silent.once('close', () => resolve()));
    await a.logs.find((line) => line['reason'] === 'no handshake in time', 'the timeout refusal');
    expect(a.transport.stats().connectionsRefused).toBe(1);
  });

  it('rejects inconsistent options', () => {
    const base: TcpTransportOptions = {
      nodeId: 'a', clusterId: 'c', listenHost: '127.0.0.1', listenPort: 0, peers: new Map(),
      onMessage: () => {}, logger: pino({ level: 'silent' }), maxQueuedMessagesPerPeer: 10,
      reconnectBaseMs: 10, reconnectMaxMs: 100,
    };
    const invalid: Partial<TcpTransportOptions>[] = [
      { nodeId: '' },
      { peers: new Map([['a', { host: '127.0.0.1', port: 1 }]]) },
      { maxQueuedMessagesPerPeer: 0 },
      { reconnectBaseMs: 0 },
      { reconnectMaxMs: 5 },
      { maxFrameBytes: 4 },
    ];
    for (const override of invalid) {
      expect(() => new TcpTransport({ ...base, ...override })).toThrow(ConcordError);
    }
  });

  it('keeps only the newest messages for an unreachable peer, counting the rest', async () => {
    const parked = await nodes.start('b');
    const bAddress = parked.transport.address();
    await parked.transport.close();
    const a = await nodes.start('a', { peers: new Map([['b', bAddress]]), maxQueuedMessagesPerPeer: 10 });
    const batch = Array.from({ length: 25 }, (_, position) => heartbeat('a', 'b', `m${position}`));
    a.transport.send(batch);
    expect(a.transport.stats().messagesDroppedQueueFull).toBe(15);
    await a.logs.find((line) => line.msg === 'send queue full, dropping oldest messages', 'overflow log');
    const b = await nodes.start('b', { listenPort: bAddress.port, peers: new Map([['a', a.transport.address()]]) });
    await received(b, 'm24');
    expect(b.inbox.items).toEqual(batch.slice(15));
  });

  it('drops a message too large for any frame and keeps the connection', async () => {
    const a = await nodes.start('a', { maxFrameBytes: 4096 });
    const b = await nodes.start('b');
    await connectAll([a, b]);
    const huge: Message = {
      type: 'snapshot', from: 'a', to: 'b', term: 1, offset: 0, totalBytes: 10_000,
      meta: { index: 1, term: 1, config: { voters: ['a', 'b'], learners: [] } },
      data: new Uint8Array(10_000),
    };
    a.transport.send([huge, heartbeat('a', 'b', 'small')]);
    await received(b, 'small');
    expect(a.transport.stats().messagesDroppedOversized).toBe(1);
    expect(a.transport.peerStates().get('b')).toBe('connected');
  });

  it('cuts off a peer whose frame exceeds the receiver\'s limit, then takes it back', async () => {
    const a = await nodes.start('a');
    const b = await nodes.start('b', { maxFrameBytes: 4096 });
    await connectAll([a, b]);
    const huge: Message = {
      type: 'snapshot', from: 'a', to: 'b', term: 1, offset: 0, totalBytes: 10_000,
      meta: { index: 1, term: 1, config: { voters: ['a', 'b'], learners: [] } },
      data: new Uint8Array(10_000),
    };
    a.transport.send([huge]);
    const failure = await b.logs.find((line) => line.msg === 'malformed frame, closing connection', 'cut off');
    expect(String(failure['reason'])).toMatch(/exceeds the 4096 byte limit/);
    await peerState(a, 'b', 'disconnected');
    await peerState(a, 'b', 'connected');
    a.transport.send([heartbeat('a', 'b', 'after')]);
    await received(b, 'after');
    expect(b.transport.stats().malformedFrames).toBe(1);
  });

  it('drops messages to unknown peers and after close, and closes idempotently', async () => {
    const a = await nodes.start('a');
    a.transport.send([heartbeat('a', 'nobody', 'lost')]);
    await a.transport.close();
    await a.transport.close();
    a.transport.send([heartbeat('a', 'nobody', 'late')]);
    expect(a.transport.stats()).toMatchObject({ messagesDroppedUnknownPeer: 1, messagesDroppedOnClose: 1 });
    expect(messagesDropped(a.transport.stats())).toBe(2);
  });
});
