/**
 * The client API over HTTPS (--client-cert/--client-key) and with client certificates required
 * (--client-ca), on an in-process three-node cluster: SDK round trips, refusals at the TLS
 * handshake, and a follower forwarding a write to the leader over HTTPS with its own certificate.
 */
import { EventEmitter } from 'node:events';
import { Agent, request } from 'undici';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Concord } from '../../src/client/index.ts';
import { logTlsHandshakeFailures } from '../../src/server/client-tls.ts';
import { createDevCertificates, type DevCertificates } from '../../src/tls/dev-certs.ts';
import { TestCluster } from './cluster-harness.ts';

let certificates: DevCertificates;
let cluster: TestCluster | null = null;
const clients: { close(): Promise<void> }[] = [];

beforeAll(() => {
  certificates = createDevCertificates({ nodeIds: ['n1', 'n2', 'n3'] });
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  await cluster?.stop();
  cluster = null;
});

function nodeCertificate(): { cert: string; key: string } {
  const issued = certificates.nodes.get('n1');
  if (issued === undefined) throw new Error('no n1 certificate');
  return issued;
}

function sdk(endpoint: string, tls: ConstructorParameters<typeof Concord>[0]['tls']): Concord {
  const client = new Concord({ endpoints: [endpoint], timeoutMs: 3_000, ...(tls === undefined ? {} : { tls }) });
  clients.push(client);
  return client;
}

/** One GET with its own TLS settings; resolves with the status or rejects on a handshake failure. */
async function getStatus(url: string, connect: { ca?: string; cert?: string; key?: string }): Promise<number> {
  const agent = new Agent({ connect: { ...connect, timeout: 3_000 } });
  try {
    const response = await request(url, { dispatcher: agent, headersTimeout: 3_000 });
    await response.body.text();
    return response.statusCode;
  } finally {
    await agent.close();
  }
}

describe('HTTPS client API', () => {
  it('serves the API over HTTPS to a client that trusts the CA, and refuses cleartext and untrusting clients', async () => {
    cluster = await TestCluster.start({ tls: nodeCertificate() });
    const leader = await cluster.waitForLeader();
    expect(leader.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const client = sdk(leader.url, { ca: certificates.ca.cert });
    const put = await client.kv.put('tls/greeting', 'hello over https');
    const read = await client.kv.get('tls/greeting');
    expect(read?.value).toBe('hello over https');
    expect(read?.modRevision).toBe(put.revision);
    // Without the CA the server's certificate is not trusted.
    await expect(getStatus(`${leader.url}/health`, {})).rejects.toThrow(/self.signed|certificate|unable to verify/i);
    // Plain HTTP to the HTTPS port gets no answer.
    await expect(getStatus(`${leader.url.replace('https:', 'http:')}/health`, {})).rejects.toThrow();
  });

  it('with a client CA, refuses clients without a certificate it signed at the handshake, and forwards over HTTPS with the node certificate', async () => {
    cluster = await TestCluster.start({ tls: { ...nodeCertificate(), ca: certificates.ca.cert } });
    const leader = await cluster.waitForLeader();
    const follower = (await cluster.followers())[0];
    if (follower === undefined) throw new Error('no follower');
    const ca = certificates.ca.cert;
    await expect(getStatus(`${follower.url}/health`, { ca })).rejects.toThrow();
    const foreign = createDevCertificates({ nodeIds: [] }).client;
    await expect(getStatus(`${follower.url}/health`, { ca, cert: foreign.cert, key: foreign.key })).rejects.toThrow();
    expect(await getStatus(`${follower.url}/health`, { ca, cert: certificates.client.cert, key: certificates.client.key })).toBe(200);
    // A write sent to a follower is forwarded to the leader over HTTPS, which also requires a
    // client certificate: the follower presents its own.
    const viaFollower = sdk(follower.url, { ca, cert: certificates.client.cert, key: certificates.client.key });
    const put = await viaFollower.kv.put('tls/forwarded', 'through a follower');
    const onLeader = sdk(leader.url, { ca, cert: certificates.client.cert, key: certificates.client.key });
    expect((await onLeader.kv.get('tls/forwarded'))?.value).toBe('through a follower');
    expect(put.revision).toBeGreaterThan(0);
  });
});

describe('TLS handshake failures', () => {
  it('are logged at most once a second, with how many there were', () => {
    const server = new EventEmitter();
    const lines: { fields: Record<string, unknown>; message: string }[] = [];
    let nowMs = 10_000;
    logTlsHandshakeFailures(server as never, { warn: (fields, message) => lines.push({ fields: fields as Record<string, unknown>, message }) }, () => nowMs);
    const fail = (): boolean => server.emit('tlsClientError', new Error('peer did not return a certificate'), { remoteAddress: '127.0.0.1' });
    fail();
    nowMs += 100;
    fail();
    fail();
    nowMs += 1000;
    fail();
    expect(lines.map((line) => line.message)).toEqual(['client refused at the TLS handshake', 'client refused at the TLS handshake']);
    expect(lines[0]?.fields).toMatchObject({ remote: '127.0.0.1', reason: 'peer did not return a certificate', failures: 1 });
    expect(lines[1]?.fields).toMatchObject({ failures: 3 });
  });
});
