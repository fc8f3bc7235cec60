// `npm start -- --tls`: certificates made once in <data dir>/certs, reused after, refused when partial.
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, unlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { prepareLocalClusterTls } from '../../src/cli/local-cluster-tls.ts';

let root: string | null = null;
afterEach(async () => {
  if (root !== null) await rm(root, { recursive: true, force: true });
  root = null;
});

describe('local cluster TLS files', () => {
  it('makes the certificates on first use, reuses them after, and refuses a partial set', async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'concord-local-tls-'));
    const names = ['node1', 'node2', 'node3'];
    const first = await prepareLocalClusterTls(root, names);
    expect(first.created).toBe(true);
    const ca = await readFile(first.caFile, 'utf8');
    const node2 = new X509Certificate(await readFile(path.join(root, 'certs', 'node2.crt')));
    expect(node2.subject).toContain('CN=node2');
    expect(node2.checkIssued(new X509Certificate(ca))).toBe(true);
    expect(first.serveArgs('node2')).toEqual([
      '--client-cert', path.join(root, 'certs', 'node2.crt'), '--client-key', path.join(root, 'certs', 'node2.key'), '--client-ca', first.caFile,
      '--peer-cert', path.join(root, 'certs', 'node2.crt'), '--peer-key', path.join(root, 'certs', 'node2.key'), '--peer-ca', first.caFile,
    ]);

    const second = await prepareLocalClusterTls(root, names);
    expect(second.created).toBe(false);
    expect(await readFile(second.caFile, 'utf8')).toBe(ca);
    expect(second.clientPem().ca).toBe(ca);

    await unlink(path.join(root, 'certs', 'node3.key'));
    await expect(prepareLocalClusterTls(root, names)).rejects.toThrow(/missing node3\.key/);
  });
});
