/**
 * The one error type the SDK throws. `code` is the HTTP contract's error code when the server
 * answered (`not_found`, `compare_failed`, `locked`, ...), or one of the few codes the client
 * itself decides:
 * - `unavailable`: no endpoint could be reached (connection refused, reset, DNS);
 * - `timeout`: the call's deadline passed; a write's outcome is then unknown (retrying it with
 *   the same idempotency key is safe);
 * - `aborted`: the caller's AbortSignal fired;
 * - `lease_lost` / `lock_lost`: a keepalive, lock or leadership handle can no longer be sure
 *   its lease is alive (details.reason: `expired` — no keepalive acknowledged in time — or
 *   `lease_gone` — the server says the lease no longer exists).
 * Details the server sent beside code and message (`current`, `holder`, `compactRevision`,
 * `currentToken`, ...) are in `details`.
 */

/** The contract's codes, plus the client's own; unknown codes from newer servers pass through. */
export type ConcordErrorCode =
  | 'invalid_argument'
  | 'unauthenticated'
  | 'permission_denied'
  | 'not_found'
  | 'compare_failed'
  | 'stale_token'
  | 'compacted'
  | 'payload_too_large'
  | 'locked'
  | 'overloaded'
  | 'no_leader'
  | 'unavailable'
  | 'timeout'
  | 'internal'
  | 'not_implemented'
  | 'aborted'
  | 'lock_lost'
  | 'lease_lost'
  | (string & {});

export class ConcordError extends Error {
  override readonly name = 'ConcordError';

  constructor(
    readonly code: ConcordErrorCode,
    message: string,
    /** The HTTP status, when a server answered. */
    readonly status: number | undefined = undefined,
    readonly details: Readonly<Record<string, unknown>> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** Whether another attempt (same idempotency key, maybe another node) may succeed. */
  get retryable(): boolean {
    return RETRYABLE_CODES.has(this.code);
  }
}

const RETRYABLE_CODES: ReadonlySet<string> = new Set(['no_leader', 'unavailable', 'overloaded', 'timeout']);

/** Builds the error for a non-2xx answer whose body may or may not be the contract's shape. */
export function errorFromAnswer(status: number, body: unknown, fallbackText = ''): ConcordError {
  const error = (body as { error?: unknown } | null | undefined)?.error;
  if (typeof error === 'object' && error !== null && typeof (error as { code?: unknown }).code === 'string') {
    const { code, message, ...details } = error as { code: string; message?: unknown; [detail: string]: unknown };
    return new ConcordError(code, typeof message === 'string' ? message : code, status, details);
  }
  return new ConcordError(codeForStatus(status), `HTTP ${status}${fallbackText === '' ? '' : `: ${fallbackText.slice(0, 200)}`}`, status);
}

function codeForStatus(status: number): ConcordErrorCode {
  switch (status) {
    case 400: return 'invalid_argument';
    case 401: return 'unauthenticated';
    case 403: return 'permission_denied';
    case 404: return 'not_found';
    case 410: return 'compacted';
    case 413: return 'payload_too_large';
    case 423: return 'locked';
    case 429: return 'overloaded';
    case 501: return 'not_implemented';
    case 502: case 503: return 'unavailable';
    case 504: return 'timeout';
    default: return 'internal';
  }
}

/** The error for a call ended by the caller's signal. */
export function abortedError(signal: AbortSignal): ConcordError {
  const reason: unknown = signal.reason;
  if (reason instanceof ConcordError) return reason;
  return new ConcordError('aborted', 'the operation was aborted', undefined, {}, { cause: reason });
}
