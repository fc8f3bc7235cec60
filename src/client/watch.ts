/**
 * `kv.watch()`: an async iterator of changes that survives node failures. It opens
 * `GET /v1/watch` on some endpoint; when the stream breaks or the node goes away it reconnects
 * (another endpoint first) from its ResumePoint, so what it yields has no gap and no duplicate.
 * A compacted history ends it with ConcordError `compacted` (details.compactRevision) — unless
 * `resync` is set, in which case a `snapshot` event with the current state comes instead and
 * the changes go on from there. It ends quietly on `close()` or when its signal fires.
 */
import { ConcordError } from './errors.ts';
import { sleep } from './clock.ts';
import type { ClientCore } from './core.ts';
import { ResumePoint } from './resume-point.ts';
import { sseEvents } from './sse.ts';
import type { KeyValue } from './types.ts';

export interface WatchOptions {
  /** Watch one key (exactly one of key and prefix). */
  readonly key?: string;
  /** Watch every key starting with this ('' for all keys). */
  readonly prefix?: string;
  /** First revision to deliver (inclusive); default: changes after the stream opens. */
  readonly fromRevision?: number;
  /** Include each change's previous kv as `prev`. */
  readonly prevValue?: boolean;
  /** If `fromRevision` is compacted, yield the current state as a `snapshot` event and go on. */
  readonly resync?: boolean;
  /** Also yield `progress` events (the revision everything has been delivered through). */
  readonly progress?: boolean;
  readonly signal?: AbortSignal;
  /** A stream silent this long is taken as dead and reopened (default 35 s; the server sends progress every 10 s). */
  readonly idleTimeoutMs?: number;
}

export interface WatchChange extends Omit<KeyValue, 'value'> {
  readonly type: 'put' | 'delete';
  /** Absent on deletes. */
  readonly value?: string;
  readonly prev?: KeyValue;
}

export type WatchEvent =
  | WatchChange
  | { readonly type: 'snapshot'; readonly revision: number; readonly items: readonly KeyValue[] }
  | { readonly type: 'progress'; readonly revision: number };

const MAX_RECONNECT_BACKOFF_MS = 2_000;

export class KvWatch implements AsyncIterable<WatchEvent> {
  private readonly stop = new AbortController();
  private started = false;
  /** Reconnections so far (tests and diagnostics). */
  reconnects = 0;
  /** The endpoint the stream is open on now (null between streams). */
  endpoint: string | null = null;

  constructor(
    private readonly core: ClientCore,
    private readonly options: WatchOptions,
  ) {
    if ((options.key === undefined) === (options.prefix === undefined)) {
      throw new ConcordError('invalid_argument', 'watch: give exactly one of key and prefix');
    }
  }

  /** Ends the iteration (a pending next() resolves done). */
  close(): void {
    this.stop.abort(new ConcordError('aborted', 'watch closed'));
  }

  [Symbol.asyncIterator](): AsyncIterator<WatchEvent> {
    if (this.started) throw new ConcordError('invalid_argument', 'a watch can be iterated once');
    this.started = true;
    return this.run();
  }

  private async *run(): AsyncGenerator<WatchEvent> {
    const signal = this.options.signal === undefined ? this.stop.signal : AbortSignal.any([this.options.signal, this.stop.signal]);
    const resume = new ResumePoint(this.options.fromRevision);
    let failures = 0;
    while (!signal.aborted) {
      const fromRevision = resume.nextFromRevision();
      const query = {
        ...(this.options.key === undefined ? { prefix: this.options.prefix } : { key: this.options.key }),
        fromRevision,
        prevValue: this.options.prevValue === true ? true : undefined,
        resync: this.options.resync === true ? true : undefined,
      };
      let stream;
      try {
        stream = await this.core.openStream('/v1/watch', query, signal, this.options.idleTimeoutMs ?? 35_000);
      } catch (error) {
        if (signal.aborted) return;
        if (error instanceof ConcordError && error.retryable) {
          await this.pause(failures++, signal);
          continue;
        }
        throw error;
      }
      this.endpoint = stream.endpoint;
      // Closing must end a pending read whatever the transport does with the signal.
      const closeStream = (): void => stream.close();
      signal.addEventListener('abort', closeStream, { once: true });
      if (fromRevision === undefined) {
        const revision = Number(stream.headers['x-concord-revision']);
        if (Number.isSafeInteger(revision)) resume.started(revision);
      }
      try {
        for await (const frame of sseEvents(stream.chunks)) {
          const data = frame.data as Record<string, unknown>;
          if (frame.event === 'put' || frame.event === 'delete') {
            failures = 0;
            if (resume.accept(Number(data['modRevision']))) yield { type: frame.event, ...data } as WatchChange;
          } else if (frame.event === 'progress') {
            resume.through(Number(data['revision']));
            if (this.options.progress === true) yield { type: 'progress', revision: Number(data['revision']) };
          } else if (frame.event === 'snapshot') {
            resume.through(Number(data['revision']));
            yield { type: 'snapshot', revision: Number(data['revision']), items: data['items'] as KeyValue[] };
          } else if (frame.event === 'compacted') {
            const compactRevision = Number(data['compactRevision']);
            throw new ConcordError('compacted', `history through revision ${compactRevision} is compacted`, 410, { compactRevision });
          }
        }
      } catch (error) {
        if (error instanceof ConcordError && error.code === 'compacted') throw error;
        if (signal.aborted) return;
        // The stream broke (node killed, network, idle timeout): resume elsewhere.
      } finally {
        signal.removeEventListener('abort', closeStream);
        stream.close();
        this.endpoint = null;
      }
      if (signal.aborted) return;
      // The node ended the stream (shutting down, or cut off a slow reader): try another.
      this.core.moveOn(stream.endpoint);
      this.reconnects += 1;
      await this.pause(failures++, signal);
    }
  }

  private async pause(failures: number, signal: AbortSignal): Promise<void> {
    const ms = failures === 0 ? 0 : Math.min(MAX_RECONNECT_BACKOFF_MS, 50 * 2 ** failures);
    try {
      await sleep(ms, signal);
    } catch {
      // aborted: the loop ends
    }
  }
}
