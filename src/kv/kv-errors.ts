/**
 * Error results of the KV state machine. An expected failure (a guard that did not hold, a
 * missing lease, a malformed command) is a value every replica computes alike, never a throw:
 * `{ error: { code, message, ...details } }` with the HTTP contract's codes, so the server can
 * send it as the body it already is.
 */
import { ConcordError } from '../common/errors.ts';

/** The contract codes the state machine itself can answer with. */
export type KvErrorCode =
  | 'invalid_argument'
  | 'not_found'
  | 'compare_failed'
  | 'payload_too_large'
  // Locks and elections: a fencing token that does not hold, a try-lock that failed, a full queue.
  | 'stale_token'
  | 'locked'
  | 'overloaded';

export interface KvErrorBody {
  readonly code: KvErrorCode;
  readonly message: string;
  /** Details such as `current` (compare_failed) or `lease` (not_found). */
  readonly [detail: string]: unknown;
}

export interface KvErrorResult {
  readonly error: KvErrorBody;
}

/** Builds an error result; `details` go beside code and message, as the contract shows. */
export function kvError(
  code: KvErrorCode,
  message: string,
  details: Readonly<Record<string, unknown>> = {},
): KvErrorResult {
  return { error: { code, message, ...details } };
}

/** Narrows any result to its error case. */
export function isKvError(result: object): result is KvErrorResult {
  return 'error' in result;
}

/** The same failure as a ConcordError, for code paths that throw (the server's). */
export function toConcordError(result: KvErrorResult): ConcordError {
  const { code, message, ...details } = result.error;
  return new ConcordError(code, message, details);
}
