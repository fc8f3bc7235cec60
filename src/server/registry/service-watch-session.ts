/**
 * One service watch stream: `event: instances` with the service's full (filtered) instance list
 * when the stream opens and after every change to the service, `event: progress` while idle.
 * Each instances event's id is the service revision it shows, so a client can resume with a
 * blocking query from it. The stream ends on client disconnect (its subscription and timer go
 * with it), on server close, and when a reader falls so far behind that its unsent output
 * passes the bound.
 */
import type { ServerResponse } from 'node:http';
import type { KvStateMachine } from '../../kv/index.ts';
import { type DiscoverFilter, discover } from '../../registry/index.ts';
import { sseFrame } from '../watch/sse.ts';
import type { ServiceChangeHub } from './service-changes.ts';

export interface ServiceWatchOptions {
  readonly service: string;
  readonly filter: DiscoverFilter;
  readonly progressIntervalMs: number;
  readonly maxBufferedBytes: number;
}

export class ServiceWatchSession {
  private lastSentRevision = -1;
  private sentSinceProgress = false;
  private closed = false;
  private readonly unsubscribe: () => void;
  private readonly progressTimer: ReturnType<typeof setInterval>;

  constructor(
    private readonly kv: KvStateMachine,
    hub: ServiceChangeHub,
    private readonly response: ServerResponse,
    private readonly options: ServiceWatchOptions,
    private readonly onClosed: (session: ServiceWatchSession) => void,
  ) {
    this.unsubscribe = hub.subscribe(options.service, () => this.sendIfChanged());
    this.progressTimer = setInterval(() => this.maybeSendProgress(), options.progressIntervalMs);
    response.on('close', () => this.close());
  }

  /** Sends the current list (call right after construction, in the same turn). */
  begin(): void {
    this.sendIfChanged();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.progressTimer);
    this.unsubscribe();
    if (!this.response.writableEnded) this.response.end();
    this.onClosed(this);
  }

  private sendIfChanged(): void {
    if (this.closed) return;
    const view = discover(this.kv, this.options.service, this.options.filter);
    if (view.revision === this.lastSentRevision) return;
    this.lastSentRevision = view.revision;
    this.write(sseFrame('instances', { revision: view.revision, instances: view.instances }, view.revision));
  }

  private maybeSendProgress(): void {
    if (!this.sentSinceProgress) this.write(sseFrame('progress', { revision: this.kv.revision }));
    this.sentSinceProgress = false;
  }

  private write(frame: string): void {
    if (this.closed) return;
    this.response.write(frame);
    this.sentSinceProgress = true;
    if (this.response.writableLength > this.options.maxBufferedBytes) {
      // A reader this far behind would hold the node's memory hostage: cut it off.
      this.response.destroy();
      this.close();
    }
  }
}
