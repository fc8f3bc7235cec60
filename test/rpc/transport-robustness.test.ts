/**
 * A listening TcpTransport fed hostile bytes: random garbage, plausible headers followed by
 * garbage, valid frames truncated or corrupted, handshakes for the wrong cluster or id. Each
 * bad connection must be closed on its own while the process stays up, the listener keeps
 * accepting, and a valid peer's messages keep getting through after every attempt.
 */
import net from 'node:net';
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Message } from '../../src/raft/messages.ts';
import { DEFAULT_MAX_FRAME_BYTES, FRAME_VERSION, encodeHandshakeFrame, encodeMessageFrame } from '../../src/rpc/frame-codec.ts';
import type { PeerAddress } from '../../src/rpc/tcp-transport.ts';
import { messageArb } from './message-fixtures.ts';
import { NodeRegistry, type TestNode, connectAll, heartbeat } from './transport-harness.ts';

const FEED_TIMEOUT_MS = 5_000;
const nodes = new NodeRegistry();
let listener: TestNode;
let validPeer: TestNode;

beforeAll(async () => {
  listener = await nodes.start('l');
  validPeer = await nodes.start('v');
  await connectAll([listener, validPeer]);
  // 'fuzz' is a known id, so hostile bytes can also arrive after a handshake that passes.
  // Its address is a closed port: the listener's dials to it fail, which is harmless here.
  listener.transport.setPeers(
    new Map([['v', validPeer.transport.address()], ['fuzz', { host: '127.0.0.1', port: 1 }]]),
  );
});
afterAll(() => nodes.closeAll());

/** Connects, writes the chunks, half-closes, and resolves once the listener has let go. */
async function feed(address: PeerAddress, chunks: readonly Uint8Array[]): Promise<void> {
  const socket = net.connect({ host: address.host, port: address.port });
  // The listener may reset the connection while we are still writing; that is the point.
  socket.on('error', () => {});
  // Read (and ignore) the listener's handshake reply: a paused socket never sees the FIN.
  socket.resume();
  let timer: NodeJS.Timeout | undefined;
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error('hostile connection never closed')), FEED_TIMEOUT_MS);
  });
  try {
    await Promise.race([
      new Promise<void>((resolve) => socket.once('connect', () => resolve())),
      closed.then(() => {
        throw new Error('listener stopped accepting connections');
      }),
      timeout,
    ]);
    for (const chunk of chunks) socket.write(chunk);
    socket.end();
    await Promise.race([closed, timeout]);
  } finally {
    clearTimeout(timer);
    socket.destroy();
  }
}

function split(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b);
  return [...points, bytes.length].map((point, position) => bytes.subarray(points[position - 1] ?? 0, point));
}

const handshake = (clusterId: string, nodeId: string): Buffer => encodeHandshakeFrame({ clusterId, nodeId });
const fuzzMessages = fc.array(messageArb({ from: 'fuzz', to: 'l' }), { minLength: 1, maxLength: 4 });
const garbage = fc.uint8Array({ maxLength: 200 });

const packr = new Packr({ useRecords: false });

/** A frame whose length field matches its payload, as a real peer would write it. */
function wellFramed(kind: number, payload: Uint8Array): Buffer {
  const header = Buffer.alloc(6);
  header.writeUInt32BE(payload.length + 2, 0);
  header.writeUInt8(FRAME_VERSION, 4);
  header.writeUInt8(kind, 5);
  return Buffer.concat([header, payload]);
}

/** Well-formed msgpack that is not a handshake or a message batch: wrong shapes, wrong types. */
const wrongShapeArb: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.array(fc.record({ type: fc.constantFrom('heartbeat', 'append', 'vote', 'nonsense'), from: fc.jsonValue({ maxDepth: 1 }), to: fc.jsonValue({ maxDepth: 1 }), term: fc.oneof(fc.double(), fc.string(), fc.constant(-1)) }), { maxLength: 3 }),
  fc.record({ clusterId: fc.oneof(fc.integer(), fc.constant('test-cluster')), nodeId: fc.oneof(fc.constant(null), fc.string()) }),
);

