/**
 * The watch workload's checks.
 *
 * - **watch streams gapless and identical**: every watcher reached the end marker; its events
 *   have strictly increasing revisions (no duplicate, no reordering); every watcher saw exactly
 *   the same sequence (key, type, value, revision), and that sequence is the one a fresh watch
 *   replays from the start revision afterwards (when the history still holds it). So no
 *   watcher skipped a revision that another watcher, the replay, or an acknowledged write
 *   (next check) says the prefix had.
 * - **watch events match the writes**: every acknowledged put appears at the revision it was
 *   acknowledged with, with its value, and every acknowledged delete that deleted something at
 *   its revision; every event is the effect of a write that was sent and not refused — a put
 *   with that (unique) value, a delete of that key — never of a write that failed or never was.
 * - **watch final state**: the events applied in order to an empty prefix give exactly the
 *   keys and values a linearizable read of the prefix returns at the end.
 */
import type { CheckResult } from './checks.ts';
import type { SeenEvent, WatcherLog, WatchWrite } from './workloads/watch.ts';

const show = (event: SeenEvent): string => `${event.revision} ${event.type} ${event.key}${event.value === null ? '' : `=${event.value}`}`;

export interface WatchEvidence {
  readonly watchers: readonly WatcherLog[];
  /** A fresh replay from the start revision, or why there is none. */
  readonly replay: readonly SeenEvent[] | string;
  readonly writes: readonly WatchWrite[];
  readonly endRevision: number | null;
}

export function checkWatchStreams({ watchers, replay, endRevision }: WatchEvidence): CheckResult {
  const name = 'watch streams gapless and identical';
  if (watchers.length === 0) return { name, verdict: 'skipped', detail: 'no watchers' };
  const problems: string[] = [];
  for (const log of watchers) {
    if (log.gaveUp !== null) problems.push(`watcher ${log.watcher} gave up: ${log.gaveUp}`);
    for (let i = 1; i < log.events.length; i++) {
      const before = log.events[i - 1];
      const after = log.events[i];
      if (before !== undefined && after !== undefined && after.revision <= before.revision) {
        problems.push(`watcher ${log.watcher}: ${show(after)} after ${show(before)} (${after.revision === before.revision ? 'duplicate' : 'out of order'})`);
        break;
      }
    }
    if (endRevision !== null && log.lastRevision < endRevision && log.gaveUp === null) problems.push(`watcher ${log.watcher} stopped at ${log.lastRevision}, before the end marker at ${endRevision}`);
  }
  const reference = typeof replay === 'string' ? watchers[0]?.events ?? [] : replay;
  const referenceName = typeof replay === 'string' ? `watcher ${watchers[0]?.watcher ?? 0}` : 'the replay';
  for (const log of watchers) {
    const divergence = firstDifference(reference, log.events, endRevision);
    if (divergence !== null) problems.push(`watcher ${log.watcher} differs from ${referenceName}: ${divergence}`);
  }
  const connects = watchers.reduce((sum, log) => sum + log.connects, 0);
  const replayNote = typeof replay === 'string' ? `; no replay: ${replay}` : ', same as the replay';
  if (problems.length > 0) return { name, verdict: 'violated', detail: problems[0] ?? '', report: `${problems.join('\n')}\n` };
  return { name, verdict: 'ok', detail: `${watchers.length} watchers, ${reference.length} events each, ${connects} streams opened${replayNote}` };
}

/** Where two event sequences first differ (up to the end marker), or null. */
function firstDifference(expected: readonly SeenEvent[], actual: readonly SeenEvent[], endRevision: number | null): string | null {
  const limit = endRevision ?? Infinity;
  const a = expected.filter((event) => event.revision <= limit);
  const b = actual.filter((event) => event.revision <= limit);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const want = a[i];
    const got = b[i];
    if (want === undefined && got !== undefined) return `extra event ${show(got)}`;
    if (got === undefined && want !== undefined) return `missing ${show(want)} (and ${a.length - i - 1} after it)`;
    if (want !== undefined && got !== undefined && show(want) !== show(got)) {
      return got.revision > want.revision ? `skipped ${show(want)}, saw ${show(got)}` : `expected ${show(want)}, saw ${show(got)}`;
    }
  }
  return null;
}

export function checkWatchMatchesWrites(events: readonly SeenEvent[], writes: readonly WatchWrite[], startRevision: number): CheckResult {
  const name = 'watch events match the writes';
  if (writes.length === 0) return { name, verdict: 'skipped', detail: 'no watch writes' };
  const problems: string[] = [];
  const atRevision = new Map(events.map((event) => [event.revision, event]));
  for (const write of writes) {
    if (write.status !== 'ok' || write.revision === null) continue;
    const event = atRevision.get(write.revision);
    const wanted: SeenEvent = { revision: write.revision, type: write.f, key: write.key, value: write.value };
    if (event === undefined || show(event) !== show(wanted)) {
      problems.push(`acknowledged ${show(wanted)} ${event === undefined ? 'has no event' : `but the event at that revision is ${show(event)}`}`);
    }
  }
  const putsByValue = new Map<string, WatchWrite>();
  const deletesByKey = new Map<string, WatchWrite[]>();
  for (const write of writes) {
    if (write.f === 'put' && write.value !== null) putsByValue.set(write.value, write);
    else deletesByKey.set(write.key, [...(deletesByKey.get(write.key) ?? []), write]);
  }
  for (const event of events) {
    if (event.revision <= startRevision) {
      problems.push(`event ${show(event)} at or before the start revision ${startRevision}`);
      continue;
    }
    if (event.type === 'put') {
      const write = event.value === null ? undefined : putsByValue.get(event.value);
      if (write === undefined) problems.push(`event ${show(event)}: no such put was sent`);
      else if (write.key !== event.key) problems.push(`event ${show(event)}: that value was put to ${write.key}`);
      else if (write.status === 'fail') problems.push(`event ${show(event)}: that put was refused (it had no effect)`);
    } else {
      const candidates = (deletesByKey.get(event.key) ?? []).filter((write) => write.status !== 'fail' && (write.revision === null || write.revision === event.revision));
      if (candidates.length === 0) problems.push(`event ${show(event)}: no delete of that key could have made it`);
    }
  }
  const acked = writes.filter((write) => write.status === 'ok' && write.revision !== null).length;
  if (problems.length > 0) return { name, verdict: 'violated', detail: `${problems.length} problems, e.g. ${problems[0] ?? ''}`, report: `${problems.join('\n')}\n` };
  return { name, verdict: 'ok', detail: `${acked} acknowledged writes seen at their revisions; ${events.length} events all from writes sent` };
}

export function checkWatchFinalState(events: readonly SeenEvent[], finalState: ReadonlyMap<string, string> | string): CheckResult {
  const name = 'watch final state';
  if (typeof finalState === 'string') return { name, verdict: 'violated', detail: `could not read the final state: ${finalState}` };
  const replayed = new Map<string, string>();
  for (const event of events) {
    if (event.type === 'put' && event.value !== null) replayed.set(event.key, event.value);
    else replayed.delete(event.key);
  }
  const problems: string[] = [];
  for (const key of new Set([...replayed.keys(), ...finalState.keys()])) {
    if (replayed.get(key) !== finalState.get(key)) {
      problems.push(`${key}: the events give ${replayed.get(key) ?? '(absent)'}, the store has ${finalState.get(key) ?? '(absent)'}`);
    }
  }
  if (problems.length > 0) return { name, verdict: 'violated', detail: problems[0] ?? '', report: `${problems.join('\n')}\n` };
  return { name, verdict: 'ok', detail: `${finalState.size} keys as the events say` };
}
