/**
 * The floors the suite's figures are read against, measured on this machine by the same code:
 *
 *   - fdatasync of a 4 KiB write, in a temp file on the filesystem of the data dirs: once into a
 *     preallocated file (as a WAL with preallocated segments writes: only data to flush) and once
 *     appending to a growing file (as LevelDB's log does: the size changes too, so the inode is
 *     flushed with the data). p50/p99 of write + fdatasync;
 *   - the round trip of an empty HTTP request to a bare node:http server in a process of its own,
 *     through the suite's own load generator: 1 in flight (p50/p99) and 64 in flight (req/s), and
 *     the server's CPU time per request at each (from /proc). At 1 in flight every request wakes
 *     the server from idle, so that figure is what one wake-up and one small message cost a
 *     process on this machine; at 64 in flight the wake-ups are shared by many requests.
 *
 * No durable write can be faster than one fdatasync plus one HTTP round trip; no workload at N in
 * flight can beat the bare server's rate. Printed next to every figure, never asserted.
 */
import { spawn } from 'node:child_process';
import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { LatencyHistogram, type LatencySummary } from './load/histogram.ts';
import { expectStatus, runLoad, type LoadResult, type Operation } from './load/generator.ts';
import type { EndpointPools } from './load/pools.ts';
import { CpuMeter } from './load/proc-cpu.ts';

const BARE_SERVER = fileURLToPath(new URL('./load/bare-http-server.ts', import.meta.url));
const BLOCK_BYTES = 4096;

export interface FloorOptions {
  readonly fsyncSamples: number;
  readonly fsyncBudgetMs: number;
  readonly httpOps: number;
  readonly httpBudgetMs: number;
  readonly httpInFlight: number;
}

export const DEFAULT_FLOOR_OPTIONS: FloorOptions = { fsyncSamples: 5_000, fsyncBudgetMs: 3_000, httpOps: 500_000, httpBudgetMs: 3_000, httpInFlight: 64 };

export interface Floors {
  readonly fsyncPreallocated: LatencySummary;
  readonly fsyncAppend: LatencySummary;
  readonly httpOne: LoadResult;
  readonly httpMany: LoadResult;
  readonly httpManyInFlight: number;
  /** The bare server's CPU time per request at 1 in flight (each request wakes it), in µs. */
  readonly serverCpuPerRequestOneUs: number;
  /** The bare server's CPU time per request at `httpManyInFlight`, in µs. */
  readonly serverCpuPerRequestUs: number;
}

/** write + fdatasync of 4 KiB blocks, one after another, until the count or the budget. */
function measureFdatasync(dir: string, options: FloorOptions, preallocated: boolean): LatencySummary {
  const scratch = mkdtempSync(path.join(dir, 'fsync-floor-'));
  const file = path.join(scratch, 'blocks');
  const block = Buffer.alloc(BLOCK_BYTES, 0x61);
  const fd = openSync(file, 'w');
  try {
    if (preallocated) {
      const zeros = Buffer.alloc(BLOCK_BYTES * 256);
      for (let written = 0; written < options.fsyncSamples * BLOCK_BYTES; written += zeros.length) writeSync(fd, zeros, 0, zeros.length, written);
      fdatasyncSync(fd);
    }
    const histogram = new LatencyHistogram();
    const deadline = performance.now() + options.fsyncBudgetMs;
    for (let sample = 0; sample < options.fsyncSamples && performance.now() < deadline; sample++) {
      const before = process.hrtime.bigint();
      writeSync(fd, block, 0, BLOCK_BYTES, sample * BLOCK_BYTES);
      fdatasyncSync(fd);
      histogram.recordNs(Number(process.hrtime.bigint() - before));
    }
    return histogram.summary();
  } finally {
    closeSync(fd);
    rmSync(scratch, { recursive: true, force: true });
  }
}

interface BareServer {
  readonly url: string;
  readonly pid: number;
  stop(): Promise<void>;
}

async function startBareServer(): Promise<BareServer> {
  const child = spawn(process.execPath, ['--import', 'tsx', BARE_SERVER], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error('the bare HTTP server did not start within 20 s')), 20_000);
    const stdout = child.stdout;
    if (stdout === null) throw new Error('the bare HTTP server has no stdout');
    stdout.setEncoding('utf8');
    stdout.on('data', (chunk: string) => {
      output += chunk;
      const line = output.split('\n').find((candidate) => candidate.startsWith('{'));
      if (line !== undefined) {
        clearTimeout(timer);
        resolve((JSON.parse(line) as { port: number }).port);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the bare HTTP server exited with ${code} before listening`));
    });
  });
  if (child.pid === undefined) throw new Error('the bare HTTP server has no pid');
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid,
    async stop() {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

export async function measureFloors(pools: EndpointPools, scratchDir: string, options: FloorOptions, progress: (line: string) => void): Promise<Floors> {
  progress(`floor: fdatasync of 4 KiB writes in ${scratchDir} (${options.fsyncSamples} or ${options.fsyncBudgetMs / 1000} s, preallocated, then appending)`);
  const fsyncPreallocated = measureFdatasync(scratchDir, options, true);
  const fsyncAppend = measureFdatasync(scratchDir, options, false);
  const server = await startBareServer();
  try {
    const operation: Operation = async (context) => expectStatus(await context.send({ method: 'GET', path: '/' }));
    // Opens the connections and warms the server's JIT; not counted.
    await runLoad(pools, { endpoints: [server.url], inFlight: options.httpInFlight, maxOps: options.httpOps, budgetMs: Math.min(1_000, options.httpBudgetMs), operation });
    progress(`floor: empty HTTP requests to a bare node:http server, 1 in flight (${options.httpBudgetMs / 1000} s)`);
    const oneMeter = new CpuMeter([server.pid]);
    const httpOne = await runLoad(pools, { endpoints: [server.url], inFlight: 1, maxOps: options.httpOps, budgetMs: options.httpBudgetMs, operation });
    const serverCpuPerRequestOneUs = oneMeter.microsecondsPer(httpOne.succeeded);
    progress(`floor: empty HTTP requests, ${options.httpInFlight} in flight (${options.httpBudgetMs / 1000} s)`);
    const manyMeter = new CpuMeter([server.pid]);
    const httpMany = await runLoad(pools, { endpoints: [server.url], inFlight: options.httpInFlight, maxOps: options.httpOps, budgetMs: options.httpBudgetMs, operation });
    return {
      fsyncPreallocated,
      fsyncAppend,
      httpOne,
      httpMany,
      httpManyInFlight: options.httpInFlight,
      serverCpuPerRequestOneUs,
      serverCpuPerRequestUs: manyMeter.microsecondsPer(httpMany.succeeded),
    };
  } finally {
    await server.stop();
  }
}
