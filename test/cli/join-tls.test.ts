/**
 * `serve --join` against an HTTPS member that requires client certificates (as --client-ca
 * does), scripted with node:https: with the node's TLS settings it learns the cluster; without
 * them the handshake fails, and it keeps retrying (a TLS failure is not a refusal) until stopped.
 */
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchClusterInfo, type JoinOptions } from '../../src/cli/join.ts';
import { createDevCertificates, type DevCertificates } from '../../src/tls/dev-certs.ts';

let certificates: DevCertificates;
let server: Server;
let url: string;
const clientNames: string[] = [];

beforeAll(async () => {
  certificates = createDevCertificates({ nodeIds: ['n1', 'n4'] });
  const n1 = certificates.nodes.get('n1');
  if (n1 === undefined) throw new Error('no n1');
  server = createServer({ ...n1, ca: certificates.ca.cert, requestCert: true, rejectUnauthorized: true }, (request, response) => {
    clientNames.push(String((request.socket as import('node:tls').TLSSocket).getPeerCertificate().subject.CN));
    response.setHeader('content-type', 'application/json');
    response.end(JSON.stringify({ clusterId: 'tls-cluster', members: [{ id: 'n1', peerAddress: '127.0.0.1:7101', voter: true }] }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

function joinOptions(extra: Partial<JoinOptions> = {}): JoinOptions {
  return { joinUrl: url, id: 'n4', peerAddress: '127.0.0.1:7104', clientUrl: 'https://127.0.0.1:7004', logger: pino({ level: 'silent' }), stopped: () => false, ...extra };
}

describe('--join over HTTPS', () => {
  it("learns the cluster with the node's CA and certificate", async () => {
    const n4 = certificates.nodes.get('n4');
    if (n4 === undefined) throw new Error('no n4');
    const info = await fetchClusterInfo(joinOptions({ tls: { ca: certificates.ca.cert, cert: n4.cert, key: n4.key } }));
    expect(info.clusterId).toBe('tls-cluster');
    expect(info.addresses).toEqual(new Map([['n1', { host: '127.0.0.1', port: 7101 }]]));
    expect(clientNames).toEqual(['n4']);
  });

  it('keeps retrying without a client certificate, and stops when told', async () => {
    let stopped = false;
    const warnings: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => { warnings.push(line); stopped = true; } });
    await expect(fetchClusterInfo(joinOptions({ logger, stopped: () => stopped }))).rejects.toThrow();
    expect(warnings.join('')).toContain('joining: learning the members failed');
    expect(clientNames).toEqual(['n4']);
  });
});
