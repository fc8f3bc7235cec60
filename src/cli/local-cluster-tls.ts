/**
 * `npm start -- --tls`: the local cluster with TLS everywhere. Certificates come from
 * `<data dir>/certs` — made there by `concord certs` logic on first use (a CA, node1..node3, a
 * client certificate), reused afterwards, so data dirs and certificates stay together. Each node
 * serves HTTPS requiring client certificates and talks mutual TLS to its peers.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { writeDevCertificates } from './certs-command.ts';

export interface LocalClusterTls {
  readonly dir: string;
  readonly caFile: string;
  readonly clientCertFile: string;
  readonly clientKeyFile: string;
  /** Whether this run wrote the certificates (false: they were there already). */
  readonly created: boolean;
  /** `concord serve` flags for one node. */
  serveArgs(nodeName: string): string[];
  /** PEM for the launcher's own requests (readiness polling). */
  clientPem(): { ca: string; cert: string; key: string };
}

/** Makes (if absent) and describes the certificates under `dataRoot/certs`. */
export async function prepareLocalClusterTls(dataRoot: string, nodeNames: readonly string[]): Promise<LocalClusterTls> {
  const dir = path.join(dataRoot, 'certs');
  const file = (name: string): string => path.join(dir, name);
  const needed = ['ca.crt', 'client.crt', 'client.key', ...nodeNames.flatMap((name) => [`${name}.crt`, `${name}.key`])];
  const present = needed.filter((name) => existsSync(file(name)));
  let created = false;
  if (present.length === 0) {
    await writeDevCertificates(dir, nodeNames, [], false);
    created = true;
  } else if (present.length < needed.length) {
    const missing = needed.filter((name) => !present.includes(name));
    throw new Error(`${dir} holds only some of the certificates (missing ${missing.join(', ')}); delete it to have new ones made`);
  }
  return {
    dir,
    caFile: file('ca.crt'),
    clientCertFile: file('client.crt'),
    clientKeyFile: file('client.key'),
    created,
    serveArgs: (nodeName) => [
      '--client-cert', file(`${nodeName}.crt`), '--client-key', file(`${nodeName}.key`), '--client-ca', file('ca.crt'),
      '--peer-cert', file(`${nodeName}.crt`), '--peer-key', file(`${nodeName}.key`), '--peer-ca', file('ca.crt'),
    ],
    clientPem: () => ({
      ca: readFileSync(file('ca.crt'), 'utf8'),
      cert: readFileSync(file('client.crt'), 'utf8'),
      key: readFileSync(file('client.key'), 'utf8'),
    }),
  };
}
