/**
 * The benchmark suite's load generator against bare node:http servers on loopback: it stops at
 * its count, at its time budget and after the drain, counts failures by status and by wire
 * error, routes as told, paces when told, and its histogram's percentiles are ordered. No timing
 * assertions: the bounds checked follow from the servers' own delays, not from the machine.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LatencyHistogram, type LatencySummary } from '../../bench/load/histogram.ts';
import { OK, expectStatus, runLoad } from '../../bench/load/generator.ts';
import { EndpointPools } from '../../bench/load/pools.ts';

interface BareServer {
  readonly url: string;
  readonly requests: { count: number };
  close(): Promise<void>;
}

/** /ok → 200; /status/N → N; /slow/MS → 200 after MS ms; /hang → never answers. */
async function startServer(): Promise<BareServer> {
  const requests = { count: 0 };
  const hung: http.ServerResponse[] = [];
  const server = http.createServer((request, response) => {
    requests.count++;
    const [, route, argument] = (request.url ?? '').split('/');
    if (route === 'status') {
      response.statusCode = Number(argument);
      response.end('{"error":{"code":"test","message":"as asked"}}');
    } else if (route === 'slow') {
      // At least that long in real time: libuv's timers count whole milliseconds of a loop time
      // taken before the handler ran, so one alone may fire up to a millisecond early.
      const until = performance.now() + Number(argument);
      const answerWhenDue = (): void => {
        const left = until - performance.now();
        if (left > 0) setTimeout(answerWhenDue, Math.ceil(left));
        else response.end();
      };
      answerWhenDue();
    } else if (route === 'hang') {
      hung.push(response);
    } else {
      response.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    async close() {
      for (const response of hung) response.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A loopback port with nothing listening (bound, read, closed). */
async function deadEndpoint(): Promise<string> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

function expectOrdered(latency: LatencySummary): void {
  expect(latency.minMs).toBeGreaterThan(0);
  expect(latency.minMs).toBeLessThanOrEqual(latency.p50Ms);
  expect(latency.p50Ms).toBeLessThanOrEqual(latency.p90Ms);
  expect(latency.p90Ms).toBeLessThanOrEqual(latency.p99Ms);
  expect(latency.p99Ms).toBeLessThanOrEqual(latency.p999Ms);
  expect(latency.p999Ms).toBeLessThanOrEqual(latency.maxMs);
}

describe('load generator', () => {
  let server: BareServer;
  let other: BareServer;
  let pools: EndpointPools;

  beforeAll(async () => {
    server = await startServer();
    other = await startServer();
    pools = new EndpointPools({ connectionsPerEndpoint: 64, requestTimeoutMs: 5_000 });
  });

  afterAll(async () => {
    await pools.close();
    await server.close();
    await other.close();
  });

  it('stops at the count, with every operation answered and percentiles in order', async () => {
    const before = server.requests.count;
    const result = await runLoad(pools, {
      endpoints: [server.url],
      inFlight: 8,
      maxOps: 500,
      budgetMs: 60_000,
      operation: async (context) => expectStatus(await context.send({ method: 'GET', path: '/ok' })),
    });
    expect(result.stoppedBy).toBe('count');
    expect(result.started).toBe(500);
    expect(result.succeeded).toBe(500);
    expect(result.failed).toBe(0);
    expect(result.errors).toEqual({});
    expect(server.requests.count - before).toBe(500);
    expect(result.latency.count).toBe(500);
    expectOrdered(result.latency);
    expect(result.opsPerSecond).toBeGreaterThan(0);
  });

  it('stops at the time budget: no operation starts after it', async () => {
    // Every operation takes at least 20 ms at the server, so in a 300 ms budget a worker can
    // start at most 300 / 20 + 1 of them, however fast or slow the machine is.
    const inFlight = 4;
    const result = await runLoad(pools, {
      endpoints: [server.url],
      inFlight,
      maxOps: 1_000_000,
      budgetMs: 300,
      operation: async (context) => expectStatus(await context.send({ method: 'GET', path: '/slow/20' })),
    });
    expect(result.stoppedBy).toBe('time');
    expect(result.started).toBeGreaterThanOrEqual(inFlight);
    expect(result.started).toBeLessThanOrEqual(inFlight * (300 / 20 + 1));
    expect(result.succeeded + result.failed).toBe(result.started);
    expect(result.latency.minMs).toBeGreaterThanOrEqual(20 * 0.999);
    expectOrdered(result.latency);
  });

  it('counts failures by status, and by wire error for an endpoint that is down', async () => {
    const dead = await deadEndpoint();
    const paths = ['/ok', '/status/503', '/status/409', '/ok'];
    const byStatus = await runLoad(pools, {
      endpoints: [server.url],
      inFlight: 4,
      maxOps: 400,
      budgetMs: 60_000,
      operation: async (context) => expectStatus(await context.send({ method: 'GET', path: paths[context.sequence % paths.length] ?? '/ok' })),
    });
    expect(byStatus.succeeded).toBe(200);
    expect(byStatus.failed).toBe(200);
    expect(byStatus.errors).toEqual({ '503': 100, '409': 100 });
    expect(byStatus.latency.count).toBe(200);

    const spread = await runLoad(pools, {
      endpoints: [server.url, dead],
      inFlight: 2,
      maxOps: 10,
      budgetMs: 60_000,
      operation: async (context) => expectStatus(await context.send({ method: 'GET', path: '/ok' })),
    });
    expect(spread.succeeded).toBe(5);
    expect(spread.errors).toEqual({ network: 5 });
  });

  it('aborts operations still in flight once the drain after the budget runs out', async () => {
    const result = await runLoad(pools, {
      endpoints: [server.url],
      inFlight: 3,
      maxOps: 100,
      budgetMs: 100,
      drainMs: 200,
      operation: async (context) => expectStatus(await context.send({ method: 'GET', path: '/hang' })),
    });
    expect(result.stoppedBy).toBe('time');
    expect(result.started).toBe(3);
    expect(result.errors).toEqual({ aborted: 3 });
    expect(result.latency.count).toBe(0);
    expect(Number.isNaN(result.latency.p50Ms)).toBe(true);
  });

  it('routes round-robin or per worker, stops after the successes asked for, labels outcomes', async () => {
    const otherBefore = other.requests.count;
    const pinned = await runLoad(pools, {
      endpoints: [server.url, other.url],
      inFlight: 1,
      routing: 'per-worker',
      maxOps: 20,
      budgetMs: 60_000,
      operation: async (context) => expectStatus(await context.send({ method: 'GET', path: '/ok' })),
    });
    expect(pinned.succeeded).toBe(20);
    expect(other.requests.count).toBe(otherBefore);

    const spread = await runLoad(pools, {
      endpoints: [server.url, other.url],
      inFlight: 1,
      maxOps: 20,
      budgetMs: 60_000,
      operation: async (context) => expectStatus(await context.send({ method: 'GET', path: '/ok' })),
    });
    expect(spread.succeeded).toBe(20);
    expect(other.requests.count - otherBefore).toBe(10);

    const untilFirst = await runLoad(pools, {
      endpoints: [server.url],
      inFlight: 1,
      maxOps: 1_000,
      budgetMs: 60_000,
      stopAfterSuccesses: 1,
      operation: async (context) => (context.sequence < 3 ? { ok: false, error: 'not yet' } : { ...OK, label: context.sequence % 2 === 0 ? 'even' : 'odd' }),
    });
    expect(untilFirst.stoppedBy).toBe('successes');
    expect(untilFirst.started).toBe(4);
    expect(untilFirst.errors).toEqual({ 'not yet': 3 });
    expect(untilFirst.labels).toEqual({ odd: 1 });
    expect(untilFirst.firstSuccessMs).not.toBeNull();
  });

  it('paces workers at their interval: at most one operation per worker per interval', async () => {
    const result = await runLoad(pools, {
      endpoints: [server.url],
      inFlight: 2,
      maxOps: 1_000,
      budgetMs: 400,
      workerIntervalMs: 50,
      operation: async (context) => expectStatus(await context.send({ method: 'GET', path: '/ok' })),
    });
    expect(result.stoppedBy).toBe('time');
    expect(result.started).toBeGreaterThanOrEqual(1);
    expect(result.started).toBeLessThanOrEqual(2 * (400 / 50));
  });

  it('refuses options it cannot honour', async () => {
    const operation = async (): Promise<typeof OK> => OK;
    await expect(runLoad(pools, { endpoints: [], inFlight: 1, maxOps: 1, budgetMs: 10, operation })).rejects.toThrow(/no endpoints/);
    await expect(runLoad(pools, { endpoints: [server.url], inFlight: 0, maxOps: 1, budgetMs: 10, operation })).rejects.toThrow(/inFlight/);
    await expect(runLoad(pools, { endpoints: [server.url], inFlight: 1, maxOps: 1, budgetMs: 0, operation })).rejects.toThrow(/budgetMs/);
  });
});

describe('latency histogram', () => {
  it('reports percentiles of what it recorded to three significant figures', () => {
    const histogram = new LatencyHistogram();
    for (let value = 1; value <= 1_000; value++) histogram.recordMs(value);
    const summary = histogram.summary();
    expect(summary.count).toBe(1_000);
    expect(summary.p50Ms).toBeCloseTo(500, -1);
    expect(Math.abs(summary.p99Ms - 990) / 990).toBeLessThan(0.002);
    expect(Math.abs(summary.maxMs - 1_000) / 1_000).toBeLessThan(0.002);
    expectOrdered(summary);
  });

  it('keeps values it cannot hold: zero and negative as 1 ns, an empty histogram as NaN', () => {
    const histogram = new LatencyHistogram();
    expect(Number.isNaN(histogram.summary().p99Ms)).toBe(true);
    histogram.recordMs(0);
    histogram.recordMs(-5);
    expect(histogram.count).toBe(2);
    expect(histogram.summary().maxMs).toBe(1e-6);
  });
});
