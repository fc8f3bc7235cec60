/**
 * Maintenance routes: a consistent backup, and compaction of the watch history.
 *
 * GET /v1/maintenance/snapshot is served by whichever node is asked, after a ReadIndex barrier
 * (as linearizable reads are): the state it captures includes every write acknowledged before
 * the request, and it is captured at the read point itself, so the Raft index and term in the
 * file are exactly those the state reflects. The answer is the backup file (backup-format.ts):
 * binary, with a content-disposition file name, its checksum in `x-concord-backup-sha256`.
 *
 * POST /v1/maintenance/compact is a replicated command (`compact` in the KV state machine), so
 * every replica's watch feed drops the same history at the same log position, and the
 * compaction point travels in snapshots. A revision above the store's is 400 invalid_argument.
 */
import { Type } from '@sinclair/typebox';
import { backupFileName, encodeBackup, storedChecksum } from '../../maintenance/backup-format.ts';
import { termAt } from '../../node/raft-view.ts';
import { runSlicedJob } from '../../node/sliced-job.ts';
import type { ConcordApp, ServerContext } from '../context.ts';
import { RequestScope } from '../request-scope.ts';
import { ERROR_RESPONSES, Revision, TimeoutMs, TimeoutQuery } from '../schemas/common.ts';
import { REVISION_HEADER, proposeOnLeader } from './route-helpers.ts';

/** List elements of the snapshot a backup encodes per turn of the event loop (as compaction does). */
const BACKUP_SLICE_ELEMENTS = 2_000;

export const BACKUP_CHECKSUM_HEADER = 'x-concord-backup-sha256';

const CompactBody = Type.Object({ revision: Revision, timeoutMs: Type.Optional(TimeoutMs) }, { additionalProperties: false });

export function registerMaintenanceRoutes(app: ConcordApp, context: ServerContext): void {
  const { node, clusterId } = context.deps;
  const tags = ['maintenance'];

  app.get(
    '/v1/maintenance/snapshot',
    {
      schema: {
        tags,
        summary: 'A consistent backup of the state machine (binary; `concord snapshot restore` seeds a new cluster from it).',
        description:
          'Taken after a ReadIndex barrier, so it holds every write acknowledged before the request. The file: ' +
          '"CONCBKUP", format version, Raft index and term, KV revision, time, payload length, the KV snapshot, ' +
          'and a SHA-256 trailer (also sent as x-concord-backup-sha256).',
        querystring: TimeoutQuery,
        produces: ['application/octet-stream'],
        response: { ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const scope = new RequestScope(request, context.limits, request.query.timeoutMs);
      const { slices, point } = await context.service.readAt(scope.deadline, (appliedIndex) => {
        const taken = { raftIndex: appliedIndex, raftTerm: termAt(node.host.raft, appliedIndex), revision: node.kv.revision, takenAtMs: Date.now() };
        // The state is captured here, at the read point; encoding it takes turns of its own.
        return { slices: node.kv.snapshotInSlices(BACKUP_SLICE_ELEMENTS), point: taken };
      });
      const file = encodeBackup(point, await runSlicedJob(node.clock, slices));
      return reply
        .type('application/octet-stream')
        .header('content-disposition', `attachment; filename="${backupFileName(clusterId, point)}"`)
        .header(REVISION_HEADER, String(point.revision))
        .header(BACKUP_CHECKSUM_HEADER, storedChecksum(file))
        .send(Buffer.from(file.buffer, file.byteOffset, file.byteLength));
    },
  );

  app.post(
    '/v1/maintenance/compact',
    {
      schema: {
        tags,
        summary: 'Drop watch history up to and including `revision` (replicated: every node compacts at the same point).',
        description: 'Watches from a revision at or below the compaction point then answer 410 compacted. ' +
          'A revision above the current one is 400 invalid_argument; one at or below an earlier compaction changes nothing.',
        querystring: TimeoutQuery,
        body: CompactBody,
        response: { 200: Type.Object({ revision: Revision, compactRevision: Revision }), ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const { revision, timeoutMs } = request.body;
      const scope = new RequestScope(request, context.limits, timeoutMs ?? request.query.timeoutMs);
      const result = await proposeOnLeader(context, request, reply, scope, { type: 'compact', revision });
      return result === null ? reply : { revision: result.revision, compactRevision: result.compactRevision };
    },
  );
}
