/**
 * `concord certs` as a user runs it: the files it writes verify with node:crypto (issuer and
 * signature, CN, SANs, key usage, validity, matching keys, 0600 keys), they work for a mutual TLS
 * handshake, a second run refuses to overwrite without --force, and the table / --json output.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certsCommand } from '../../src/cli/certs-command.ts';
import { runCommand } from '../../src/cli/common.ts';
import { runConcord } from './run-concord.ts';

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const DAY_MS = 86_400_000;

let root: string;
let out: string;
let listing: { out: string; files: { file: string; kind: string; subject: string; sans: string; notAfter: string }[] };

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'concord-certs-'));
  out = path.join(root, 'certs');
  const run = await runConcord('', ['certs', '--out', out, '--nodes', 'n1,n2,n3', '--hosts', 'db.example.com,10.0.0.5', '--json'], { timeoutMs: 60_000 });
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  listing = JSON.parse(run.stdout) as typeof listing;
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function certificate(name: string): Promise<X509Certificate> {
  return new X509Certificate(await readFile(path.join(out, `${name}.crt`)));
}

describe('concord certs', () => {
  it('lists every file it wrote', () => {
    const names = listing.files.map((file) => path.basename(file.file));
    expect(names).toEqual(['ca.crt', 'ca.key', 'n1.crt', 'n1.key', 'n2.crt', 'n2.key', 'n3.crt', 'n3.key', 'client.crt', 'client.key']);
    expect(listing.files.find((file) => file.file.endsWith('n2.crt'))).toMatchObject({ kind: 'node', subject: expect.stringContaining('CN=n2') });
  });

  it('writes a CA and node certificates it signed, named by member id, for server and client use, with the SANs asked for', async () => {
    const ca = await certificate('ca');
    expect(ca.ca).toBe(true);
    expect(ca.checkIssued(ca)).toBe(true);
    const now = Date.now();
    for (const id of ['n1', 'n2', 'n3']) {
      const node = await certificate(id);
      expect(node.ca).toBe(false);
      expect(node.subject).toContain(`CN=${id}`);
      expect(node.issuer).toBe(ca.subject);
      expect(node.checkIssued(ca)).toBe(true);
      expect(node.verify(ca.publicKey)).toBe(true);
      const sans = (node.subjectAltName ?? '').split(', ');
      for (const expected of [`DNS:${id}`, 'DNS:localhost', 'IP Address:127.0.0.1', 'IP Address:127.0.0.11', 'IP Address:127.0.0.12', 'IP Address:127.0.0.13',
        'DNS:node1', 'DNS:node2', 'DNS:node3', 'DNS:db.example.com', 'IP Address:10.0.0.5']) {
        expect(sans, id).toContain(expected);
      }
      expect(node.keyUsage).toEqual(expect.arrayContaining([SERVER_AUTH, CLIENT_AUTH]));
      expect(Date.parse(node.validFrom)).toBeLessThanOrEqual(now);
      expect(Date.parse(node.validTo) - now).toBeGreaterThan(364 * DAY_MS);
      expect(Date.parse(node.validTo) - now).toBeLessThan(366 * DAY_MS);
      expect(node.checkPrivateKey(createPrivateKey(await readFile(path.join(out, `${id}.key`))))).toBe(true);
      expect((await stat(path.join(out, `${id}.key`))).mode & 0o777).toBe(0o600);
    }
    const client = await certificate('client');
    expect(client.checkIssued(ca)).toBe(true);
    expect(client.keyUsage).toEqual([CLIENT_AUTH]);
    expect(client.subjectAltName).toBeUndefined();
    expect(client.checkPrivateKey(createPrivateKey(await readFile(path.join(out, 'client.key'))))).toBe(true);
  });

  it('makes files that complete a mutual TLS handshake (node as server, client certificate as client)', async () => {
    const [ca, cert, key, clientCert, clientKey] = await Promise.all(['ca.crt', 'n1.crt', 'n1.key', 'client.crt', 'client.key'].map((name) => readFile(path.join(out, name), 'utf8')));
    const server = tls.createServer({ cert, key, ca, requestCert: true, rejectUnauthorized: true }, (socket) => socket.end(String(socket.getPeerCertificate().subject.CN)));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    try {
      const port = (server.address() as { port: number }).port;
      const answer = await new Promise<string>((resolve, reject) => {
        const socket = tls.connect({ host: '127.0.0.1', port, ca, cert: clientCert, key: clientKey }, () => undefined);
        let text = '';
        socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
        socket.on('end', () => resolve(text));
        socket.on('error', reject);
      });
      expect(answer).toBe('concord-client');
    } finally {
      server.close();
    }
  });

  it('refuses to overwrite without --force and writes nothing; overwrites with it', async () => {
    const before = await readFile(path.join(out, 'ca.crt'), 'utf8');
    const refused = await runConcord('', ['certs', '--out', out, '--nodes', 'n1'], { timeoutMs: 60_000 });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('already exist');
    expect(refused.stderr).toContain('--force');
    expect(await readFile(path.join(out, 'ca.crt'), 'utf8')).toBe(before);
    const forced = await runConcord('', ['certs', '--out', out, '--nodes', 'n1', '--force'], { timeoutMs: 60_000 });
    expect(forced.code).toBe(0);
    expect(forced.stdout).toMatch(/^FILE\s+KIND\s+SUBJECT\s+EXPIRES\s+SANS/);
    expect(forced.stdout).toContain('CN=n1');
    expect(await readFile(path.join(out, 'ca.crt'), 'utf8')).not.toBe(before);
  });

  it('refuses bad arguments with exit 2 (in process)', async () => {
    const other = path.join(root, 'other');
    expect(await runCommand('certs', certsCommand, ['--out', other])).toBe(2);
    expect(await runCommand('certs', certsCommand, ['--out', other, '--nodes', 'n1,bad id'])).toBe(2);
    expect(await runCommand('certs', certsCommand, ['--out', other, '--nodes', 'n1,n1'])).toBe(2);
    expect(await runCommand('certs', certsCommand, ['--out', other, '--nodes', 'ca'])).toBe(2);
    expect(await runCommand('certs', certsCommand, ['--nodes', 'n1'])).toBe(2);
    await expect(stat(other)).rejects.toThrow();
  });
});
