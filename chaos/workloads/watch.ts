/**
 * The watch workload: writers put unique values to (and now and then delete) a few keys under
 * chaos/watch/, while several watchers hold SSE watches on that prefix, each through its own
 * node. A watcher whose stream breaks (its node killed, an error) or stays silent too long (its
 * node paused or cut off) reconnects to the next node with fromRevision = last seen + 1, as the
 * contract tells clients to. After the faults stop, one last write marks the end; each watcher
 * keeps going until it has seen it. The checks (chaos/watch-check.ts) then compare every
 * watcher's events with each other, with the writes, with a replay and with the final state.
 */
import { definitelyNotApplied, type ChaosHttp, type Reply } from '../client.ts';
import type { History } from '../history.ts';
import { readSse } from '../sse.ts';
import { describe } from './register.ts';
import type { Workload, WorkloadContext } from './workload.ts';

export const WATCH_PREFIX = 'chaos/watch/';
export const WATCH_END_KEY = `${WATCH_PREFIX}end`;

export interface WatchOptions {
  readonly writers: number;
  readonly watchers: number;
  readonly keys: number;
  readonly deadlineMs: number;
  /** A stream silent this long is given up and reopened on another node. */
  readonly idleReconnectMs: number;
  readonly deleteChance: number;
}

export const DEFAULT_WATCH: WatchOptions = { writers: 3, watchers: 3, keys: 4, deadlineMs: 2_000, idleReconnectMs: 4_000, deleteChance: 0.15 };

/** One change as a watcher saw it. */
export interface SeenEvent {
  readonly revision: number;
  readonly type: 'put' | 'delete';
  readonly key: string;
  readonly value: string | null;
}

/** A write of the workload, as the check needs it. */
export interface WatchWrite {
  readonly id: number;
  readonly f: 'put' | 'delete';
  readonly key: string;
  /** The value put (unique), null for a delete. */
  readonly value: string | null;
  readonly status: 'ok' | 'fail' | 'unknown';
  /** For an ok write: the revision it applied at; an ok delete that deleted nothing has none. */
  readonly revision: number | null;
}

export interface WatcherLog {
  readonly watcher: number;
  readonly events: SeenEvent[];
  /** Streams opened (the first one and every reconnect). */
  connects: number;
  /** What ended each stream, counted (idle, ended, status 503, error, ...). */
  readonly ends: Map<string, number>;
  /** The last revision seen (events only). */
  lastRevision: number;
  /** Why the watcher gave up, if it did (compacted history, deadline). */
  gaveUp: string | null;
}

/** Parses a put/delete frame; null for the other kinds (progress, snapshot). */
export function changeOf(event: string, data: string): SeenEvent | null {
  if (event !== 'put' && event !== 'delete') return null;
  const kv = JSON.parse(data) as { key?: unknown; value?: unknown; modRevision?: unknown };
  return { revision: Number(kv.modRevision), type: event, key: String(kv.key), value: event === 'put' ? String(kv.value) : null };
}

export class WatchWorkload implements Workload {
  readonly name = 'watch';
  readonly writes: WatchWrite[] = [];
  readonly watchers: WatcherLog[] = [];
  /** The store revision before any write of the workload: watches start right after it. */
  startRevision = 0;
  /** The revision of the end marker, once written: watchers stop after seeing it. */
  endRevision: number | null = null;
  private readonly abort = new AbortController();
  private watcherRuns: Promise<void>[] = [];

  constructor(readonly options: WatchOptions) {}

  /** Reads the revision the watches start after (before any client runs). */
  async prepare(url: string, http: ChaosHttp): Promise<void> {
    const reply = await http.call(url, 'GET', `/v1/kv?prefix=${encodeURIComponent(WATCH_PREFIX)}`, undefined, 5_000);
    if (reply.kind !== 'answer' || reply.status !== 200) throw new Error(`watch workload: reading the start revision failed (${reply.kind === 'answer' ? reply.status : reply.error})`);
    this.startRevision = Number((reply.body as { revision?: unknown }).revision);
  }

  /** Starts the watchers, watcher i first through node i. */
  startWatchers(urls: readonly string[]): void {
    for (let watcher = 0; watcher < this.options.watchers; watcher++) {
      const log: WatcherLog = { watcher, events: [], connects: 0, ends: new Map(), lastRevision: this.startRevision, gaveUp: null };
      this.watchers.push(log);
      this.watcherRuns.push(this.watch(log, urls, watcher));
    }
  }

  /** Writer loop (one per client). */
  async runClient(client: number, context: WorkloadContext): Promise<void> {
    const { random, history, http } = context;
    for (let seq = 0; !context.stopped(); seq++) {
      const key = `${WATCH_PREFIX}k${random.int(this.options.keys)}`;
      if (random.float() < this.options.deleteChance) await this.remove(client, key, context.pickNode(), history, http);
      else await this.put(client, key, `w${client}-${seq}`, context.pickNode(), history, http);
      await context.think(random);
    }
  }

