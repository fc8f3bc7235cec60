/**
 * One worker of the pool. While it runs it
 * - serves a tiny status page (GET / → JSON) and registers that address in the registry, on a
 *   lease the SDK heartbeats — if the process dies, the instance disappears within its TTL;
 * - campaigns for the pool's coordinator election and, while elected, hands out jobs
 *   (coordinator.ts) — besides working, like every other worker;
 * - works off the jobs assigned to it: each under the job's lock, the result written with the
 *   lock's fencing token and only if absent, so a job's result is written once even when a
 *   paused worker wakes up after its lock went to someone else.
 *
 * stop() shuts down gracefully: no new jobs; the job in hand finishes and its lock is released;
 * the coordinator (if this is it) resigns so another worker takes over at once; the instance is
 * deregistered, so the coordinator moves this worker's remaining assignments elsewhere.
 */
import { createServer, type Server } from 'node:http';
import { ConcordError, type Concord, type Registration } from 'concord';
import { coordinate, pause } from './coordinator.ts';
import { computeJob, lastSegment, type JobRecord, type PoolKeys, type ResultRecord } from './pool-keys.ts';

export interface WorkerOptions {
  readonly id: string;
  /** TTL of the worker's registration, its job locks and its leadership. */
  readonly ttlMs: number;
  /** How long one job's work takes (a stand-in for real work). */
  readonly workMs: number;
  /** How often an idle worker looks for assignments, and the coordinator's round interval. */
  readonly pollMs: number;
  readonly maxPerWorker: number;
  readonly log: (message: string) => void;
}

export class PoolWorker {
  /** The jobs this worker completed, in order. */
  readonly completed: ResultRecord[] = [];
  private readonly stopping = new AbortController();
  private statusServer: Server | null = null;
  private registration: Registration | null = null;
  private loops: Promise<unknown>[] = [];
  private coordinating = false;

  constructor(
    private readonly concord: Concord,
    private readonly keys: PoolKeys,
    readonly options: WorkerOptions,
  ) {}

  async start(): Promise<void> {
    const port = await this.serveStatus();
    this.registration = await this.concord.registry.register({
      service: this.keys.service,
      id: this.options.id,
      address: '127.0.0.1',
      port,
      ttlMs: this.options.ttlMs,
      meta: { pid: String(process.pid) },
    });
    this.options.log(`${this.options.id}: registered (status on 127.0.0.1:${port})`);
    this.loops = [this.workLoop(), this.campaignLoop()];
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    // Both loops end on their own: the work loop after the job in hand, the campaign loop
    // after resigning. Their failures were logged; shutting down goes on regardless.
    await Promise.allSettled(this.loops);
    await this.registration?.deregister().catch((error: unknown) => this.options.log(`${this.options.id}: deregister failed: ${String(error)}`));
    await new Promise<void>((resolve) => (this.statusServer === null ? resolve() : this.statusServer.close(() => resolve())));
    this.options.log(`${this.options.id}: stopped after ${this.completed.length} job(s)`);
  }

  private serveStatus(): Promise<number> {
    const server = createServer((_request, response) => {
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify({ id: this.options.id, coordinating: this.coordinating, completed: this.completed.length }));
    });
    this.statusServer = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        if (address === null || typeof address === 'string') reject(new Error('status server has no port'));
        else resolve(address.port);
      });
    });
  }

  private async campaignLoop(): Promise<void> {
    const signal = this.stopping.signal;
    const election = this.concord.election(this.keys.coordinatorElection);
    while (!signal.aborted) {
      try {
        // Wait in line in bounded chunks (a node holds one waiting campaign for at most 120 s).
        const leadership = await election.campaign(this.options.id, { ttlMs: this.options.ttlMs, waitMs: 30_000, owner: this.options.id, signal });
        this.coordinating = true;
        this.options.log(`${this.options.id}: elected coordinator (token ${leadership.token})`);
        try {
          await coordinate(this.concord, this.keys, leadership, { workerId: this.options.id, intervalMs: this.options.pollMs, maxPerWorker: this.options.maxPerWorker, signal, log: this.options.log });
        } finally {
          this.coordinating = false;
          await leadership.resign().catch(() => undefined);
          this.options.log(`${this.options.id}: no longer coordinator`);
        }
      } catch (error) {
        if (signal.aborted) return;
        if (error instanceof ConcordError && error.code === 'locked') continue; // still in line
        this.options.log(`${this.options.id}: campaign failed: ${String(error)}`);
        await pause(this.options.pollMs, signal);
      }
    }
  }

  private async workLoop(): Promise<void> {
    const signal = this.stopping.signal;
    while (!signal.aborted) {
      let assigned;
      try {
        assigned = await this.concord.kv.range(this.keys.assignmentsOf(this.options.id), { signal });
      } catch (error) {
        if (signal.aborted) return;
        this.options.log(`${this.options.id}: cannot list assignments: ${String(error)}`);
        await pause(this.options.pollMs, signal);
        continue;
      }
      for (const assignment of assigned.items) {
        if (signal.aborted) return;
        await this.runJob(lastSegment(assignment.key), assignment.modRevision);
      }
      if (assigned.items.length === 0) await pause(this.options.pollMs, signal);
    }
  }

  /** Does one assigned job under its lock, then clears the assignment. Failures leave the assignment for another try. */
  private async runJob(jobId: string, assignmentRevision: number): Promise<void> {
    const { concord, keys } = this;
    try {
      await concord.withLock(
        keys.jobLock(jobId),
        async (token, lockSignal, lock) => {
          // Another holder of this lock may have finished the job already (a job moved after
          // its worker left the registry while still working on it).
          if ((await concord.kv.get(keys.result(jobId), { signal: lockSignal })) !== null) return;
          const job = await concord.kv.get(keys.job(jobId), { signal: lockSignal });
          if (job === null) return;
          const { input } = JSON.parse(job.value) as JobRecord;
          await pause(this.options.workMs, lockSignal);
          // Lost the lock while working: write nothing, keep the assignment, try again later.
          if (lockSignal.aborted) throw lockSignal.reason;
          const result: ResultRecord = { worker: this.options.id, token, input, output: computeJob(input) };
          // Fenced (refused once a later token holds the lock) and only if absent: written once.
          await concord.kv.put(keys.result(jobId), JSON.stringify(result), { fence: lock.fence, ifRevision: 0, signal: lockSignal });
          this.completed.push(result);
          this.options.log(`${this.options.id}: ${jobId} done with token ${token}`);
        },
        { ttlMs: this.options.ttlMs, waitMs: 10_000, owner: this.options.id },
      );
      await concord.kv.delete(keys.assignment(this.options.id, jobId), { ifRevision: assignmentRevision });
    } catch (error) {
      // stale_token / lock_lost: this worker lost the lock; locked: someone else holds it for
      // now; compare_failed: the result exists or the assignment moved. Next round decides.
      const code = error instanceof ConcordError ? error.code : String(error);
      this.options.log(`${this.options.id}: ${jobId} not completed here (${code})`);
      await pause(this.options.pollMs, this.stopping.signal);
    }
  }
}
