/**
 * A small SSE reader for the watch tests: opens a stream with undici, parses frames as they
 * arrive, and lets a test wait (bounded) for the events it expects.
 */
import { request } from 'undici';
import { sleep } from './cluster-harness.ts';

export interface SseEvent {
  readonly event: string;
  readonly id?: string;
  readonly data: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export class SseStream {
  readonly events: SseEvent[] = [];
  ended = false;
  private readonly abort = new AbortController();

  private constructor(
    readonly status: number,
    readonly headers: Record<string, string | string[] | undefined>,
  ) {}

  static async open(baseUrl: string, path: string, headers: Record<string, string> = {}): Promise<SseStream> {
    const controller = new AbortController();
    const response = await request(`${baseUrl}${path}`, { method: 'GET', headers, signal: controller.signal, headersTimeout: 5000 });
    const stream = new SseStream(response.statusCode, response.headers);
    (stream as unknown as { abort: AbortController }).abort = controller;
    if (response.statusCode !== 200) {
      stream.events.push({ event: 'http-error', data: JSON.parse(await response.body.text()) });
      stream.ended = true;
      return stream;
    }
    void stream.pump(response.body);
    return stream;
  }

  private async pump(body: AsyncIterable<Buffer>): Promise<void> {
    let buffer = '';
    try {
      for await (const chunk of body) {
        buffer += chunk.toString('utf8');
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const fields = new Map<string, string>();
          for (const line of frame.split('\n')) {
            const colon = line.indexOf(':');
            if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 1).trimStart());
          }
          const id = fields.get('id');
          this.events.push({ event: fields.get('event') ?? 'message', ...(id === undefined ? {} : { id }), data: JSON.parse(fields.get('data') ?? 'null') });
        }
      }
    } catch {
      // Aborted by close(), or the server ended the stream.
    }
    this.ended = true;
  }

  /** Changes only (put/delete), in arrival order. */
  changes(): SseEvent[] {
    return this.events.filter((event) => event.event === 'put' || event.event === 'delete');
  }

  async waitFor(predicate: (stream: SseStream) => boolean, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this)) {
      if (Date.now() > deadline) throw new Error(`SSE wait timed out; events so far: ${JSON.stringify(this.events)}`);
      await sleep(10);
    }
  }

  close(): void {
    this.abort.abort();
  }
}
