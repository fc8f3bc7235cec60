/**
 * The reconnect loop every SDK stream runs (kv.watch, election.observe, registry.watch via SSE):
 * open the route's SSE stream on some endpoint (openStream fails over), hand over its events,
 * and when the stream breaks (node killed, network, idle timeout) or the node ends it (shutting
 * down, a slow reader cut off), open it again elsewhere after a pause that grows with each
 * failure in a row and resets once a stream delivers. It ends when `signal` fires; an answer
 * that is not retryable (400, 410 compacted) is thrown. What to resume from, and what to skip
 * as already seen, is the caller's: it lives across connections.
 */
import { sleep } from './clock.ts';
import type { ClientCore, OpenedStream, QueryValue } from './core.ts';
import { ConcordError } from './errors.ts';
import { sseEvents, type SseEvent } from './sse.ts';

const MAX_RECONNECT_BACKOFF_MS = 2_000;

/** A stream silent this long is taken as dead and reopened (the server sends progress every 10 s). */
export const DEFAULT_IDLE_TIMEOUT_MS = 35_000;

export interface ReconnectingStreamOptions {
  readonly signal: AbortSignal;
  readonly idleTimeoutMs?: number | undefined;
  /** The route and query of the next connection, asked before each one (a watch resumes where it is). */
  readonly target: () => { readonly path: string; readonly query: Readonly<Record<string, QueryValue>> };
  /** Whether an event shows the stream delivering, which resets the backoff (progress alone does not). */
  readonly delivers: (event: SseEvent) => boolean;
  /** A stream opened, before its first event. */
  readonly opened?: (stream: OpenedStream) => void;
  /** The stream open until now ended, whatever the reason. */
  readonly closed?: () => void;
  /** A stream ended without the caller asking: another is about to be opened. */
  readonly reconnecting?: () => void;
}

/** The events of one route's stream, across as many connections as it takes. */
export async function* reconnectingEvents(core: ClientCore, options: ReconnectingStreamOptions): AsyncGenerator<SseEvent> {
  const { signal } = options;
  let failures = 0;
  while (!signal.aborted) {
    const { path, query } = options.target();
    let stream: OpenedStream;
    try {
      stream = await core.openStream(path, query, signal, options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS);
    } catch (error) {
      if (signal.aborted) return;
      if (!(error instanceof ConcordError && error.retryable)) throw error;
      await pauseBeforeRetry(failures++, signal);
      continue;
    }
    // Aborting must end a pending read whatever the transport does with the signal.
    const closeStream = (): void => stream.close();
    signal.addEventListener('abort', closeStream, { once: true });
    options.opened?.(stream);
    try {
      for await (const event of sseEvents(stream.chunks)) {
        if (options.delivers(event)) failures = 0;
        yield event;
      }
    } catch {
      if (signal.aborted) return;
      // The stream broke: resume elsewhere.
    } finally {
      signal.removeEventListener('abort', closeStream);
      stream.close();
      options.closed?.();
    }
    if (signal.aborted) return;
    core.moveOn(stream.endpoint);
    options.reconnecting?.();
    await pauseBeforeRetry(failures++, signal);
  }
}

/**
 * Waits before another attempt: not at all after the first failure, then 100 ms doubling up to
 * 2 s. False when `signal` fired meanwhile.
 */
export async function pauseBeforeRetry(failures: number, signal: AbortSignal): Promise<boolean> {
  try {
    await sleep(failures === 0 ? 0 : Math.min(MAX_RECONNECT_BACKOFF_MS, 50 * 2 ** failures), signal);
    return true;
  } catch {
    return false;
  }
}
