/**
 * Checks of the registry's waiting readers — blocking queries by `index` and service watches —
 * against what each replica applied. Fed by every replica's watch batches and restores (when
 * each change of a service's instance list applied where, in which process life) and by the
 * readers' records (what they asked, when, and what they were told).
 *
 * - A blocking query answers at the first change after its index: at once if the service's
 *   revision on its replica already exceeded the index when the query began to wait (after its
 *   ReadIndex barrier); else no change after the index applied on that replica, in that process
 *   life, before the answer. A query that sleeps through a change and answers later — at the
 *   next change, or when waitMs runs out — missed it.
 * - Its answer is the service as the replica had it then: the revision of the last change
 *   applied there by that instant (never below the index; entries applied at the very instant
 *   of the answer may or may not be in it), and the instance list the log gives at that revision.
 * - A watch sends every change: each change of the service applied on its replica while the
 *   stream was open (after its first frame) is a frame of its own, in revision order, with the
 *   instance list the log gives at that revision.
 *
 * The instance list at a revision is folded from the change stream itself (the first replica to
 * publish each revision's batch; the watch-feed checker holds every replica to the same batch).
 */
import type { WatchBatch } from '../../../src/kv/index.ts';
import { parseInstanceKey, serviceMarkerKey } from '../../../src/registry/keys.ts';
import type { NodeId } from '../../../src/raft/types.ts';

export interface BlockingQueryRecord {
  readonly node: NodeId;
  readonly service: string;
  readonly index: number;
  readonly sentMs: number;
  /** The process that served it, and when its barrier passed (it began to wait, or answered). */
  incarnation: string | null;
  waitFromMs: number | null;
  /** The service's marker revision on that replica then. */
  markerAtWait: number | null;
  answeredMs: number | null;
  answer: { readonly revision: number; readonly ids: readonly string[] } | null;
}

export interface WatchRecord {
  readonly node: NodeId;
  readonly service: string;
  readonly incarnation: string;
  readonly openedMs: number;
  closedMs: number | null;
  readonly frames: { readonly atMs: number; readonly revision: number; readonly ids: readonly string[] }[];
}

interface Change {
  readonly atMs: number;
  readonly revision: number;
}

export class RegistryReadChecker {
  readonly violations: string[] = [];
  private readonly queries: BlockingQueryRecord[] = [];
  private readonly watches: WatchRecord[] = [];
  /** Per process life, the service revisions it reached (a change applied, or a restore), in time order. */
  private readonly timelines = new Map<string, Change[]>();
  /** Per revision, the instance changes of the watched service (from the first batch seen). */
  private readonly deltas = new Map<number, { id: string; put: boolean }[]>();

  constructor(
    readonly service: string,
    private readonly now: () => number,
  ) {}

  private fail(message: string): void {
    if (this.violations.length < 20) this.violations.push(message);
  }

  // ---- From the simulation -------------------------------------------------------------

  onWatchBatch(incarnation: string, batch: WatchBatch): void {
    const marker = serviceMarkerKey(this.service);
    let touched = false;
    const changes: { id: string; put: boolean }[] = [];
    for (const event of batch.events) {
      if (event.key === marker) touched = true;
      const address = parseInstanceKey(event.key);
      if (address?.service === this.service) changes.push({ id: address.id, put: event.type === 'put' });
    }
    if (!touched) return;
    this.note(incarnation, batch.revision);
    if (!this.deltas.has(batch.revision)) this.deltas.set(batch.revision, changes);
  }

  /** A snapshot replaced the replica's state: its service revision is now `revision`. */
  onRestored(incarnation: string, revision: number): void {
    this.note(incarnation, revision);
  }

  private note(incarnation: string, revision: number): void {
    const timeline = this.timelines.get(incarnation) ?? [];
    timeline.push({ atMs: this.now(), revision });
    this.timelines.set(incarnation, timeline);
  }

  // ---- From the readers ----------------------------------------------------------------

  querySent(node: NodeId, service: string, index: number): BlockingQueryRecord {
    const record: BlockingQueryRecord = {
      node,
      service,
      index,
      sentMs: this.now(),
      incarnation: null,
      waitFromMs: null,
      markerAtWait: null,
      answeredMs: null,
      answer: null,
    };
    this.queries.push(record);
    return record;
  }

  watchOpened(node: NodeId, service: string, incarnation: string): WatchRecord {
    const record: WatchRecord = { node, service, incarnation, openedMs: this.now(), closedMs: null, frames: [] };
    this.watches.push(record);
    return record;
  }

  /** Queries that waited and were answered by a change (not at once, not by waitMs). */
  get queriesWoken(): number {
    return this.queries.filter(
      (query) => query.answer !== null && query.waitFromMs !== null && query.answeredMs !== null && query.answeredMs > query.waitFromMs && query.answer.revision > query.index,
    ).length;
  }

