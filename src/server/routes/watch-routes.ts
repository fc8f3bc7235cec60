/**
 * GET /v1/watch: a server-sent event stream of changes to a key or a prefix (see
 * watch/watch-session.ts for the guarantees). Validation, the watcher bound and a compacted
 * `fromRevision` are answered as ordinary JSON errors, before the stream starts; after that
 * the response belongs to the session.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import { ConcordError } from '../../common/errors.ts';
import { checkKey, checkPrefix, toConcordError, type KeyFilter } from '../../kv/index.ts';
import type { ConcordApp, ServerContext } from '../context.ts';
import { ERROR_RESPONSES } from '../schemas/common.ts';
import { startWatch, WatchSession, type WatchAccess, type WatchOptions } from '../watch/watch-session.ts';
import { openEventStream } from './route-helpers.ts';

const WatchQuery = Type.Object(
  {
    key: Type.Optional(Type.String({ description: 'Watch this key (exactly one of key and prefix).' })),
    prefix: Type.Optional(Type.String({ description: 'Watch every key starting with this; may be empty (all keys).' })),
    fromRevision: Type.Optional(Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description: 'First revision to send (inclusive); default: changes after now.' })),
    prevValue: Type.Optional(Type.Boolean({ description: "Include each change's previous kv as `prev`." })),
    resync: Type.Optional(Type.Boolean({ description: 'If fromRevision is compacted, send the current state (event: snapshot) and go on.' })),
  },
  { additionalProperties: false },
);

function filterOf(key: string | undefined, prefix: string | undefined): KeyFilter {
  if ((key === undefined) === (prefix === undefined)) {
    throw new ConcordError('invalid_argument', 'give exactly one of key and prefix');
  }
  const problem = key !== undefined ? checkKey(key) : checkPrefix(prefix ?? '');
  if (problem !== null) throw toConcordError(problem);
  return key !== undefined ? { key } : { prefix: prefix ?? '' };
}

/** An EventSource reconnecting sends the id of the last event it saw: resume right after it. */
function resumeRevision(request: FastifyRequest): number | null {
  const lastEventId = request.headers['last-event-id'];
  if (typeof lastEventId !== 'string' || !/^\d{1,15}$/.test(lastEventId)) return null;
  return Number(lastEventId) + 1;
}

/** With auth on: the token's live read access to keys (the gate already checked it may read some). */
function watchAccess(context: ServerContext, request: FastifyRequest): { access?: WatchAccess } {
  if (!context.auth.enabled) return {};
  const live = context.auth.liveAccess(request);
  return { access: { valid: () => live.valid(), mayReadKey: (key) => live.mayRead('key', key) } };
}

export function registerWatchRoutes(app: ConcordApp, context: ServerContext): void {
  const { node } = context.deps;
  const sessions = new Set<WatchSession>();

  // Open streams would keep the listener from closing: end them first (clients resume elsewhere).
  app.addHook('preClose', async () => {
    for (const session of [...sessions]) session.close();
  });

  app.get(
    '/v1/watch',
    {
      schema: {
        tags: ['watch'],
        summary: 'Server-sent events: put/delete changes, progress, snapshot (resync) and compacted.',
        description:
          'Events: `put`/`delete` with {key, value?, createRevision, modRevision, version, lease?, prev?}; ' +
          '`progress` with {revision} while idle; `snapshot` with {revision, items} (resync); `compacted` with {compactRevision}, then the end. ' +
          'Each event id is its revision; reconnect with fromRevision = last seen + 1 (or Last-Event-ID).',
        querystring: WatchQuery,
        produces: ['text/event-stream'],
        response: { 200: Type.String({ description: 'text/event-stream' }), 410: Type.Ref('ConcordError'), ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const { key, prefix, prevValue = false, resync = false } = request.query;
      const options: WatchOptions = {
        filter: filterOf(key, prefix),
        prevValue,
        resync,
        progressIntervalMs: context.limits.watchProgressIntervalMs,
        maxBufferedBytes: context.limits.watchMaxBufferedBytes,
        ...watchAccess(context, request),
        ...context.auth.streamGuard(request),
      };
      if (sessions.size >= context.limits.maxWatchers) {
        throw new ConcordError('overloaded', `this node serves at most ${context.limits.maxWatchers} watch streams`);
      }
      context.clientStreams.admit(request, reply);
      // From here to the session's subscription nothing awaits: no change can fall in between.
      const start = startWatch(node.kv, request.query.fromRevision ?? resumeRevision(request), options);
      if ('compactRevision' in start) {
        throw new ConcordError('compacted', `history through revision ${start.compactRevision} is compacted`, {
          compactRevision: start.compactRevision,
        });
      }
      const response = openEventStream(context, request, reply);
      context.metrics.watchOpened();
      const session = new WatchSession(node.kv, response, options, start, (closed) => {
        sessions.delete(closed);
        context.metrics.watchClosed();
        context.metrics.observeHttpRequest('GET', '/v1/watch', 200, null);
      });
      sessions.add(session);
      session.begin();
      return reply;
    },
  );
}
