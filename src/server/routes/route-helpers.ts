/**
 * The two moves nearly every route makes: run a command through the log on the leader (wherever
 * the client called), or wait for a read barrier before answering from this replica. Both set
 * `x-concord-revision` to the revision the answer reflects. And the opening of the event streams
 * (watch, service watch, election observe).
 */
import type { ServerResponse } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { isKvError, toConcordError, type KvCommandBody, type KvCommandType, type KvResultByType } from '../../kv/index.ts';
import type { ServerContext } from '../context.ts';
import type { RequestScope } from '../request-scope.ts';

export const REVISION_HEADER = 'x-concord-revision';

/**
 * Proposes `body` on the leader. Returns the command's success result, or null when the leader
 * answered a forwarded request and that answer has already been sent. An error result of the
 * state machine (compare_failed with `current`, not_found, ...) is thrown as its ConcordError.
 */
export async function proposeOnLeader<K extends KvCommandType>(
  context: ServerContext,
  request: FastifyRequest,
  reply: FastifyReply,
  scope: RequestScope,
  body: Extract<KvCommandBody, { type: K }>,
): Promise<KvResultByType[K] | null> {
  const routed = await context.router.run(request, reply, scope, true, () =>
    context.service.proposeOnce(body, scope.idempotencyKey, scope.deadline),
  );
  if (routed.kind === 'relayed') return null;
  const outcome = routed.value;
  reply.header(REVISION_HEADER, String(outcome.revision));
  if (isKvError(outcome.result)) throw toConcordError(outcome.result);
  return outcome.result as KvResultByType[K];
}

export type Consistency = 'linearizable' | 'serializable';

/** A linearizable read first waits for ReadIndex; a serializable one answers from here as is. */
export async function readBarrier(context: ServerContext, scope: RequestScope, consistency: Consistency | undefined): Promise<void> {
  if ((consistency ?? 'linearizable') === 'linearizable') await context.service.readBarrier(scope.deadline);
}

/**
 * Takes the response over from fastify and opens a server-sent event stream on it, with the
 * headers every answer carries (node, request id, revision, leader when known).
 */
export function openEventStream(context: ServerContext, request: FastifyRequest, reply: FastifyReply): ServerResponse {
  const { node, nodeId } = context.deps;
  reply.hijack();
  const response = reply.raw;
  const leader = node.host.raft.leader;
  response.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    // The connection ends with the stream: a half-closed keep-alive socket would hold up shutdown.
    connection: 'close',
    'x-accel-buffering': 'no',
    'x-concord-node': nodeId,
    'x-request-id': request.id,
    [REVISION_HEADER]: String(node.kv.revision),
    ...(leader === '' ? {} : { 'x-concord-leader': leader }),
  });
  response.flushHeaders();
  return response;
}
