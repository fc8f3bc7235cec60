/**
 * TcpTransport with mutual TLS (--peer-cert/--peer-key/--peer-ca) over loopback: members with
 * certificates from the cluster CA connect and exchange messages; a peer whose certificate comes
 * from another CA, or that has none, is refused at the TLS handshake; a peer whose (valid)
 * certificate names another member than the id it claims is refused, both when it dials in and
 * when it is dialed.
 */
import net from 'node:net';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { encodeHandshakeFrame } from '../../src/rpc/frame-codec.ts';
import type { PeerTlsOptions } from '../../src/rpc/peer-tls.ts';
import { createDevCertificates, type DevCertificates } from '../../src/tls/dev-certs.ts';
import { NodeRegistry, connectAll, heartbeat, peerState, received, type TestNode } from './transport-harness.ts';

const nodes = new NodeRegistry();
afterEach(() => nodes.closeAll());

let cluster: DevCertificates;
let otherCa: DevCertificates;

beforeAll(() => {
  cluster = createDevCertificates({ nodeIds: ['a', 'b', 'c'] });
  otherCa = createDevCertificates({ nodeIds: ['b'] });
});

function peerTls(certificates: DevCertificates, certOf: string, ca = certificates.ca.cert): PeerTlsOptions {
  const issued = certificates.nodes.get(certOf);
  if (issued === undefined) throw new Error(`no certificate for ${certOf}`);
  return { cert: issued.cert, key: issued.key, ca };
}

/** Points `from` at `to` (one direction only). */
function dial(from: TestNode, to: TestNode): void {
  from.transport.setPeers(new Map([[to.nodeId, to.transport.address()]]));
}

describe('peer transport over mutual TLS', () => {
  it('connects members whose certificates the cluster CA signed, and carries messages both ways', async () => {
    const a = await nodes.start('a', { tls: peerTls(cluster, 'a') });
    const b = await nodes.start('b', { tls: peerTls(cluster, 'b') });
    await connectAll([a, b]);
    a.transport.send([heartbeat('a', 'b', 'over-tls')]);
    b.transport.send([heartbeat('b', 'a', 'back-over-tls')]);
    expect(await received(b, 'over-tls')).toEqual(heartbeat('a', 'b', 'over-tls'));
    expect(await received(a, 'back-over-tls')).toEqual(heartbeat('b', 'a', 'back-over-tls'));
    expect(a.transport.inboundPeers().has('b')).toBe(true);
    expect(a.transport.stats().connectionsRefused).toBe(0);
  });

  it('refuses at the TLS handshake a peer whose certificate another CA signed', async () => {
    const a = await nodes.start('a', { tls: peerTls(cluster, 'a') });
    // b trusts the cluster CA but presents a certificate of another CA (with the right CN).
    const rogue = await nodes.start('b', { tls: peerTls(otherCa, 'b', cluster.ca.cert) });
    dial(rogue, a);
    await a.logs.find((line) => line.msg === 'refused inbound connection: TLS handshake failed', 'a refusing the rogue');
    expect(a.transport.inboundPeers().size).toBe(0);
    expect(a.transport.stats().connectionsRefused).toBeGreaterThan(0);
    // And dialing it: a does not accept the rogue's server certificate either.
    dial(a, rogue);
    const failure = await a.logs.find((line) => line.msg === 'peer connection error', 'a failing to dial the rogue');
    expect(JSON.stringify(failure['err'])).toMatch(/certificate/i);
    expect(a.transport.peerStates().get('b')).not.toBe('connected');
    rogue.transport.send([heartbeat('b', 'a', 'must-not-arrive')]);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(a.inbox.items).toHaveLength(0);
  });

  it('refuses a plain TCP connection at the TLS listener', async () => {
    const a = await nodes.start('a', { tls: peerTls(cluster, 'a') });
    const { port } = a.transport.address();
    const socket = net.connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => undefined);
    // A cleartext handshake frame is not a TLS ClientHello: the listener drops the connection.
    socket.write(encodeHandshakeFrame({ clusterId: 'test-cluster', nodeId: 'b' }));
    await closed;
    await a.logs.find((line) => line.msg === 'refused inbound connection: TLS handshake failed', 'a refusing cleartext');
    expect(a.transport.inboundPeers().size).toBe(0);
  });

  it("refuses a member that claims another member's id than its certificate names", async () => {
    const a = await nodes.start('a', { tls: peerTls(cluster, 'a') });
    // A node calling itself b, holding c's certificate (valid, same CA).
    const impostor = await nodes.start('b', { tls: peerTls(cluster, 'c') });
    // a knows a member b (so the handshake's id is not refused as unknown) and dials it.
    dial(a, impostor);
    dial(impostor, a);
    const refusal = await a.logs.find((line) => line.msg === 'refused inbound connection' && line['reason'] === 'peer certificate names another member than the handshake', 'a refusing the impostor');
    expect(refusal).toMatchObject({ theirNodeId: 'b', certificateMemberId: 'c' });
    expect(a.transport.inboundPeers().size).toBe(0);
    // Dialing "b" and reaching a node with c's certificate fails the TLS identity check.
    const failure = await a.logs.find((line) => line.msg === 'peer connection error', 'a failing to dial the impostor');
    expect(JSON.stringify(failure['err'])).toContain('expected member \\"b\\"');
    expect(a.transport.peerStates().get('b')).not.toBe('connected');
  });

  it('keeps plain TCP when no TLS is configured on either side', async () => {
    const a = await nodes.start('a');
    const b = await nodes.start('b');
    await connectAll([a, b]);
    await peerState(a, 'b', 'connected');
    a.transport.send([heartbeat('a', 'b', 'cleartext')]);
    await received(b, 'cleartext');
  });
});
