/**
 * The coordinator: whichever worker wins the pool's election hands out jobs while it leads.
 * Every few hundred milliseconds it compares the jobs with the results, the assignments and the
 * live workers (the registry), then
 * - assigns each job that has no result and no assignment to the live worker with the fewest
 *   outstanding assignments (up to `maxPerWorker` each);
 * - moves the assignments of workers that left the registry (deregistered, or their lease
 *   expired) to live workers, in one transaction per job.
 *
 * Every write is fenced with the leadership's token: once another worker has been elected, a
 * deposed coordinator that is still running (paused, partitioned) gets `stale_token` and stops,
 * instead of handing out jobs beside the new one.
 */
import { ConcordError, Op, type Concord, type KeyValue, type Leadership } from 'concord';
import { lastSegment, type AssignmentRecord, type PoolKeys } from './pool-keys.ts';

export interface CoordinatorOptions {
  readonly workerId: string;
  /** Time between rounds. */
  readonly intervalMs: number;
  /** Outstanding assignments per worker at most. */
  readonly maxPerWorker: number;
  /** Ends the coordinator (shutdown). */
  readonly signal: AbortSignal;
  readonly log: (message: string) => void;
}

interface Assignment {
  readonly workerId: string;
  readonly jobId: string;
  readonly key: KeyValue;
}

/** Coordinates until the leadership is lost or `options.signal` fires. */
export async function coordinate(concord: Concord, keys: PoolKeys, leadership: Leadership, options: CoordinatorOptions): Promise<void> {
  const stop = AbortSignal.any([options.signal, leadership.signal]);
  const record: AssignmentRecord = { coordinator: options.workerId, leadershipToken: leadership.token };
  while (!stop.aborted) {
    try {
      await assignRound(concord, keys, leadership, JSON.stringify(record), options, stop);
    } catch (error) {
      if (stop.aborted) return;
      // stale_token: another coordinator was elected; our leadership handle will notice too.
      if (error instanceof ConcordError && error.code === 'stale_token') {
        options.log('coordinator: deposed (stale leadership token), stopping');
        return;
      }
      if (!(error instanceof ConcordError && error.retryable)) throw error;
      options.log(`coordinator: round failed (${error.code}), retrying`);
    }
    await pause(options.intervalMs, stop);
  }
}

async function assignRound(concord: Concord, keys: PoolKeys, leadership: Leadership, record: string, options: CoordinatorOptions, signal: AbortSignal): Promise<void> {
  const [jobs, results, assignmentKeys, workers] = await Promise.all([
    concord.kv.range(keys.jobsPrefix, { signal }),
    concord.kv.range(keys.resultsPrefix, { signal }),
    concord.kv.range(keys.assignmentsPrefix, { signal }),
    concord.registry.discover(keys.service, { status: 'passing', signal }),
  ]);
  const done = new Set(results.items.map((item) => lastSegment(item.key)));
  const assignments = assignmentKeys.items.map((key): Assignment => {
    const [workerId = '', jobId = ''] = key.key.slice(keys.assignmentsPrefix.length).split('/');
    return { workerId, jobId, key };
  });
  const live = new Set(workers.instances.map((instance) => instance.id));
  const load = new Map([...live].map((workerId) => [workerId, 0]));
  for (const assignment of assignments) if (load.has(assignment.workerId)) load.set(assignment.workerId, (load.get(assignment.workerId) ?? 0) + 1);
  const leastLoaded = (): string | undefined => {
    const [best] = [...load.entries()].filter(([, count]) => count < options.maxPerWorker).sort(([a, ca], [b, cb]) => ca - cb || a.localeCompare(b));
    if (best === undefined) return undefined;
    load.set(best[0], best[1] + 1);
    return best[0];
  };

  // Orphans first. A worker that left after writing its result but before clearing its
  // assignment left that assignment behind: drop it.
  const orphans = assignments.filter((assignment) => !live.has(assignment.workerId));
  for (const leftover of orphans.filter((assignment) => done.has(assignment.jobId))) {
    await concord.kv.txn().compare(leftover.key.key, 'modRevision', '==', leftover.key.modRevision).success(Op.delete(leftover.key.key)).fence(leadership.fence).commit({ signal });
  }
  // A job whose worker left unfinished goes to a live worker, atomically (delete + put).
  for (const orphan of orphans.filter((assignment) => !done.has(assignment.jobId))) {
    const target = leastLoaded();
    if (target === undefined) break;
    const moved = await concord.kv
      .txn()
      .compare(orphan.key.key, 'modRevision', '==', orphan.key.modRevision)
      .success(Op.delete(orphan.key.key), Op.put(keys.assignment(target, orphan.jobId), record))
      .fence(leadership.fence)
      .commit({ signal });
    if (moved.succeeded) options.log(`coordinator: ${orphan.jobId} moved from ${orphan.workerId} (gone) to ${target}`);
  }

  const assigned = new Set(assignments.map((assignment) => assignment.jobId));
  for (const job of jobs.items) {
    const jobId = lastSegment(job.key);
    if (done.has(jobId) || assigned.has(jobId)) continue;
    const target = leastLoaded();
    if (target === undefined) return;
    try {
      await concord.kv.put(keys.assignment(target, jobId), record, { ifRevision: 0, fence: leadership.fence, signal });
      options.log(`coordinator: ${jobId} -> ${target}`);
    } catch (error) {
      // Already assigned (a retried round): nothing to do.
      if (!(error instanceof ConcordError && error.code === 'compare_failed')) throw error;
    }
  }
}

/** Waits `ms`, or less if `signal` fires. */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}
