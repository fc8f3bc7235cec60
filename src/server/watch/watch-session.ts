/**
 * One watch stream: the history from `fromRevision`, then every matching change as it applies,
 * exactly once and in revision order.
 *
 * No gap, no duplicate: the history is read and the live listener subscribed in one synchronous
 * step (no apply can slip between them), and `nextRevision` — the first revision not yet sent —
 * filters whatever arrives afterwards. A restore from a snapshot (a follower that fell far
 * behind) re-reads the history from `nextRevision`; if that is gone, a `resync` watcher gets the
 * current state as a snapshot event and goes on, any other gets `event: compacted` and the end.
 *
 * Bounded: a watcher that does not read (its unsent output passes a limit) is cut off; it can
 * resume by revision, on any node. Progress while idle and the bound are SseSession's.
 *
 * With auth on, `access` filters every key the stream would send (history, resync snapshot and
 * live events) by what the token may read at that moment, and the stream ends once the token
 * stops authenticating (revoked, expired, user deleted): a change of roles or a revocation
 * shows on the next event this node applies.
 */
import type { ServerResponse } from 'node:http';
import { matchesFilter, type KeyFilter, type KvStateMachine, type WatchBatch, type WatchEvent } from '../../kv/index.ts';
import { SseSession, type SseSessionLimits } from './sse-session.ts';
import { changeFrame, sseFrame } from './sse.ts';

export interface WatchOptions extends SseSessionLimits {
  readonly filter: KeyFilter;
  readonly prevValue: boolean;
  readonly resync: boolean;
  /** Which keys the watcher may see, and whether it may go on at all (auth); absent: all keys. */
  readonly access?: WatchAccess;
}

export interface WatchAccess {
  valid(): boolean;
  mayReadKey(key: string): boolean;
}

function visible(options: WatchOptions, key: string): boolean {
  return options.access === undefined || options.access.mayReadKey(key);
}

/** Where a stream starts: frames for what is already known, and the first revision still to come. */
export interface WatchStart {
  readonly frames: readonly string[];
  readonly nextRevision: number;
}

/** The opening of a stream, or the compaction that prevents it (410 before the stream starts). */
export type WatchStartResult = WatchStart | { readonly compactRevision: number };

/** Reads what a watch from `fromRevision` (null: from now) sends first. Synchronous on purpose. */
export function startWatch(kv: KvStateMachine, fromRevision: number | null, options: WatchOptions): WatchStartResult {
  if (fromRevision === null) return { frames: [], nextRevision: kv.revision + 1 };
  return catchUp(kv, fromRevision, options);
}

function catchUp(kv: KvStateMachine, fromRevision: number, options: WatchOptions): WatchStartResult {
  const history = kv.eventsSince(fromRevision, options.filter, { prevValue: options.prevValue });
  if (!history.compacted) {
    return {
      frames: history.events.filter((event) => visible(options, event.key)).map((event) => changeFrame(event, options.prevValue)),
      nextRevision: Math.max(fromRevision, history.revision + 1),
    };
  }
  if (!options.resync) return { compactRevision: history.compactRevision };
  const whole = kv.rangeState(options.filter);
  const state = { ...whole, items: whole.items.filter((kv) => visible(options, kv.key)) };
  return { frames: [sseFrame('snapshot', state, state.revision)], nextRevision: state.revision + 1 };
}

export class WatchSession extends SseSession {
  private nextRevision: number;

  constructor(
    private readonly kv: KvStateMachine,
    response: ServerResponse,
    private readonly options: WatchOptions,
    private readonly start: WatchStart,
    private readonly onClosed: (session: WatchSession) => void,
  ) {
    super(response, options);
    this.nextRevision = start.nextRevision;
    this.subscribed(kv.onEvents((batch) => this.deliver(batch)));
    this.subscribed(kv.onRestore(() => this.afterRestore()));
  }

  /** Sends what was known when the watch started (call right after construction, same turn). */
  begin(): void {
    for (const frame of this.start.frames) this.write(frame);
  }

  protected afterClose(): void {
    this.onClosed(this);
  }

  protected progressFrame(): string {
    const revision = this.kv.revision;
    // Every change through `revision` has been sent: a client may resume from revision + 1.
    return sseFrame('progress', { revision }, Math.max(revision, this.nextRevision - 1));
  }

  private deliver(batch: WatchBatch): void {
    if (this.closed || batch.revision < this.nextRevision) return;
    if (this.options.access !== undefined && !this.options.access.valid()) {
      this.close(); // the token no longer authenticates: nothing more for it
      return;
    }
    this.sendChanges(batch.events);
    this.nextRevision = batch.revision + 1;
  }

  private sendChanges(events: readonly WatchEvent[]): void {
    for (const event of events) {
      if (event.modRevision >= this.nextRevision && matchesFilter(event.key, this.options.filter) && visible(this.options, event.key)) {
        this.write(changeFrame(event, this.options.prevValue));
      }
    }
  }

  private afterRestore(): void {
    if (this.closed) return;
    const resumed = catchUp(this.kv, this.nextRevision, this.options);
    if ('compactRevision' in resumed) {
      this.write(sseFrame('compacted', { compactRevision: resumed.compactRevision }));
      this.close();
      return;
    }
    for (const frame of resumed.frames) this.write(frame);
    this.nextRevision = Math.max(this.nextRevision, resumed.nextRevision);
  }
}
