/**
 * The TLS flags of `concord serve` (files read and checked at parse time, env twins, https://
 * advertise default, peer TLS all-or-nothing), the CLI's --cacert/--cert/--key, and the start-up
 * warning for listeners exposed beyond loopback without TLS or auth.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, UsageError } from '../../src/cli/common.ts';
import { describeExposures, isLoopbackHost, warnAboutExposure } from '../../src/cli/exposure-warning.ts';
import { parseServeOptions } from '../../src/cli/serve-options.ts';
import { createDevCertificates } from '../../src/tls/dev-certs.ts';

const BASE = [
  '--id', 'n1',
  '--data-dir', './data/n1',
  '--listen-client', '127.0.0.1:7001',
  '--listen-peer', '127.0.0.1:7101',
  '--initial-cluster', 'n1=127.0.0.1:7101,n2=127.0.0.1:7102',
];

let dir: string;
const file = (name: string): string => path.join(dir, name);

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'concord-tls-options-'));
  const certificates = createDevCertificates({ nodeIds: ['n1'] });
  const n1 = certificates.nodes.get('n1');
  if (n1 === undefined) throw new Error('no n1');
  await writeFile(file('ca.crt'), certificates.ca.cert);
  await writeFile(file('n1.crt'), n1.cert);
  await writeFile(file('n1.key'), n1.key);
  await writeFile(file('client.crt'), certificates.client.cert);
  await writeFile(file('client.key'), certificates.client.key);
  await writeFile(file('garbage.crt'), '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n');
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('serve TLS flags', () => {
  it('is plain HTTP and TCP without them', () => {
    const options = parseServeOptions(BASE, {});
    expect(options.clientTls).toBeNull();
    expect(options.peerTls).toBeNull();
    expect(options.advertiseClient).toBe('http://127.0.0.1:7001');
  });

  it('reads the client files, and defaults --advertise-client to https://', () => {
    const options = parseServeOptions([...BASE, '--client-cert', file('n1.crt'), '--client-key', file('n1.key')], {});
    expect(options.clientTls?.cert).toContain('BEGIN CERTIFICATE');
    expect(options.clientTls?.key).toContain('PRIVATE KEY');
    expect(options.clientTls?.ca).toBeUndefined();
    expect(options.advertiseClient).toBe('https://127.0.0.1:7001');
    expect(parseServeOptions([...BASE, '--client-cert', file('n1.crt'), '--client-key', file('n1.key'), '--advertise-client', 'https://node1:7001'], {}).advertiseClient).toBe('https://node1:7001');
  });

  it('takes every TLS flag from its CONCORD_* twin', () => {
    const options = parseServeOptions(BASE, {
      CONCORD_CLIENT_CERT: file('n1.crt'), CONCORD_CLIENT_KEY: file('n1.key'), CONCORD_CLIENT_CA: file('ca.crt'),
      CONCORD_PEER_CERT: file('n1.crt'), CONCORD_PEER_KEY: file('n1.key'), CONCORD_PEER_CA: file('ca.crt'),
    });
    expect(options.clientTls?.ca).toContain('BEGIN CERTIFICATE');
    expect(options.peerTls?.ca).toContain('BEGIN CERTIFICATE');
    expect(options.peerTls?.cert).toBe(options.clientTls?.cert);
  });

  it('refuses half a configuration and bad files, naming the flag', () => {
    expect(() => parseServeOptions([...BASE, '--client-cert', file('n1.crt')], {})).toThrow(/--client-cert and --client-key must be given together/);
    expect(() => parseServeOptions([...BASE, '--client-ca', file('ca.crt')], {})).toThrow(/--client-ca needs them too/);
    expect(() => parseServeOptions([...BASE, '--peer-cert', file('n1.crt'), '--peer-key', file('n1.key')], {})).toThrow(/--peer-ca must be given together/);
    expect(() => parseServeOptions([...BASE, '--client-cert', file('missing.crt'), '--client-key', file('n1.key')], {})).toThrow(/--client-cert: cannot read/);
    expect(() => parseServeOptions([...BASE, '--client-cert', file('n1.key'), '--client-key', file('n1.key')], {})).toThrow(/--client-cert: .* not a PEM file/);
    expect(() => parseServeOptions([...BASE, '--client-cert', file('n1.crt'), '--client-key', file('n1.crt')], {})).toThrow(/--client-key: .* not a PEM file/);
    expect(() => parseServeOptions([...BASE, '--peer-cert', file('n1.crt'), '--peer-key', file('n1.key'), '--peer-ca', file('garbage.crt')], {})).toThrow(/--peer-ca: .* does not hold a valid certificate/);
  });
});

describe('CLI TLS flags', () => {
  it('reads --cacert, --cert and --key (or their variables) into the connection settings', () => {
    const parsed = parse(['--cacert', file('ca.crt'), '--cert', file('client.crt'), '--key', file('client.key')]);
    expect(parsed.globals.tls?.ca).toContain('BEGIN CERTIFICATE');
    expect(parsed.globals.tls?.cert).toContain('BEGIN CERTIFICATE');
    expect(parsed.globals.tls?.key).toContain('PRIVATE KEY');
    expect(parse([]).globals.tls).toBeUndefined();
    process.env['CONCORD_CACERT'] = file('ca.crt');
    try {
      expect(parse([]).globals.tls?.ca).toContain('BEGIN CERTIFICATE');
    } finally {
      delete process.env['CONCORD_CACERT'];
    }
  });

  it('refuses a certificate without its key and unreadable files as usage errors', () => {
    expect(() => parse(['--cert', file('client.crt')])).toThrow(UsageError);
    expect(() => parse(['--cacert', file('missing.crt')])).toThrow(/--cacert: cannot read/);
  });
});

describe('exposure warning', () => {
  const loopback = { host: '127.0.0.1', port: 7001 };
  const wildcard = { host: '0.0.0.0', port: 7001 };

  it('knows loopback addresses', () => {
    for (const host of ['127.0.0.1', '127.0.0.12', 'localhost', '::1', '[::1]', '::ffff:127.0.0.1']) expect(isLoopbackHost(host), host).toBe(true);
    for (const host of ['0.0.0.0', '::', '10.0.0.5', 'node1', '192.168.1.2']) expect(isLoopbackHost(host), host).toBe(false);
  });

  it('names each listener exposed without TLS (client: nor auth), and nothing otherwise', () => {
    const open = describeExposures({ listenClient: wildcard, listenPeer: { host: '0.0.0.0', port: 7101 }, clientTls: null, peerTls: null, authEnabled: false });
    expect(open).toHaveLength(2);
    expect(open[0]).toContain('client API on 0.0.0.0:7001 is plain HTTP without authentication');
    expect(open[1]).toContain('peer port 0.0.0.0:7101 is plain TCP');
    expect(describeExposures({ listenClient: wildcard, listenPeer: loopback, clientTls: null, peerTls: null, authEnabled: true })).toEqual([]);
    expect(describeExposures({ listenClient: wildcard, listenPeer: wildcard, clientTls: {}, peerTls: {}, authEnabled: false })).toEqual([]);
    expect(describeExposures({ listenClient: loopback, listenPeer: loopback, clientTls: null, peerTls: null, authEnabled: false })).toEqual([]);
  });

  it('logs a loud warn line per exposure', () => {
    const lines: { level: number; msg: string }[] = [];
    const logger = pino({ level: 'info' }, new Writable({ write(chunk: Buffer, _encoding, done) { lines.push(JSON.parse(chunk.toString()) as { level: number; msg: string }); done(); } }));
    warnAboutExposure({ listenClient: wildcard, listenPeer: loopback, clientTls: null, peerTls: null, authEnabled: false }, logger);
    expect(lines).toHaveLength(1);
    expect(lines[0]?.level).toBe(40);
    expect(lines[0]?.msg).toMatch(/^SECURITY WARNING: the client API on 0\.0\.0\.0:7001/);
  });
});
