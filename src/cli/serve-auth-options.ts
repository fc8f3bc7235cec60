/**
 * The authentication flags of `concord serve` (docs/security.md), parsed beside the others in
 * serve-options.ts: `--auth` turns bearer tokens on, `--auth-bootstrap-token-file FILE` names the
 * first admin's token, `--token-rate-limit N` bounds each token's requests per second on a node.
 * The bootstrap file is read here, once, and only its SHA-256 leaves this module.
 */
import { readFileSync } from 'node:fs';
import { ConcordError } from '../common/errors.ts';
import { DEFAULT_SERVER_LIMITS } from '../server/limits.ts';
import { MAX_PRESENTED_TOKEN_CHARS, MIN_BOOTSTRAP_TOKEN_CHARS, hashToken } from '../server/auth/token-secrets.ts';

export interface AuthServeOptions {
  /** --auth (CONCORD_AUTH=true): every /v1 route needs a bearer token. */
  readonly enabled: boolean;
  /** SHA-256 (hex) of the bootstrap token in --auth-bootstrap-token-file; null without one. */
  readonly bootstrapTokenHash: string | null;
  /** --token-rate-limit: requests per second per token on this node; 0 = unlimited. */
  readonly tokenRequestsPerSecond: number;
}

/** The flags (FlagSpec form of serve-options.ts); `auth` is a switch. */
export const AUTH_FLAGS = {
  auth: { required: false },
  'auth-bootstrap-token-file': { required: false },
  'token-rate-limit': { required: false, fallback: String(DEFAULT_SERVER_LIMITS.tokenRequestsPerSecond) },
} as const;

/** Flags given without a value (`--auth`); as variables they take true/false/1/0. */
export const SWITCH_FLAGS: ReadonlySet<string> = new Set(['auth']);

function invalid(message: string): ConcordError {
  return new ConcordError('invalid_argument', message);
}

function parseSwitch(flag: string, text: string | undefined): boolean {
  if (text === undefined || text === '' || text === 'false' || text === '0') return false;
  if (text === 'true' || text === '1') return true;
  throw invalid(`--${flag} is a switch (as a variable: true, false, 1 or 0), got ${JSON.stringify(text)}`);
}

/** The bootstrap token's hash; the file holds the token (surrounding whitespace ignored). */
function readBootstrapHash(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw invalid(`--auth-bootstrap-token-file: cannot read ${path}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const token = text.trim();
  if (token.length < MIN_BOOTSTRAP_TOKEN_CHARS || token.length > MAX_PRESENTED_TOKEN_CHARS || /\s/.test(token)) {
    throw invalid(
      `--auth-bootstrap-token-file: the token must be ${MIN_BOOTSTRAP_TOKEN_CHARS}..${MAX_PRESENTED_TOKEN_CHARS} characters without spaces ` +
        '(make one with: openssl rand -hex 32)',
    );
  }
  return hashToken(token);
}

/** Reads the auth flags through `value` (flag, then CONCORD_* variable, then fallback). */
export function parseAuthOptions(value: (flag: keyof typeof AUTH_FLAGS) => string | undefined): AuthServeOptions {
  const enabled = parseSwitch('auth', value('auth'));
  const file = value('auth-bootstrap-token-file');
  const rateText = value('token-rate-limit') ?? String(DEFAULT_SERVER_LIMITS.tokenRequestsPerSecond);
  const rate = Number(rateText);
  if (!/^\d+$/.test(rateText) || !Number.isSafeInteger(rate)) {
    throw invalid(`--token-rate-limit must be a non-negative integer (requests per second per token; 0 = unlimited), got ${JSON.stringify(rateText)}`);
  }
  return { enabled, bootstrapTokenHash: file === undefined ? null : readBootstrapHash(file), tokenRequestsPerSecond: rate };
}