const hostileStreams: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.uint8Array({ minLength: 1, maxLength: 400 }),
  fc
    .tuple(fc.nat(600), fc.constantFrom(FRAME_VERSION, 0, 2, 255), fc.constantFrom(1, 2, 9), garbage)
    .map(([length, version, kind, rest]) => {
      const header = Buffer.alloc(6);
      header.writeUInt32BE(length, 0);
      header.writeUInt8(version, 4);
      header.writeUInt8(kind, 5);
      return Buffer.concat([header, rest]);
    }),
  fc.tuple(fuzzMessages, fc.nat(), garbage).map(([messages, cut, rest]) => {
    const frame = encodeMessageFrame(messages);
    return Buffer.concat([handshake('test-cluster', 'fuzz'), frame.subarray(0, cut % frame.length), rest]);
  }),
  fc.tuple(fuzzMessages, fc.nat(), fc.integer({ min: 1, max: 255 })).map(([messages, position, flip]) => {
    const frame = Buffer.from(encodeMessageFrame(messages));
    const index = position % frame.length;
    frame.writeUInt8((frame.readUInt8(index) ^ flip) & 0xff, index);
    return Buffer.concat([handshake('test-cluster', 'fuzz'), frame]);
  }),
  fc.tuple(fc.constantFrom(['other', 'fuzz'], ['test-cluster', 'stranger'], ['test-cluster', 'l']), fuzzMessages)
    .map(([[clusterId, nodeId], messages]) =>
      Buffer.concat([handshake(clusterId ?? '', nodeId ?? ''), encodeMessageFrame(messages)])),
  fuzzMessages.map((messages) => encodeMessageFrame(messages)),
  // After a handshake that passes: a length field beyond the frame limit (or the u32 ceiling)
  // must be refused on sight, without waiting for (or buffering) the bytes it announces.
  fc.tuple(fc.constantFrom(DEFAULT_MAX_FRAME_BYTES + 1, 0x7fff_ffff, 0xffff_ffff), fc.constantFrom(1, 2), garbage).map(([length, kind, rest]) => {
    const header = Buffer.alloc(6);
    header.writeUInt32BE(length, 0);
    header.writeUInt8(FRAME_VERSION, 4);
    header.writeUInt8(kind, 5);
    return Buffer.concat([handshake('test-cluster', 'fuzz'), header, rest]);
  }),
  // Frames correct in every header byte whose payload is random bytes, or msgpack of the wrong shape.
  fc.tuple(fc.constantFrom(1, 2), fc.uint8Array({ maxLength: 300 })).map(([kind, payload]) =>
    Buffer.concat([handshake('test-cluster', 'fuzz'), wellFramed(kind, payload)])),
  fc.tuple(fc.constantFrom(1, 2), wrongShapeArb).map(([kind, value]) =>
    Buffer.concat([handshake('test-cluster', 'fuzz'), wellFramed(kind, packr.pack(value))])),
  wrongShapeArb.map((value) => wellFramed(1, packr.pack(value))),
);

describe('TcpTransport under hostile input', () => {
  it('survives random and corrupted frames, and keeps serving valid peers', async () => {
    let probe = 0;
    await fc.assert(
      fc.asyncProperty(hostileStreams, fc.array(fc.nat(), { maxLength: 6 }), async (stream, cuts) => {
        await feed(listener.transport.address(), split(stream, cuts));
        probe += 1;
        const context = `probe-${probe}`;
        validPeer.transport.send([heartbeat('v', 'l', context)]);
        await listener.inbox.find(
          (message: Message) => message.from === 'v' && message.type === 'heartbeat' && message.readContext === context,
          `probe ${context} from the valid peer`,
        );
      }),
      { numRuns: 300 },
    );
    expect(listener.transport.stats().malformedFrames).toBeGreaterThan(0);
    expect(listener.transport.stats().connectionsRefused).toBeGreaterThan(0);
    expect(validPeer.transport.peerStates().get('l')).toBe('connected');
  });

  it('closes a connection announcing an oversized frame at once, without waiting for its bytes', async () => {
    const address = listener.transport.address();
    const socket = net.connect({ host: address.host, port: address.port });
    socket.on('error', () => {});
    socket.resume();
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    const header = Buffer.alloc(6);
    header.writeUInt32BE(0xffff_ffff, 0);
    header.writeUInt8(FRAME_VERSION, 4);
    header.writeUInt8(2, 5);
    // No end(): the socket stays open on our side, so only the listener's refusal can close it.
    socket.write(Buffer.concat([handshake('test-cluster', 'fuzz'), header]));
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([closed, new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error('oversized frame did not close the connection')), FEED_TIMEOUT_MS);
      })]);
    } finally {
      clearTimeout(timer);
      socket.destroy();
    }
    validPeer.transport.send([heartbeat('v', 'l', 'after-oversized')]);
    await listener.inbox.find((message) => message.type === 'heartbeat' && message.readContext === 'after-oversized', 'a probe after the oversized frame');
  });

  it('still accepts a newly started valid peer afterwards', async () => {
    const late = await nodes.start('w', { peers: new Map([['l', listener.transport.address()]]) });
    listener.transport.setPeers(new Map([['v', validPeer.transport.address()], ['w', late.transport.address()]]));
    late.transport.send([heartbeat('w', 'l', 'late-arrival')]);
    const arrival = await listener.inbox.find(
      (message) => message.from === 'w',
      'the late peer\'s message',
    );
    expect(arrival).toMatchObject({ readContext: 'late-arrival' });
  });
});
