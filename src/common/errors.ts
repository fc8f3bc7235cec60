/**
 * ConcordError: every I/O or API failure Concord reports carries one of these stable codes.
 * The codes are the HTTP contract's (../shared/spec/http-api.md) plus internal ones that never
 * reach a client as such; the server maps codes to statuses in one place.
 */

export const ERROR_CODES = {
  invalid_argument: 400,
  unauthenticated: 401,
  permission_denied: 403,
  not_found: 404,
  compare_failed: 409,
  stale_token: 409,
  compacted: 410,
  payload_too_large: 413,
  locked: 423,
  overloaded: 429,
  no_leader: 503,
  unavailable: 503,
  timeout: 504,
  /** Internal: the data directory is corrupt, from an unknown version, or locked. */
  storage_failure: 500,
  internal: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class ConcordError extends Error {
  override readonly name = 'ConcordError';

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: Readonly<Record<string, unknown>> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  get status(): number {
    return ERROR_CODES[this.code];
  }
}
