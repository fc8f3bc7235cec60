/**
 * `concord certs --out DIR --nodes n1,n2,n3 [--hosts h1,h2] [--force]`: writes a development CA,
 * one certificate per node (server and client use; CN = the member id) and a client certificate
 * for the CLI and SDK (src/tls/dev-certs.ts), then prints a table (or --json) of what it wrote.
 * Existing files are never overwritten without --force: replacing a CA by accident would cut a
 * running cluster off from its own nodes.
 */
import { X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { isMemberId } from '../common/member-id.ts';
import { createDevCertificates, type IssuedCertificate } from '../tls/dev-certs.ts';
import { EXIT, out, table, UsageError, type Command } from './common.ts';

/** File names under --out that are not node ids (a node may not be called this). */
const RESERVED_NAMES = new Set(['ca', 'client']);

export interface WrittenFile {
  readonly file: string;
  readonly kind: 'ca' | 'node' | 'client' | 'key';
  readonly subject: string;
  readonly sans: string;
  readonly notAfter: string;
}

function list(text: string | undefined, flag: string): string[] {
  const items = (text ?? '').split(',').map((item) => item.trim()).filter((item) => item !== '');
  if (text !== undefined && items.length === 0) throw new UsageError(`--${flag} is empty`);
  return items;
}

function describe(file: string, kind: WrittenFile['kind'], pem: string): WrittenFile {
  const cert = new X509Certificate(pem);
  return { file, kind, subject: cert.subject.replace(/\n/g, ', '), sans: cert.subjectAltName ?? '', notAfter: new Date(cert.validTo).toISOString() };
}

/** Writes the files; refuses (before writing anything) if one exists and `force` is off. */
export async function writeDevCertificates(outDir: string, nodeIds: readonly string[], extraHosts: readonly string[], force: boolean): Promise<WrittenFile[]> {
  const names = ['ca', ...nodeIds, 'client'];
  const targets = names.flatMap((name) => [path.join(outDir, `${name}.crt`), path.join(outDir, `${name}.key`)]);
  const existing = targets.filter((target) => existsSync(target));
  if (existing.length > 0 && !force) {
    throw new UsageError(`${existing.join(', ')} already exist${existing.length === 1 ? 's' : ''}; pass --force to overwrite`);
  }
  const issued = createDevCertificates({ nodeIds, extraHosts });
  const entries: { name: string; kind: WrittenFile['kind']; certificate: IssuedCertificate }[] = [
    { name: 'ca', kind: 'ca', certificate: issued.ca },
    ...nodeIds.map((nodeId) => ({ name: nodeId, kind: 'node' as const, certificate: issued.nodes.get(nodeId) as IssuedCertificate })),
    { name: 'client', kind: 'client', certificate: issued.client },
  ];
  await mkdir(outDir, { recursive: true });
  const written: WrittenFile[] = [];
  for (const entry of entries) {
    const certFile = path.join(outDir, `${entry.name}.crt`);
    const keyFile = path.join(outDir, `${entry.name}.key`);
    await writeFile(certFile, entry.certificate.cert, { mode: 0o644 });
    // Private keys readable by their owner only.
    await writeFile(keyFile, entry.certificate.key, { mode: 0o600 });
    const described = describe(certFile, entry.kind, entry.certificate.cert);
    written.push(described, { file: keyFile, kind: 'key', subject: described.subject, sans: '', notAfter: '' });
  }
  return written;
}

export const certsCommand: Command = {
  summary: 'write a development CA and node and client certificates',
  help: `usage: concord certs --out DIR --nodes ID,... [--hosts HOST,...] [--force]

Writes DIR/ca.crt and ca.key (a development CA), DIR/<id>.crt and <id>.key per node (CN = the
member id, valid for TLS server and client use, SANs: the id, localhost, 127.0.0.1, ::1,
127.0.0.11-13, node1-node3, and --hosts), and DIR/client.crt and client.key (for the CLI and
SDK: --cacert DIR/ca.crt --cert DIR/client.crt --key DIR/client.key). Keys are written 0600.
Existing files are not overwritten unless --force. See docs/security.md.

flags:
  --out DIR          where to write (created if missing)
  --nodes ID,...     the member ids (the peer transport checks a peer's CN against its id)
  --hosts HOST,...   extra DNS names or IP addresses for every node certificate
  --force            overwrite existing files`,
  options: {
    out: { type: 'string' },
    nodes: { type: 'string' },
    hosts: { type: 'string' },
    force: { type: 'boolean' },
  },
  async run(parsed) {
    const { values, globals } = parsed;
    const outDir = typeof values['out'] === 'string' ? values['out'] : undefined;
    if (outDir === undefined || outDir === '') throw new UsageError('missing --out DIR');
    const nodeIds = list(typeof values['nodes'] === 'string' ? values['nodes'] : undefined, 'nodes');
    if (nodeIds.length === 0) throw new UsageError('missing --nodes ID,...');
    for (const nodeId of nodeIds) {
      if (!isMemberId(nodeId)) throw new UsageError(`--nodes: bad member id ${JSON.stringify(nodeId)}`);
      if (RESERVED_NAMES.has(nodeId)) throw new UsageError(`--nodes: ${nodeId} would clash with ${nodeId}.crt; choose another id`);
    }
    if (new Set(nodeIds).size !== nodeIds.length) throw new UsageError('--nodes lists an id twice');
    const hosts = list(typeof values['hosts'] === 'string' ? values['hosts'] : undefined, 'hosts');
    const written = await writeDevCertificates(outDir, nodeIds, hosts, values['force'] === true);
    if (globals.json) {
      out.json({ out: outDir, files: written });
    } else {
      out.line(table(['FILE', 'KIND', 'SUBJECT', 'EXPIRES', 'SANS'], written.map((file) => [file.file, file.kind, file.subject, file.notAfter.slice(0, 10), file.sans])));
    }
    return EXIT.ok;
  },
};
