/**
 * Per-client resource limits of the HTTP server (src/server/limits.ts): streams per client
 * address (watch, service watch and election observe share the bound; 429 `overloaded` in the
 * contract's shape beyond it, and room again once a stream closes), and the cap on client
 * connections (a connection beyond it is closed before any request is read).
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { call, sleep, TestCluster } from './cluster-harness.ts';
import { SseStream } from './sse-client.ts';

let cluster: TestCluster | null = null;
const streams: SseStream[] = [];
const sockets: net.Socket[] = [];

afterEach(async () => {
  for (const stream of streams.splice(0)) stream.close();
  for (const socket of sockets.splice(0)) socket.destroy();
  await cluster?.stop();
  cluster = null;
});

async function open(url: string, path: string): Promise<SseStream> {
  const stream = await SseStream.open(url, path);
  streams.push(stream);
  return stream;
}

/** Waits (bounded) until `check` holds. */
async function eventually(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(20);
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('streams per client', () => {
  it('answers 429 overloaded to a client past maxWatchersPerClient, counting every kind of stream, and admits it again once one closes', async () => {
    cluster = await TestCluster.start({ limits: { maxWatchersPerClient: 3 } });
    const leader = await cluster.waitForLeader();
    const watch = await open(leader.url, '/v1/watch?prefix=a/');
    const observe = await open(leader.url, '/v1/elections/limits-test/observe');
    const services = await open(leader.url, '/v1/services/api/watch');
    expect([watch.status, observe.status, services.status]).toEqual([200, 200, 200]);
    const refused = await call(leader.url, 'GET', '/v1/watch?prefix=b/');
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({ error: { code: 'overloaded' } });
    expect(refused.body.error.message).toContain('streams open on this node');
    expect(refused.headers['retry-after']).toBe('1');
    // Another node keeps its own count: the same client may still watch there.
    const other = cluster.members.find((member) => member.id !== leader.id);
    if (other === undefined) throw new Error('no other member');
    expect((await open(other.url, '/v1/watch?prefix=a/')).status).toBe(200);
    // Closing one stream frees a place on the first node.
    watch.close();
    await eventually(async () => {
      const again = await open(leader.url, '/v1/watch?prefix=c/');
      return again.status === 200;
    }, 'a place after a stream closed');
  });

  it('does not count streams refused for another reason against the client', async () => {
    cluster = await TestCluster.start({ limits: { maxWatchersPerClient: 1 }, kv: { historyMaxEvents: 2 } });
    const leader = await cluster.waitForLeader();
    for (let i = 1; i <= 5; i++) await call(leader.url, 'PUT', `/v1/kv/c/${i}`, { json: { value: `v${i}` } });
    // A bad revision is refused by validation; a compacted one after the stream was admitted:
    // neither may keep the client's only place.
    for (let attempt = 0; attempt < 3; attempt++) {
      expect((await call(leader.url, 'GET', '/v1/watch?prefix=a/&fromRevision=-1')).status).toBe(400);
      expect((await call(leader.url, 'GET', '/v1/watch?prefix=c/&fromRevision=1')).status).toBe(410);
    }
    await eventually(async () => (await open(leader.url, '/v1/watch?prefix=a/')).status === 200, 'the one stream');
  });
});

describe('client connections per node', () => {
  it('closes connections beyond maxClientConnections before reading a request, and accepts again when one goes', async () => {
    cluster = await TestCluster.start({ limits: { maxClientConnections: 2 } });
    const leader = await cluster.waitForLeader();
    const { hostname, port } = new URL(leader.url);
    const connect = async (): Promise<net.Socket> => {
      const socket = net.connect({ host: hostname, port: Number(port) });
      sockets.push(socket);
      socket.on('error', () => undefined);
      await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
      return socket;
    };
    const first = await connect();
    await connect();
    await sleep(50);
    const third = await connect();
    // The server closes it without a word.
    const closedWith = await new Promise<string>((resolve) => {
      let received = '';
      third.on('data', (chunk: Buffer) => (received += chunk.toString()));
      third.once('close', () => resolve(received));
      third.write('GET /health HTTP/1.1\r\nhost: x\r\n\r\n');
    });
    expect(closedWith).toBe('');
    // The first two still work, and once one goes a new connection is served.
    first.destroy();
    await eventually(async () => (await call(leader.url, 'GET', '/health').catch(() => ({ status: 0 }))).status === 200, 'a new connection served');
  });
});
