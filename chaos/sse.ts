/**
 * A server-sent-events reader for the chaos clients: one GET, the frames as they come, ended
 * by the caller (an AbortSignal), by the server, or by an idle timeout — a paused or cut-off
 * node keeps the stream open and silent, and a client must notice that to move elsewhere.
 */
import { request, type Dispatcher } from 'undici';

export interface SseFrame {
  readonly event: string;
  readonly data: string;
}

export type SseEnd =
  | { readonly kind: 'status'; readonly status: number; readonly body: string }
  | { readonly kind: 'ended' }
  | { readonly kind: 'idle' }
  | { readonly kind: 'stopped' }
  | { readonly kind: 'error'; readonly error: string };

/**
 * Streams `url`, calling `onFrame` for each frame; returns how the stream ended. `onFrame`
 * returning false stops the stream (the caller has what it wanted).
 */
export async function readSse(url: string, options: { readonly idleMs: number; readonly signal?: AbortSignal; readonly dispatcher?: Dispatcher }, onFrame: (frame: SseFrame) => boolean): Promise<SseEnd> {
  const controller = new AbortController();
  let reason: 'idle' | 'stopped' | null = null;
  const stop = (why: 'idle' | 'stopped'): void => {
    reason ??= why;
    controller.abort();
  };
  const onAbort = (): void => stop('stopped');
  options.signal?.addEventListener('abort', onAbort, { once: true });
  let idleTimer = setTimeout(() => stop('idle'), options.idleMs);
  const touch = (): void => {
    clearTimeout(idleTimer);
    idleTimer = setTimeout(() => stop('idle'), options.idleMs);
  };
  try {
    if (options.signal?.aborted === true) return { kind: 'stopped' };
    const response = await request(url, {
      method: 'GET',
      signal: controller.signal,
      headers: { accept: 'text/event-stream' },
      headersTimeout: options.idleMs,
      bodyTimeout: 0,
      ...(options.dispatcher === undefined ? {} : { dispatcher: options.dispatcher }),
    });
    touch();
    if (response.statusCode !== 200) {
      const body = await response.body.text();
      return { kind: 'status', status: response.statusCode, body: body.slice(0, 300) };
    }
    let buffer = '';
    const decoder = new TextDecoder();
    for await (const chunk of response.body) {
      touch();
      buffer += decoder.decode(chunk as Buffer, { stream: true }).replace(/\r\n/g, '\n');
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: ?(.*)$/m.exec(block)?.[1]?.trim() ?? 'message';
        const data = block.split('\n').filter((line) => line.startsWith('data:')).map((line) => line.slice(5).trimStart()).join('\n');
        if (!onFrame({ event, data })) {
          reason = 'stopped';
          controller.abort();
          return { kind: 'stopped' };
        }
      }
    }
    return { kind: 'ended' };
  } catch (error) {
    if (reason !== null) return { kind: reason };
    return { kind: 'error', error: error instanceof Error ? error.message : String(error) };
  } finally {
    clearTimeout(idleTimer);
    options.signal?.removeEventListener('abort', onAbort);
    controller.abort();
  }
}
