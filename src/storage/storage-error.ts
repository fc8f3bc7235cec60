/**
 * StorageError: the one way storage reports a data dir it cannot trust or cannot use. Each
 * message names the data dir (and the log index, when one entry is at fault) because the
 * operator who reads it has to find the files; the same facts sit in `details` for code.
 */
import { ConcordError } from '../common/errors.ts';
import type { LogIndex } from '../raft/types.ts';

export interface StorageErrorDetails {
  readonly dataDir: string;
  readonly index?: LogIndex;
  readonly version?: string;
}

/** A ConcordError with code 'storage_failure'; `problem` is a sentence fragment. */
export function storageError(details: StorageErrorDetails, problem: string, cause?: unknown): ConcordError {
  const where = details.index === undefined ? '' : ` at log index ${details.index}`;
  const message = `storage in ${details.dataDir}: ${problem}${where}`;
  return new ConcordError('storage_failure', message, { ...details }, cause === undefined ? undefined : { cause });
}

/** Whether `error` is a storage failure (for callers that must tell it from other errors). */
export function isStorageError(error: unknown): error is ConcordError {
  return error instanceof ConcordError && error.code === 'storage_failure';
}
