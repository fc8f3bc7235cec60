/**
 * The worker-pool example: submits jobs, runs a pool of workers that elect a coordinator, take a
 * lock per job and write fenced results, waits until every job has its result, then shuts the
 * workers down gracefully and prints who did what. See examples/README.md.
 *
 *   npm start                                # a local cluster, in another terminal
 *   npm run example:worker-pool              # 3 workers, 12 jobs
 *   npm run example:worker-pool -- --workers 5 --jobs 40 --work-ms 50
 *   npm run example:worker-pool -- --jobs 0  # join the pool as workers only, until Ctrl-C
 */
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { Concord, ConcordError } from 'concord';
import { pause } from './coordinator.ts';
import { lastSegment, PoolKeys, type ResultRecord } from './pool-keys.ts';
import { PoolWorker } from './worker.ts';

const USAGE = `usage: worker-pool [--endpoints URL,...] [--pool NAME] [--workers N] [--jobs N]
                   [--work-ms N] [--ttl-ms N] [--json]

  --endpoints   client URLs (default $CONCORD_ENDPOINTS, else the npm start cluster)
  --pool        the pool's name: its key prefix, registry service and election (default worker-pool)
  --workers     workers to run in this process (default 3)
  --jobs        jobs to submit (job-0001 ...); the program ends once each has a result.
                0: submit nothing, work until Ctrl-C (default 12)
  --work-ms     how long one job takes (default 100)
  --ttl-ms      TTL of registrations, job locks and the coordinator's leadership (default 5000)
  --json        print the results as one JSON document at the end`;

function positive(text: string | undefined, fallback: number, name: string, allowZero = false): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < (allowZero ? 0 : 1)) throw new Error(`--${name} must be a ${allowZero ? 'non-negative' : 'positive'} integer`);
  return value;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      endpoints: { type: 'string' },
      pool: { type: 'string' },
      workers: { type: 'string' },
      jobs: { type: 'string' },
      'work-ms': { type: 'string' },
      'ttl-ms': { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    console.log(USAGE);
    return 0;
  }
  const endpoints = values.endpoints ?? (process.env['CONCORD_ENDPOINTS'] || 'http://127.0.0.1:7001,http://127.0.0.1:7002,http://127.0.0.1:7003');
  const keys = new PoolKeys(values.pool ?? 'worker-pool');
  const workerCount = positive(values.workers, 3, 'workers', true);
  const jobCount = positive(values.jobs, 12, 'jobs', true);
  const workMs = positive(values['work-ms'], 100, 'work-ms', true);
  const ttlMs = positive(values['ttl-ms'], 5_000, 'ttl-ms');
  const json = values.json === true;
  // Progress goes to stderr, so --json leaves stdout to the result document.
  const log = (message: string): void => void process.stderr.write(`${message}\n`);

  const interrupted = new AbortController();
  const onSignal = (): void => interrupted.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const submitter = new Concord({ endpoints });
  const workers: PoolWorker[] = [];
  const clients: Concord[] = [submitter];
  try {
    const jobIds = Array.from({ length: jobCount }, (_, index) => `job-${String(index + 1).padStart(4, '0')}`);
    await submit(submitter, keys, jobIds, log);

    // One client per worker: each stands for a process of its own (and fails over on its own).
    const host = hostname().replace(/[^A-Za-z0-9.-]/g, '-');
    for (let index = 1; index <= workerCount; index++) {
      const concord = new Concord({ endpoints });
      clients.push(concord);
      workers.push(new PoolWorker(concord, keys, { id: `${host}-${process.pid}-w${index}`, ttlMs, workMs, pollMs: 200, maxPerWorker: 2, log }));
    }
    await Promise.all(workers.map((worker) => worker.start()));

    const finished = jobCount === 0 ? false : await allDone(submitter, keys, jobIds, interrupted.signal);
    if (!finished && jobCount === 0) await new Promise<void>((resolve) => interrupted.signal.addEventListener('abort', () => resolve(), { once: true }));
    log(finished ? 'every job has its result; shutting down' : 'interrupted; shutting down');
    await Promise.all(workers.map((worker) => worker.stop()));
    if (jobCount > 0) await report(submitter, keys, jobIds, json);
    return finished || jobCount === 0 ? 0 : 130;
  } catch (error) {
    log(`worker-pool: ${error instanceof ConcordError ? `${error.message} (${error.code})` : String(error)}`);
    await Promise.allSettled(workers.map((worker) => worker.stop()));
    return 1;
  } finally {
    await Promise.allSettled(clients.map((client) => client.close()));
  }
}

/** Puts each job if it is not there yet (so running the example again adds nothing twice). */
async function submit(concord: Concord, keys: PoolKeys, jobIds: readonly string[], log: (message: string) => void): Promise<void> {
  let added = 0;
  for (const [index, jobId] of jobIds.entries()) {
    try {
      await concord.kv.put(keys.job(jobId), JSON.stringify({ input: 1_000 * (index + 1) }), { ifRevision: 0 });
      added++;
    } catch (error) {
      if (!(error instanceof ConcordError && error.code === 'compare_failed')) throw error;
    }
  }
  log(`submitted ${added} job(s) under ${keys.jobsPrefix} (${jobIds.length - added} already there)`);
}

/** Resolves true once every job has a result, false if interrupted first. */
async function allDone(concord: Concord, keys: PoolKeys, jobIds: readonly string[], signal: AbortSignal): Promise<boolean> {
  const wanted = new Set(jobIds);
  while (!signal.aborted) {
    const results = await concord.kv.range(keys.resultsPrefix, { signal }).catch((error: unknown) => {
      if (signal.aborted) return null;
      throw error;
    });
    if (results !== null && results.items.filter((item) => wanted.has(lastSegment(item.key))).length === wanted.size) return true;
    await pause(250, signal);
  }
  return false;
}

async function report(concord: Concord, keys: PoolKeys, jobIds: readonly string[], json: boolean): Promise<void> {
  const wanted = new Set(jobIds);
  const results = (await concord.kv.range(keys.resultsPrefix)).items.filter((item) => wanted.has(lastSegment(item.key)));
  const rows = results.map((item) => ({ job: lastSegment(item.key), revision: item.modRevision, ...(JSON.parse(item.value) as ResultRecord) }));
  if (json) {
    process.stdout.write(`${JSON.stringify({ pool: keys.pool, results: rows })}\n`);
    return;
  }
  console.log(`${'JOB'.padEnd(10)}  ${'WORKER'.padEnd(28)}  TOKEN  OUTPUT`);
  for (const row of rows) console.log(`${row.job.padEnd(10)}  ${row.worker.padEnd(28)}  ${String(row.token).padEnd(5)}  ${row.output}`);
  console.log(`${rows.length} of ${jobIds.length} job(s) have a result`);
}

// exit() rather than exitCode: closed keep-alive sockets may linger in their close timeouts.
process.exit(await main());
