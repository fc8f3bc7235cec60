/**
 * Mutual TLS for the peer transport. With peer TLS on, both ends present a certificate signed
 * by the cluster CA (`--peer-ca`) and both verify the other's at the TLS handshake: a peer
 * without one is refused before a byte of Concord's protocol is read.
 *
 * Identity: a peer certificate's subject CN is the member id (what `concord certs` writes).
 * The dialing side checks the CN of the node it reaches against the id it meant to dial, in
 * place of a host-name check (peers are addressed by IPs and container names that need not be
 * in the certificate, while the member id must). The accepting side checks the CN against the
 * id the peer claims in the transport's own handshake frame (inbound-connection.ts). Only the
 * CN counts: SANs name hosts, which several nodes may share (localhost, 127.0.0.1).
 */
import type { PeerCertificate, TLSSocket } from 'node:tls';
import tls from 'node:tls';

/** Certificate, key and the CA bundle peers' certificates must chain to (all PEM). */
export interface PeerTlsOptions {
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
}

/** The member id a verified peer certificate names, or null when it names none. */
export function certificateMemberId(certificate: PeerCertificate | null | undefined): string | null {
  const commonName: unknown = certificate?.subject?.CN;
  if (typeof commonName === 'string' && commonName !== '') return commonName;
  // Several CN attributes come as an array; such a certificate names no single member.
  return null;
}

/** The member id of the certificate the other end of `socket` presented (after verification). */
export function socketMemberId(socket: TLSSocket): string | null {
  return certificateMemberId(socket.getPeerCertificate());
}

/** Options of the TLS listener: a client certificate is required and must chain to the CA. */
export function peerServerOptions(options: PeerTlsOptions): tls.TlsOptions {
  return {
    cert: options.cert,
    key: options.key,
    ca: options.ca,
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.2',
  };
}

/**
 * Options of an outgoing peer connection: our certificate, the cluster CA, and the check that
 * the certificate presented is `expectedPeerId`'s (a node with another id's certificate, or
 * listening at an address that moved to another member, is refused at the handshake).
 */
export function peerConnectOptions(options: PeerTlsOptions, expectedPeerId: string): tls.ConnectionOptions {
  return {
    cert: options.cert,
    key: options.key,
    ca: options.ca,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.2',
    checkServerIdentity: (_host, certificate) => {
      const memberId = certificateMemberId(certificate);
      if (memberId === expectedPeerId) return undefined;
      return new Error(`peer certificate names ${JSON.stringify(memberId)}, expected member ${JSON.stringify(expectedPeerId)}`);
    },
  };
}