  /**
   * After the faults stop: writes the end marker (retried on every node until acknowledged),
   * then waits until every watcher has seen it, at most `timeoutMs`.
   */
  async finish(urls: readonly string[], http: ChaosHttp, history: History, timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    for (let attempt = 0; this.endRevision === null && performance.now() < deadline; attempt++) {
      const url = urls[attempt % urls.length] ?? '';
      const value = `end-${attempt}`;
      const started = history.invoke(this.name, -1, url, { f: 'put', key: WATCH_END_KEY, value });
      const reply = await http.call(url, 'PUT', `/v1/kv/${WATCH_END_KEY}`, { value }, this.options.deadlineMs);
      this.record(started.id, 'put', WATCH_END_KEY, value, reply, history, started);
      if (reply.kind === 'answer' && reply.status === 200) this.endRevision = Number((reply.body as { revision?: unknown }).revision);
      else await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const timer = setTimeout(() => this.abort.abort(), Math.max(0, deadline - performance.now()));
    await Promise.all(this.watcherRuns);
    clearTimeout(timer);
    for (const log of this.watchers) {
      if (this.endRevision === null) log.gaveUp ??= 'the end marker was never acknowledged';
      else if (log.lastRevision < this.endRevision) log.gaveUp ??= `stopped at revision ${log.lastRevision}, before the end marker (${this.endRevision}), after ${timeoutMs} ms`;
    }
  }

  /** Ends the watchers at once (an interrupted run). */
  stopWatchers(): void {
    this.abort.abort();
  }

  private done(log: WatcherLog): boolean {
    return this.abort.signal.aborted || log.gaveUp !== null || (this.endRevision !== null && log.lastRevision >= this.endRevision);
  }

  private async watch(log: WatcherLog, urls: readonly string[], first: number): Promise<void> {
    for (let node = first; !this.done(log); node++) {
      const url = urls[node % urls.length] ?? '';
      log.connects++;
      const end = await readSse(
        `${url}/v1/watch?prefix=${encodeURIComponent(WATCH_PREFIX)}&fromRevision=${log.lastRevision + 1}`,
        { idleMs: this.options.idleReconnectMs, signal: this.abort.signal },
        (frame) => {
          if (frame.event === 'compacted') {
            log.gaveUp = `history compacted past revision ${log.lastRevision + 1}: ${frame.data}`;
            return false;
          }
          const change = changeOf(frame.event, frame.data);
          if (change !== null) {
            // Kept even when out of order or repeated: the check reports those.
            log.events.push(change);
            log.lastRevision = Math.max(log.lastRevision, change.revision);
          }
          return !this.done(log);
        },
      );
      const label = end.kind === 'status' ? `status ${end.status}` : end.kind;
      log.ends.set(label, (log.ends.get(label) ?? 0) + 1);
      if (end.kind === 'status' && end.status === 410) log.gaveUp = `410 compacted reconnecting at ${log.lastRevision + 1}: ${end.body}`;
      if (!this.done(log)) await new Promise((resolve) => setTimeout(resolve, end.kind === 'idle' ? 0 : 150));
    }
  }

  private async put(client: number, key: string, value: string, url: string, history: History, http: ChaosHttp): Promise<void> {
    const started = history.invoke(this.name, client, url, { f: 'put', key, value });
    const reply = await http.call(url, 'PUT', `/v1/kv/${key}`, { value }, this.options.deadlineMs);
    this.record(started.id, 'put', key, value, reply, history, started);
  }

  private async remove(client: number, key: string, url: string, history: History, http: ChaosHttp): Promise<void> {
    const started = history.invoke(this.name, client, url, { f: 'delete', key });
    const reply = await http.call(url, 'DELETE', `/v1/kv/${key}`, undefined, this.options.deadlineMs);
    this.record(started.id, 'delete', key, null, reply, history, started);
  }

  private record(id: number, f: 'put' | 'delete', key: string, value: string | null, reply: Reply, history: History, started: Parameters<History['complete']>[0]): void {
    const ok = reply.kind === 'answer' && reply.status === 200;
    const status = ok ? 'ok' : definitelyNotApplied(reply) ? 'fail' : 'unknown';
    const body = (reply.kind === 'answer' ? reply.body : undefined) as { revision?: unknown; deleted?: unknown } | undefined;
    const deletedNothing = f === 'delete' && ok && Number(body?.deleted) === 0;
    const revision = ok && !deletedNothing ? Number(body?.revision) : null;
    history.complete(started, status, { ...describe(reply), ...(f === 'delete' && ok ? { deleted: Number(body?.deleted) } : {}) });
    this.writes.push({ id, f, key, value, status, revision });
  }
}
