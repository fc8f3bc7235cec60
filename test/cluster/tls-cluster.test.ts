/**
 * `concord local-cluster --tls` (what `npm start -- --tls` runs) on real processes: it makes
 * development certificates in the data dir, the three nodes elect a leader over mutual TLS
 * between peers, a write through the SDK (CA + client certificate) over HTTPS is replicated to
 * every node, the CLI with --cacert/--cert/--key reads it and reports every endpoint healthy,
 * and a cleartext connection to a peer port is refused at the TLS handshake.
 * (Reusing the certificates on a second start: test/cli/local-cluster-tls.test.ts.)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { Concord } from '../../src/client/index.ts';
import { runConcord } from '../cli/run-concord.ts';

const BIN = fileURLToPath(new URL('../../bin/concord.js', import.meta.url));
const UP_TIMEOUT_MS = 60_000;

interface Launcher {
  readonly child: ChildProcess;
  readonly output: string[];
  exited: Promise<number | null>;
}

let launcher: Launcher | null = null;
let root: string | null = null;

afterEach(async () => {
  if (launcher !== null) await stop(launcher);
  launcher = null;
  if (root !== null) await rm(root, { recursive: true, force: true });
  root = null;
});

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** A base port N with N+1..N+3 and N+101..N+103 free on 127.0.0.1. */
async function freeBasePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + 200 * Math.floor(Math.random() * 60);
    const ports = [1, 2, 3, 101, 102, 103].map((offset) => base + offset);
    if ((await Promise.all(ports.map(portFree))).every(Boolean)) return base;
  }
  throw new Error('no free ports');
}

function launch(dataDir: string, basePort: number): Launcher {
  const child = spawn(process.execPath, [BIN, 'local-cluster', '--tls', '--data-dir', dataDir, '--base-port', String(basePort)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1' },
  });
  const output: string[] = [];
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => output.push(chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => output.push(chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output, exited };
}

async function waitForOutput(running: Launcher, text: string, timeoutMs = UP_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!running.output.join('').includes(text)) {
    if (Date.now() > deadline) throw new Error(`no "${text}" from the launcher within ${timeoutMs} ms:\n${running.output.join('').slice(-3000)}`);
    if (running.child.exitCode !== null) throw new Error(`the launcher exited (${running.child.exitCode}):\n${running.output.join('').slice(-3000)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** SIGTERM (the nodes stop gracefully), then SIGKILL if it takes too long; the nodes follow the launcher. */
async function stop(running: Launcher): Promise<void> {
  if (running.child.exitCode !== null) return;
  running.child.kill('SIGTERM');
  const timer = setTimeout(() => running.child.kill('SIGKILL'), 20_000);
  await running.exited;
  clearTimeout(timer);
}

describe('npm start -- --tls', () => {
  it('runs three nodes over HTTPS and peer mutual TLS, replicating a write, with certificates made in the data dir', async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'concord-tls-cluster-'));
    const dataDir = path.join(root, 'data');
    const basePort = await freeBasePort();
    launcher = launch(dataDir, basePort);
    await waitForOutput(launcher, 'Concord local cluster is up');
    expect(launcher.output.join('')).toContain('TLS is on');
    const certs = path.join(dataDir, 'certs');
    const ca = await readFile(path.join(certs, 'ca.crt'), 'utf8');
    const tls = { ca, cert: await readFile(path.join(certs, 'client.crt'), 'utf8'), key: await readFile(path.join(certs, 'client.key'), 'utf8') };
    expect(new X509Certificate(await readFile(path.join(certs, 'node2.crt'))).checkIssued(new X509Certificate(ca))).toBe(true);

    const endpoints = [1, 2, 3].map((number) => `https://127.0.0.1:${basePort + number}`);
    const client = new Concord({ endpoints: [endpoints[0] ?? ''], tls, timeoutMs: 10_000 });
    let putRevision = 0;
    try {
      const put = await client.kv.put('tls/cluster', 'replicated over mutual TLS');
      const cluster = await client.cluster.status();
      expect(cluster.leaderId).toMatch(/^node[123]$/);
      // Every node applies the write (serializable reads answer from each node's own state).
      for (const endpoint of endpoints) {
        const reader = new Concord({ endpoints: [endpoint], tls, timeoutMs: 10_000 });
        try {
          const deadline = Date.now() + 10_000;
          let value: string | undefined;
          while (value !== 'replicated over mutual TLS' && Date.now() < deadline) {
            value = (await reader.kv.get('tls/cluster', { consistency: 'serializable' }))?.value;
            if (value === undefined) await new Promise((resolve) => setTimeout(resolve, 100));
          }
          expect(value, endpoint).toBe('replicated over mutual TLS');
        } finally {
          await reader.close();
        }
      }
      expect(put.revision).toBeGreaterThan(0);
      putRevision = put.revision;
    } finally {
      await client.close();
    }

    // The CLI with its TLS flags: every endpoint answers, each at the write's revision or later.
    const files = ['--cacert', path.join(certs, 'ca.crt'), '--cert', path.join(certs, 'client.crt'), '--key', path.join(certs, 'client.key')];
    const status = await runConcord(endpoints.join(','), [...files, 'status', '--json'], { timeoutMs: 30_000 });
    expect(status.code, status.stderr).toBe(0);
    const report = JSON.parse(status.stdout) as { endpoints: { healthy: boolean; view?: { revision: number } }[] };
    expect(report.endpoints.map((endpoint) => endpoint.healthy)).toEqual([true, true, true]);
    for (const endpoint of report.endpoints) expect(endpoint.view?.revision).toBeGreaterThanOrEqual(putRevision);

    // A cleartext connection to a peer port fails the TLS handshake and is logged.
    const socket = net.connect({ host: '127.0.0.1', port: basePort + 101 });
    socket.on('error', () => undefined);
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.write('not a TLS hello\r\n\r\n');
    await closed;
    await waitForOutput(launcher, 'refused inbound connection: TLS handshake failed', 10_000);
  });
});
