/**
 * PEM files named by flags (--client-cert, --peer-ca, --cacert, ...) read into memory once, at
 * start: a node or a CLI call never runs half-configured, and an unreadable or non-PEM file is
 * an error that names the flag. node:tls takes the contents; nothing here parses X.509 beyond
 * Node's own X509Certificate, used to fail fast on a file that is not a certificate.
 */
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { ConcordError } from '../common/errors.ts';

/** A certificate (chain), its key, and the CA bundle that verifies the other side (if any). */
export interface TlsMaterial {
  readonly cert: string;
  readonly key: string;
  /** PEM bundle of trusted CAs; several certificates may be concatenated (CA rotation). */
  readonly ca?: string;
}

/** File paths as flags give them; `null` when the flag is absent. */
export interface TlsPaths {
  readonly cert: string | null;
  readonly key: string | null;
  readonly ca: string | null;
}

function readPem(path: string, flag: string, marker: RegExp): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConcordError('invalid_argument', `--${flag}: cannot read ${path}: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (!marker.test(text)) throw new ConcordError('invalid_argument', `--${flag}: ${path} is not a PEM file of the expected kind`);
  return text;
}

/** Reads a certificate (or CA bundle) file, checking that its first certificate parses. */
export function readCertificateFile(path: string, flag: string): string {
  const text = readPem(path, flag, /-----BEGIN CERTIFICATE-----/);
  try {
    new X509Certificate(text);
  } catch (error) {
    throw new ConcordError('invalid_argument', `--${flag}: ${path} does not hold a valid certificate: ${error instanceof Error ? error.message : String(error)}`);
  }
  return text;
}

export function readKeyFile(path: string, flag: string): string {
  return readPem(path, flag, /-----BEGIN [A-Z ]*PRIVATE KEY-----/);
}

/**
 * Loads `<prefix>-cert`, `<prefix>-key` and `<prefix>-ca`: null when none is given; cert and key
 * must come together; a CA alone is refused (it would verify others while serving in clear).
 */
export function loadTlsMaterial(prefix: string, paths: TlsPaths): TlsMaterial | null {
  if (paths.cert === null && paths.key === null && paths.ca === null) return null;
  if (paths.cert === null || paths.key === null) {
    throw new ConcordError('invalid_argument', `--${prefix}-cert and --${prefix}-key must be given together${paths.ca !== null ? ` (--${prefix}-ca needs them too)` : ''}`);
  }
  const cert = readCertificateFile(paths.cert, `${prefix}-cert`);
  const key = readKeyFile(paths.key, `${prefix}-key`);
  const ca = paths.ca === null ? undefined : readCertificateFile(paths.ca, `${prefix}-ca`);
  return ca === undefined ? { cert, key } : { cert, key, ca };
}
