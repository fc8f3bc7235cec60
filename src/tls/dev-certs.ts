/**
 * Development certificates for `concord certs`: one CA, and per node a certificate good for
 * both TLS server and client authentication (a node serves HTTPS and peers, dials peers with
 * it, and presents it when it forwards a request to the leader), plus one client certificate
 * for the CLI and SDK. X.509 is built with node-forge (pure JavaScript, no dependencies); the
 * RSA keys come from node:crypto, which is much faster than forge's own key generation.
 *
 * Identity: a node certificate's subject CN is the member id — that is what the peer transport
 * checks against the id a peer claims in its handshake (src/rpc/peer-identity.ts). Its SANs
 * cover the id, localhost, 127.0.0.1, ::1, the local cluster's loopback addresses and the
 * compose service names, so the same files work for `npm start -- --tls` and compose.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import forge from 'node-forge';

/** SANs every node certificate carries, beyond its own id and any --hosts. */
export const DEFAULT_NODE_HOSTS: readonly string[] = [
  'localhost', '127.0.0.1', '::1', '127.0.0.11', '127.0.0.12', '127.0.0.13', 'node1', 'node2', 'node3',
];
export const DEFAULT_CLIENT_NAME = 'concord-client';
/** Development certificates live a year, the CA ten; rotate before (docs/security.md). */
export const NODE_CERT_DAYS = 365;
export const CA_CERT_DAYS = 3650;
const RSA_BITS = 2048;

export interface IssuedCertificate {
  /** PEM certificate. */
  readonly cert: string;
  /** PEM private key (PKCS#8). */
  readonly key: string;
}

export interface DevCertificates {
  readonly ca: IssuedCertificate;
  readonly nodes: ReadonlyMap<string, IssuedCertificate>;
  readonly client: IssuedCertificate;
}

export interface DevCertificateRequest {
  readonly nodeIds: readonly string[];
  /** Extra DNS names or IP addresses put in every node certificate. */
  readonly extraHosts?: readonly string[];
  readonly clientName?: string;
  /** "Now" for validity (tests pass a fixed one). */
  readonly now?: Date;
}

function newKeyPair(): { privateKey: forge.pki.rsa.PrivateKey; publicKey: forge.pki.rsa.PublicKey; pkcs8: string } {
  const pair = generateKeyPairSync('rsa', {
    modulusLength: RSA_BITS,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return {
    privateKey: forge.pki.privateKeyFromPem(pair.privateKey) as forge.pki.rsa.PrivateKey,
    publicKey: forge.pki.publicKeyFromPem(pair.publicKey) as forge.pki.rsa.PublicKey,
    pkcs8: pair.privateKey,
  };
}

/** A positive random serial (the high bit cleared so DER does not read it as negative). */
function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return bytes.toString('hex');
}

function validity(cert: forge.pki.Certificate, now: Date, days: number): void {
  // A minute of slack for clocks slightly behind the one that issued the certificate.
  cert.validity.notBefore = new Date(now.getTime() - 60_000);
  cert.validity.notAfter = new Date(now.getTime() + days * 86_400_000);
}

function altNames(hosts: readonly string[]): { type: number; value?: string; ip?: string }[] {
  const unique = [...new Set(hosts)];
  // type 7 = iPAddress, type 2 = dNSName (RFC 5280 GeneralName).
  return unique.map((host) => (isIP(host) === 0 ? { type: 2, value: host } : { type: 7, ip: host }));
}

function createCa(now: Date): { issued: IssuedCertificate; forgeCert: forge.pki.Certificate; privateKey: forge.pki.rsa.PrivateKey } {
  const keys = newKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = serialNumber();
  validity(cert, now, CA_CERT_DAYS);
  const subject = [{ name: 'commonName', value: 'Concord development CA' }, { name: 'organizationName', value: 'Concord' }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return { issued: { cert: forge.pki.certificateToPem(cert), key: keys.pkcs8 }, forgeCert: cert, privateKey: keys.privateKey };
}

function issue(
  ca: { forgeCert: forge.pki.Certificate; privateKey: forge.pki.rsa.PrivateKey },
  commonName: string,
  hosts: readonly string[],
  usage: { server: boolean; client: boolean },
  now: Date,
): IssuedCertificate {
  const keys = newKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = serialNumber();
  validity(cert, now, NODE_CERT_DAYS);
  cert.setSubject([{ name: 'commonName', value: commonName }, { name: 'organizationName', value: 'Concord' }]);
  cert.setIssuer(ca.forgeCert.subject.attributes);
  const extensions: object[] = [
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: usage.server, clientAuth: usage.client },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: ca.forgeCert.generateSubjectKeyIdentifier().getBytes() },
  ];
  if (hosts.length > 0) extensions.push({ name: 'subjectAltName', altNames: altNames(hosts) });
  cert.setExtensions(extensions);
  cert.sign(ca.privateKey, forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: keys.pkcs8 };
}

/** A CA, a certificate per node id, and a client certificate, all in memory. */
export function createDevCertificates(request: DevCertificateRequest): DevCertificates {
  const now = request.now ?? new Date();
  const ca = createCa(now);
  const extraHosts = request.extraHosts ?? [];
  const nodes = new Map<string, IssuedCertificate>();
  for (const nodeId of request.nodeIds) {
    nodes.set(nodeId, issue(ca, nodeId, [nodeId, ...DEFAULT_NODE_HOSTS, ...extraHosts], { server: true, client: true }, now));
  }
  const client = issue(ca, request.clientName ?? DEFAULT_CLIENT_NAME, [], { server: false, client: true }, now);
  return { ca: ca.issued, nodes, client };
}
