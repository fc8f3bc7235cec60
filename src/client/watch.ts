/**
 * `kv.watch()`: an async iterator of changes that survives node failures. It opens
 * `GET /v1/watch` on some endpoint; when the stream breaks or the node goes away it reconnects
 * (another endpoint first) from its ResumePoint, so what it yields has no gap and no duplicate.
 * A compacted history ends it with ConcordError `compacted` (details.compactRevision) — unless
 * `resync` is set, in which case a `snapshot` event with the current state comes instead and
 * the changes go on from there. It ends quietly on `close()` or when its signal fires. The
 * reconnecting is reconnecting-stream.ts's; what to resume from is the ResumePoint's.
 */
import { ConcordError } from './errors.ts';
import type { ClientCore } from './core.ts';
import { reconnectingEvents } from './reconnecting-stream.ts';
import { ResumePoint } from './resume-point.ts';
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
    let fromRevision: number | undefined;
    const events = reconnectingEvents(this.core, {
      signal,
      idleTimeoutMs: this.options.idleTimeoutMs,
      target: () => {
        fromRevision = resume.nextFromRevision();
        const query = {
          ...(this.options.key === undefined ? { prefix: this.options.prefix } : { key: this.options.key }),
          fromRevision,
          prevValue: this.options.prevValue === true ? true : undefined,
          resync: this.options.resync === true ? true : undefined,
        };
        return { path: '/v1/watch', query };
      },
      delivers: (frame) => frame.event === 'put' || frame.event === 'delete',
      opened: (stream) => {
        this.endpoint = stream.endpoint;
        if (fromRevision === undefined) {
          const revision = Number(stream.headers['x-concord-revision']);
          if (Number.isSafeInteger(revision)) resume.started(revision);
        }
      },
      closed: () => {
        this.endpoint = null;
      },
      reconnecting: () => {
        this.reconnects += 1;
      },
    });
    for await (const frame of events) {
      const data = frame.data as Record<string, unknown>;
      if (frame.event === 'put' || frame.event === 'delete') {
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
  }
}
