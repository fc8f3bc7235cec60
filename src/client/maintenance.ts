/**
 * Maintenance: download a backup of the cluster's state, and compact the watch history.
 *
 * `snapshot()` returns the backup file's bytes as the node sent them, with what its headers say
 * (file name, revision, SHA-256). The file checks itself (a header and a SHA-256 trailer); the
 * `concord snapshot save` command verifies it before writing it, and `concord snapshot restore`
 * seeds a new cluster from it.
 */
import type { ClientCore } from './core.ts';
import { ConcordError } from './errors.ts';
import { defined, type CallOptions, type WriteOptions } from './types.ts';

export interface Backup {
  /** The backup file, whole. */
  readonly data: Uint8Array;
  /** The file name the node suggests (content-disposition). */
  readonly fileName: string;
  /** The store revision the backup holds. */
  readonly revision: number;
  /** SHA-256 of the file's header and payload (lower-case hex), as the node computed it. */
  readonly sha256: string;
  /** The node that took it. */
  readonly nodeId: string;
}

export interface CompactResult {
  /** The store revision now. */
  readonly revision: number;
  /** Watch history up to and including this revision is gone. */
  readonly compactRevision: number;
}

function fileNameOf(disposition: string | undefined): string {
  const match = /filename="([^"]+)"/.exec(disposition ?? '');
  return match?.[1] ?? 'concord-backup.db';
}

export class MaintenanceClient {
  constructor(private readonly core: ClientCore) {}

  /**
   * A consistent backup: it holds every write acknowledged before the call (the node answers
   * after a ReadIndex barrier). Give it a longer `timeoutMs` than the default for a large store.
   */
  async snapshot(options: CallOptions = {}): Promise<Backup> {
    const answer = await this.core.call<unknown>({
      method: 'GET',
      path: '/v1/maintenance/snapshot',
      responseType: 'bytes',
      ...defined({ signal: options.signal, timeoutMs: options.timeoutMs }),
    });
    if (!(answer.body instanceof Uint8Array)) {
      throw new ConcordError('internal', `the snapshot answer from ${answer.endpoint} is not binary (a transport without responseType 'bytes'?)`);
    }
    const { headers } = answer;
    return {
      data: answer.body,
      fileName: fileNameOf(headers['content-disposition']),
      revision: Number(headers['x-concord-revision'] ?? 0),
      sha256: headers['x-concord-backup-sha256'] ?? '',
      nodeId: headers['x-concord-node'] ?? '',
    };
  }

  /**
   * Drops watch history up to and including `revision` on every node. A watch from a revision at
   * or below it then fails with `compacted`. A revision above the store's is `invalid_argument`.
   */
  async compact(revision: number, options: WriteOptions = {}): Promise<CompactResult> {
    const answer = await this.core.call<CompactResult>({
      method: 'POST',
      path: '/v1/maintenance/compact',
      body: { revision },
      ...defined({ signal: options.signal, timeoutMs: options.timeoutMs, idempotencyKey: options.idempotencyKey }),
    });
    return answer.body;
  }
}
