/**
 * HTTPS for the client API (--client-cert/--client-key, and --client-ca to require client
 * certificates), and the TLS settings a follower uses when it forwards a request to the
 * leader's client URL.
 *
 * Forwarding: a follower trusts the CA of --client-ca when given (else Node's default roots,
 * which NODE_EXTRA_CA_CERTS extends) and presents its own --client-cert as its client
 * certificate, so a leader that requires client certificates accepts forwarded requests. The
 * node's certificate must then be valid for client authentication as well as server
 * authentication (`concord certs` writes such). Host names are verified as for any HTTPS client:
 * each node's certificate must name the host of its --advertise-client URL.
 */
import type { TlsMaterial } from '../tls/tls-files.ts';

export interface HttpsServerOptions {
  readonly cert: string;
  readonly key: string;
  readonly ca?: string;
  readonly requestCert: boolean;
  readonly rejectUnauthorized: boolean;
  readonly minVersion: 'TLSv1.2';
}

/** fastify's `https` option: with a CA, a client without a certificate it signed fails the handshake. */
export function httpsServerOptions(material: TlsMaterial): HttpsServerOptions {
  const requireClientCertificates = material.ca !== undefined;
  return {
    cert: material.cert,
    key: material.key,
    ...(material.ca === undefined ? {} : { ca: material.ca }),
    requestCert: requireClientCertificates,
    rejectUnauthorized: requireClientCertificates,
    minVersion: 'TLSv1.2',
  };
}

/** undici `connect` options for forwarding to the leader over HTTPS. */
export interface ForwardingTls {
  readonly cert: string;
  readonly key: string;
  readonly ca?: string;
}

export function forwardingTls(material: TlsMaterial | undefined): ForwardingTls | undefined {
  if (material === undefined) return undefined;
  return { cert: material.cert, key: material.key, ...(material.ca === undefined ? {} : { ca: material.ca }) };
}

/** The part of an HTTPS server this needs: its TLS handshake failures. */
interface TlsErrorSource {
  on(event: 'tlsClientError', listener: (error: Error, socket: { remoteAddress?: string | undefined }) => void): unknown;
}

/**
 * Logs clients refused at the TLS handshake (no certificate, one from another CA, a client that
 * does not trust ours), at most once a second with a count, so a misconfigured client is visible
 * to the operator without a flood from a scanner.
 */
export function logTlsHandshakeFailures(server: TlsErrorSource, logger: { warn(fields: object, message: string): void }, nowMs: () => number = Date.now): void {
  let lastLoggedMs = -Infinity;
  let failuresSinceLog = 0;
  server.on('tlsClientError', (error, socket) => {
    failuresSinceLog += 1;
    const now = nowMs();
    if (now - lastLoggedMs < 1000) return;
    logger.warn({ remote: socket.remoteAddress, reason: error.message, failures: failuresSinceLog }, 'client refused at the TLS handshake');
    lastLoggedMs = now;
    failuresSinceLog = 0;
  });
}
