// The worker-pool example (examples/worker-pool) run as users run it — its main in a child
// process through tsx with examples/tsconfig.json — against an in-process 3-node cluster. It
// must finish a bounded number of jobs, each exactly once under its lock with fenced writes,
// and leave nothing behind: no registration, no coordinator, no held lock, no assignment.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Concord } from '../../src/client/index.ts';
import { computeJob, PoolKeys, type ResultRecord } from '../../examples/worker-pool/pool-keys.ts';
import { sleep, TestCluster } from '../server/cluster-harness.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

let cluster: TestCluster;
let concord: Concord;

function startExample(args: readonly string[]): { child: ChildProcess; done: Promise<Run> } {
  const endpoints = cluster.members.map((member) => member.url).join(',');
  const child = spawn(process.execPath, ['--import', 'tsx', 'examples/worker-pool/main.ts', '--endpoints', endpoints, ...args], {
    cwd: ROOT,
    env: { ...process.env, TSX_TSCONFIG_PATH: 'examples/tsconfig.json', CONCORD_ENDPOINTS: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const done = new Promise<Run>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the example did not finish; stdout ${stdout} stderr ${stderr}`));
    }, 90_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
  return { child, done };
}

interface StoredResult extends ResultRecord {
  readonly job: string;
  readonly version: number;
  readonly modRevision: number;
}

async function storedResults(keys: PoolKeys): Promise<StoredResult[]> {
  const { items } = await concord.kv.range(keys.resultsPrefix);
  return items.map((item) => ({ job: item.key.slice(keys.resultsPrefix.length), version: item.version, modRevision: item.modRevision, ...(JSON.parse(item.value) as ResultRecord) }));
}

/** Nothing of the pool is left running: registrations, coordinator, held job locks, assignments. */
async function expectCleanShutdown(keys: PoolKeys, jobIds: readonly string[]): Promise<void> {
  expect((await concord.registry.discover(keys.service)).instances).toEqual([]);
  expect(await concord.election(keys.coordinatorElection).leader()).toBeNull();
  for (const jobId of jobIds) expect((await concord.describeLock(keys.jobLock(jobId))).held, jobId).toBe(false);
}

/** Each result was written once, under its job's lock, by a holder whose token the lock's history shows released. */
async function expectDoneOnceUnderLocks(keys: PoolKeys, results: readonly StoredResult[]): Promise<void> {
  for (const result of results) {
    expect(result.version, result.job).toBe(1);
    expect(result.output).toBe(computeJob(result.input));
    const lock = await concord.describeLock(keys.jobLock(result.job));
    const tokens = lock.recent.map((holder) => holder.token);
    expect(tokens, result.job).toEqual([...tokens].sort((a, b) => a - b));
    expect(lock.recent.find((holder) => holder.token === result.token)).toMatchObject({ owner: result.worker, reason: 'released' });
  }
  // One token counter for every lock: tokens are unique, and each worker's grow job by job.
  expect(new Set(results.map((result) => result.token)).size).toBe(results.length);
  for (const worker of new Set(results.map((result) => result.worker))) {
    const tokens = results.filter((result) => result.worker === worker).sort((a, b) => a.modRevision - b.modRevision).map((result) => result.token);
    for (let index = 1; index < tokens.length; index++) expect(tokens[index]!, worker).toBeGreaterThan(tokens[index - 1]!);
  }
}

beforeAll(async () => {
  cluster = await TestCluster.start();
  await cluster.waitForLeader();
  concord = new Concord({ endpoints: cluster.members.map((member) => member.url) });
});

afterAll(async () => {
  await concord?.close();
  await cluster?.stop();
});

describe('the worker-pool example', () => {
  it('does every job once, with a fenced result per job and increasing tokens, then shuts down cleanly', async () => {
    const keys = new PoolKeys('pool-a');
    const jobIds = Array.from({ length: 8 }, (_, index) => `job-${String(index + 1).padStart(4, '0')}`);
    const run = await startExample(['--pool', keys.pool, '--workers', '3', '--jobs', '8', '--work-ms', '50', '--ttl-ms', '3000', '--json']).done;
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/elected coordinator/);

    const printed = JSON.parse(run.stdout) as { pool: string; results: (ResultRecord & { job: string })[] };
    expect(printed.pool).toBe(keys.pool);
    expect(printed.results.map((result) => result.job)).toEqual(jobIds);

    const results = await storedResults(keys);
    expect(results.map((result) => result.job)).toEqual(jobIds);
    expect(printed.results.map((result) => result.token)).toEqual(results.map((result) => result.token));
    await expectDoneOnceUnderLocks(keys, results);
    // The coordinator spread the jobs (at most two outstanding per worker).
    expect(new Set(results.map((result) => result.worker)).size).toBeGreaterThanOrEqual(2);
    expect((await concord.kv.range(keys.assignmentsPrefix)).items).toEqual([]);
    await expectCleanShutdown(keys, jobIds);
  });

  it('on SIGINT mid-run finishes the jobs in hand, then deregisters, resigns and releases (exit 130)', async () => {
    const keys = new PoolKeys('pool-b');
    const jobIds = Array.from({ length: 40 }, (_, index) => `job-${String(index + 1).padStart(4, '0')}`);
    const { child, done } = startExample(['--pool', keys.pool, '--workers', '2', '--jobs', '40', '--work-ms', '300', '--ttl-ms', '3000']);
    const deadline = Date.now() + 30_000;
    while ((await storedResults(keys)).length === 0) {
      if (Date.now() > deadline) throw new Error('no job finished within 30 s');
      await sleep(100);
    }
    child.kill('SIGINT');
    const run = await done;
    expect(run.code, run.stderr).toBe(130);
    expect(run.stderr).toMatch(/interrupted; shutting down/);

    const results = await storedResults(keys);
    expect(results.length).toBeGreaterThan(0);
    expect(results.length).toBeLessThan(jobIds.length);
    await expectDoneOnceUnderLocks(keys, results);
    await expectCleanShutdown(keys, jobIds);
  });
});