  /** Frames that watches sent after their first (a change while open). */
  get changesSent(): number {
    return this.watches.reduce((sum, watch) => sum + Math.max(0, watch.frames.length - 1), 0);
  }

  get queriesAnswered(): number {
    return this.queries.filter((query) => query.answer !== null).length;
  }

  get framesSeen(): number {
    return this.watches.reduce((sum, watch) => sum + watch.frames.length, 0);
  }

  // ---- At the end ----------------------------------------------------------------------

  finalChecks(): void {
    const listAt = this.foldLists();
    for (const query of this.queries) this.checkQuery(query, listAt);
    for (const watch of this.watches) this.checkWatch(watch, listAt);
  }

  /** The instance list at any revision, from the change stream. */
  private foldLists(): (revision: number) => string {
    const revisions = [...this.deltas.keys()].sort((a, b) => a - b);
    const ids = new Set<string>();
    const lists: { revision: number; list: string }[] = [];
    for (const revision of revisions) {
      for (const change of this.deltas.get(revision) ?? []) {
        if (change.put) ids.add(change.id);
        else ids.delete(change.id);
      }
      lists.push({ revision, list: [...ids].sort().join(',') });
    }
    return (revision) => {
      let list = '';
      for (const entry of lists) {
        if (entry.revision > revision) break;
        list = entry.list;
      }
      return list;
    };
  }

  private changesDuring(incarnation: string, fromMs: number, toMs: number): Change[] {
    return (this.timelines.get(incarnation) ?? []).filter((change) => change.atMs >= fromMs && change.atMs <= toMs);
  }

  private checkQuery(query: BlockingQueryRecord, listAt: (revision: number) => string): void {
    const { answer, answeredMs, waitFromMs, markerAtWait, incarnation } = query;
    if (answer === null || answeredMs === null || waitFromMs === null || markerAtWait === null || incarnation === null) return;
    const describe = `blocking query on ${query.node} (${query.service}, index ${query.index}, sent ${query.sentMs.toFixed(1)}, waiting from ${waitFromMs.toFixed(1)})`;
    if (answer.revision < query.index) this.fail(`registry: ${describe} answered revision ${answer.revision}, below its index`);
    if (markerAtWait > query.index && answeredMs > waitFromMs) {
      this.fail(
        `registry: ${describe} missed a change: the service was at revision ${markerAtWait} when it began to wait, ` +
          `yet it answered only at ${answeredMs.toFixed(1)} (revision ${answer.revision})`,
      );
      return;
    }
    const changes = this.changesDuring(incarnation, waitFromMs, answeredMs);
    const missed = changes.find((change) => change.revision > query.index && change.atMs < answeredMs);
    if (missed !== undefined) {
      this.fail(
        `registry: ${describe} missed a change: revision ${missed.revision} applied there at ${missed.atMs.toFixed(1)}, ` +
          `the query answered only at ${answeredMs.toFixed(1)} (revision ${answer.revision})`,
      );
      return;
    }
    // The replica's revision when it answered: the last one reached before that instant, or one
    // reached at that very instant (several entries apply at one instant; the answer may come
    // between them).
    const before = Math.max(markerAtWait, ...changes.filter((change) => change.atMs < answeredMs).map((change) => change.revision));
    const allowed = [before, ...changes.filter((change) => change.atMs === answeredMs).map((change) => change.revision)];
    if (!allowed.includes(answer.revision)) {
      this.fail(`registry: ${describe} answered revision ${answer.revision}, but the replica was at ${allowed.join(' or ')} then`);
      return;
    }
    const list = answer.ids.join(',');
    if (list !== listAt(answer.revision)) {
      this.fail(`registry: ${describe} answered [${list}] at revision ${answer.revision}, the log gives [${listAt(answer.revision)}]`);
    }
  }

  private checkWatch(watch: WatchRecord, listAt: (revision: number) => string): void {
    const first = watch.frames[0];
    if (first === undefined) return;
    const describe = `watch on ${watch.node} (${watch.service}, opened ${watch.openedMs.toFixed(1)})`;
    let last = -1;
    for (const frame of watch.frames) {
      if (frame.revision <= last) {
        this.fail(`registry: ${describe} sent revision ${frame.revision} after ${last}`);
        return;
      }
      last = frame.revision;
      const list = frame.ids.join(',');
      if (list !== listAt(frame.revision)) {
        this.fail(`registry: ${describe} sent [${list}] at revision ${frame.revision}, the log gives [${listAt(frame.revision)}]`);
        return;
      }
    }
    const sent = new Set(watch.frames.map((frame) => frame.revision));
    const untilMs = watch.closedMs ?? Number.POSITIVE_INFINITY;
    for (const change of this.changesDuring(watch.incarnation, first.atMs, untilMs)) {
      if (change.revision <= first.revision || change.atMs >= untilMs || sent.has(change.revision)) continue;
      this.fail(`registry: ${describe} skipped a change: revision ${change.revision} applied there at ${change.atMs.toFixed(1)} and was never sent`);
      return;
    }
  }
}
