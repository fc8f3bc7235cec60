/**
 * The watch feed: every change the store makes, in revision order, retained for watchers that
 * start in the past or reconnect (`fromRevision = last seen modRevision + 1`), and pushed to live
 * listeners after each apply.
 *
 * Invariant: the history holds every event of the revisions after `compactRevision`, so a
 * watcher from any such revision sees no gap. Retention is bounded by a count of events; beyond
 * it whole revisions are dropped, oldest first (never part of one, so a txn's events stay
 * together), and `compactRevision` moves up to the last revision dropped. A compact command
 * drops history explicitly the same way.
 */
import { assert } from '../common/assert.ts';
import { type KeyFilter, type WatchEvent, matchesFilter } from './types.ts';

/** The events of one applied entry, all at one revision. */
export interface WatchBatch {
  readonly revision: number;
  readonly events: readonly WatchEvent[];
}

export type WatchListener = (batch: WatchBatch) => void;

export type EventsSinceResult =
  /** The matching events from `fromRevision` through `revision` (the store's now). */
  | { readonly compacted: false; readonly revision: number; readonly events: readonly WatchEvent[] }
  /** History from `fromRevision` is gone; watch again from `compactRevision + 1` (or resync). */
  | { readonly compacted: true; readonly compactRevision: number };

export interface EventsSinceOptions {
  /** Keep each event's `prev` (the contract's `prevValue=true`); dropped otherwise. */
  readonly prevValue?: boolean;
}

// Dropped events are skipped by moving `head`; the array is trimmed once the dead part dominates.
const TRIM_MIN_DEAD = 1024;

export class WatchFeed {
  private events: WatchEvent[] = [];
  private head = 0;
  private compactedThrough = 0;
  private readonly listeners = new Set<WatchListener>();

  constructor(private bound: number) {
    assert(Number.isSafeInteger(bound) && bound >= 0, () => `history bound ${bound}`);
  }

  /** The most events retained. */
  get maxEvents(): number {
    return this.bound;
  }

  /** Revisions up to this one are no longer retained. */
  get compactRevision(): number {
    return this.compactedThrough;
  }

  get size(): number {
    return this.events.length - this.head;
  }

  /** Records one revision's events (in order) and enforces the bound. */
  append(revision: number, events: readonly WatchEvent[]): void {
    const last = this.events[this.events.length - 1];
    assert(last === undefined || revision > last.modRevision, () => `watch revision ${revision} out of order`);
    for (const event of events) {
      assert(event.modRevision === revision, 'event tagged with another revision');
      this.events.push(event);
    }
    while (this.size > this.bound) this.dropOldestRevision();
  }

  /** Drops history through `revision` (the caller checked it is not in the future). */
  compact(revision: number): void {
    while (this.size > 0 && this.eventAt(this.head).modRevision <= revision) this.dropOldestRevision();
    this.compactedThrough = Math.max(this.compactedThrough, revision);
  }

  /** Matching events from `fromRevision` (inclusive), or `compacted` if they are gone. */
  eventsSince(
    fromRevision: number,
    filter: KeyFilter,
    currentRevision: number,
    options: EventsSinceOptions = {},
  ): EventsSinceResult {
    if (fromRevision <= this.compactedThrough) return { compacted: true, compactRevision: this.compactedThrough };
    const matching: WatchEvent[] = [];
    for (let i = this.firstIndexFrom(fromRevision); i < this.events.length; i++) {
      const event = this.eventAt(i);
      if (matchesFilter(event.key, filter)) matching.push(options.prevValue === true ? event : withoutPrev(event));
    }
    return { compacted: false, revision: currentRevision, events: matching };
  }

  /** Calls `listener` after every apply that produced events; returns its unsubscribe. */
  onEvents(listener: WatchListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Hands one apply's events to the listeners (state is complete; a listener must not throw). */
  publish(batch: WatchBatch): void {
    for (const listener of this.listeners) listener(batch);
  }

  /** Retained events, oldest first (snapshots). */
  retained(): WatchEvent[] {
    return this.events.slice(this.head);
  }

  /** Replaces the history (restore); listeners stay subscribed. */
  load(bound: number, compactRevision: number, events: readonly WatchEvent[]): void {
    assert(Number.isSafeInteger(bound) && bound >= 0 && events.length <= bound, 'snapshot history exceeds its bound');
    for (let i = 0; i < events.length; i++) {
      const event = events[i] as WatchEvent;
      const previous = events[i - 1];
      const ordered = previous === undefined || previous.modRevision <= event.modRevision;
      assert(event.modRevision > compactRevision && ordered, 'snapshot history out of order');
    }
    this.bound = bound;
    this.compactedThrough = compactRevision;
    this.events = [...events];
    this.head = 0;
  }

  private eventAt(index: number): WatchEvent {
    const event = this.events[index];
    assert(event !== undefined, () => `no event at ${index}`);
    return event;
  }

  private dropOldestRevision(): void {
    const revision = this.eventAt(this.head).modRevision;
    while (this.head < this.events.length && this.eventAt(this.head).modRevision === revision) this.head++;
    this.compactedThrough = Math.max(this.compactedThrough, revision);
    if (this.head >= TRIM_MIN_DEAD && this.head * 2 >= this.events.length) {
      this.events = this.events.slice(this.head);
      this.head = 0;
    }
  }

  /** Index of the first retained event at or after `revision` (binary search). */
  private firstIndexFrom(revision: number): number {
    let low = this.head;
    let high = this.events.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.eventAt(middle).modRevision < revision) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}

function withoutPrev(event: WatchEvent): WatchEvent {
  if (event.prev === undefined) return event;
  const { prev: _prev, ...rest } = event;
  return rest;
}
