/**
 * One service watch stream: `event: instances` with the service's full (filtered) instance list
 * when the stream opens and after every change to the service, `event: progress` while idle.
 * Each instances event's id is the service revision it shows, so a client can resume with a
 * blocking query from it. The stream ends on client disconnect (its subscription and timer go
 * with it), on server close, and when a reader falls so far behind that its unsent output
 * passes the bound (progress and the bound are SseSession's, as for the KV watch).
 */
import type { ServerResponse } from 'node:http';
import type { KvStateMachine } from '../../kv/index.ts';
import { type DiscoverFilter, watchUpdate } from '../../registry/index.ts';
import { SseSession, type SseSessionLimits } from '../watch/sse-session.ts';
import { sseFrame } from '../watch/sse.ts';
import type { ServiceChangeHub } from './service-changes.ts';

export interface ServiceWatchOptions extends SseSessionLimits {
  readonly service: string;
  readonly filter: DiscoverFilter;
}

export class ServiceWatchSession extends SseSession {
  private lastSentRevision = -1;

  constructor(
    private readonly kv: KvStateMachine,
    hub: ServiceChangeHub,
    response: ServerResponse,
    private readonly options: ServiceWatchOptions,
    private readonly onClosed: (session: ServiceWatchSession) => void,
  ) {
    super(response, options);
    this.subscribed(hub.subscribe(options.service, () => this.sendIfChanged()));
  }

  /** Sends the current list (call right after construction, in the same turn). */
  begin(): void {
    this.sendIfChanged();
  }

  protected afterClose(): void {
    this.onClosed(this);
  }

  protected progressFrame(): string {
    return sseFrame('progress', { revision: this.kv.revision });
  }

  private sendIfChanged(): void {
    if (this.closed) return;
    const view = watchUpdate(this.kv, this.options.service, this.options.filter, this.lastSentRevision);
    if (view === null) return;
    this.lastSentRevision = view.revision;
    this.write(sseFrame('instances', { revision: view.revision, instances: view.instances }, view.revision));
  }
}
