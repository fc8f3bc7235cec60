/**
 * Hostile SSE reconnects, property-based: watch, election-observe and service-watch streams
 * opened with random `fromRevision`, `Last-Event-ID`, `resync` and `prevValue` values (huge,
 * negative, NaN-like, in and out of retained history) and then dropped abruptly — before the
 * request is complete, right after the headers, or after a few events — while writes go on.
 *
 * Every answer that is not a stream is the contract's error shape with the status of its code;
 * afterwards no watch stream is left open on the node (the `concord_watch_streams` gauge is
 * back to zero), /metrics still answers, and new watch and observe streams deliver events.
 */
import net from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/common/errors.ts';
import { call, sleep, TestCluster, type TestMember } from '../server/cluster-harness.ts';
import { SseStream } from '../server/sse-client.ts';
import { rawHttp } from './raw-http.ts';

const SEED = Number(process.env.CONCORD_HOSTILE_SEED ?? 20261202);

const revisionLikeArb: fc.Arbitrary<string> = fc.oneof(
  fc.integer({ min: 0, max: 60 }).map(String),
  fc.constantFrom('-1', '0', 'NaN', 'Infinity', '1e309', '9007199254740993', '99999999999999999999999', '0x10', '1.5', '', ' 3', 'abc', '%00', '1,2'),
  fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map(String),
);

interface Attempt {
  readonly target: string;
  readonly lastEventId: string | undefined;
  /** How the client leaves: cut mid-request, right after the headers, or after waiting a while. */
  readonly leave: { readonly kind: 'mid-request'; readonly cut: number } | { readonly kind: 'after-headers' } | { readonly kind: 'after'; readonly ms: number };
}

const attemptArb: fc.Arbitrary<Attempt> = fc.record({
  target: fc.tuple(
    fc.constantFrom('/v1/watch?key=w/a', '/v1/watch?prefix=w/', '/v1/watch?prefix=', '/v1/elections/e1/observe', '/v1/services/svc/watch'),
    fc.option(revisionLikeArb, { nil: undefined }),
    fc.boolean(),
    fc.constantFrom(undefined, 'true', 'false', 'yes'),
  ).map(([base, from, resync, prevValue]) => {
    const separator = base.includes('?') ? '&' : '?';
    const query = [from === undefined ? '' : `fromRevision=${from}`, resync ? 'resync=true' : '', prevValue === undefined ? '' : `prevValue=${prevValue}`].filter((part) => part !== '');
    return query.length === 0 ? base : `${base}${separator}${query.join('&')}`;
  }),
  lastEventId: fc.option(revisionLikeArb, { nil: undefined }),
  leave: fc.oneof(
    fc.nat(200).map((cut) => ({ kind: 'mid-request' as const, cut })),
    fc.constant({ kind: 'after-headers' as const }),
    fc.integer({ min: 1, max: 40 }).map((ms) => ({ kind: 'after' as const, ms })),
  ),
});

function requestText(host: string, port: number, attempt: Attempt): string {
  const lines = [`GET ${attempt.target} HTTP/1.1`, `host: ${host}:${port}`, 'accept: text/event-stream'];
  if (attempt.lastEventId !== undefined) lines.push(`last-event-id: ${attempt.lastEventId}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/** Sends the first `cut` bytes of the request and vanishes. */
function dropMidRequest(host: string, port: number, text: string, cut: number): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port }, () => {
      socket.write(text.slice(0, cut % text.length));
      socket.destroy();
    });
    socket.on('error', () => {});
    socket.on('close', () => resolve());
  });
}

/** Sends the whole request, reads for `ms`, and resets the connection without a goodbye. */
function dropAfter(host: string, port: number, text: string, ms: number): Promise<string> {
  return new Promise((resolve) => {
    let received = '';
    const socket = net.connect({ host, port }, () => socket.write(text));
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('utf8');
    });
    socket.on('error', () => {});
    const timer = setTimeout(() => socket.resetAndDestroy(), ms);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(received);
    });
  });
}

async function watchStreams(url: string): Promise<number> {
  const metrics = await call(url, 'GET', '/metrics');
  expect(metrics.status).toBe(200);
  const match = /^concord_watch_streams(?:\{[^}]*\})? (\d+)/m.exec(metrics.text);
  expect(match, 'concord_watch_streams in /metrics').not.toBeNull();
  return Number(match?.[1]);
}

describe('hostile SSE reconnects', () => {
  let cluster: TestCluster;
  let follower: TestMember;

  beforeAll(async () => {
    // A short history, so random fromRevision values fall on both sides of it.
    cluster = await TestCluster.start({ kv: { historyMaxEvents: 20 } });
    [follower] = (await cluster.followers()) as [TestMember];
    for (let i = 0; i < 30; i++) await call(follower.url, 'PUT', `/v1/kv/w/${i % 3 === 0 ? 'a' : `k${i}`}`, { json: { value: `v${i}` } });
  });
  afterAll(async () => {
    await cluster.stop();
  });

  it('refuses bad reconnects in the contract shape, survives abrupt disconnects and leaks no stream', async () => {
    const { hostname, port } = new URL(follower.url);
    const host = hostname;
    const portNumber = Number(port);
    let writes = 0;
    const seen = new Set<number>();
    await fc.assert(
      fc.asyncProperty(attemptArb, async (attempt) => {
        // Keep the log moving, so streams have events to send while they are being dropped.
        if (writes++ % 4 === 0) void call(follower.url, 'PUT', '/v1/kv/w/a', { json: { value: `x${writes}` } });
        const text = requestText(host, portNumber, attempt);
        if (attempt.leave.kind === 'mid-request') {
          await dropMidRequest(host, portNumber, text, attempt.leave.cut);
          return;
        }
        if (attempt.leave.kind === 'after') {
          const received = await dropAfter(host, portNumber, text, attempt.leave.ms);
          expect(received).not.toMatch(/<html|\bat .*\.(ts|js):\d+|"code":"internal"/i);
          return;
        }
        const outcome = await rawHttp(host, portNumber, {
          method: 'GET',
          target: attempt.target,
          headers: attempt.lastEventId === undefined ? [] : [['last-event-id', attempt.lastEventId]],
        });
        expect(outcome.kind, attempt.target).toBe('answer');
        if (outcome.kind === 'answer') seen.add(outcome.status);
        if (outcome.kind !== 'answer' || outcome.status === 200) return;
        const context = `${attempt.target} (last-event-id ${String(attempt.lastEventId)}) → ${outcome.status} ${outcome.text}`;
        const body = JSON.parse(outcome.text) as { error: { code: keyof typeof ERROR_CODES; message: string } };
        expect(typeof body.error.message, context).toBe('string');
        expect(ERROR_CODES[body.error.code], context).toBe(outcome.status);
        expect([400, 410], context).toContain(outcome.status);
      }),
      { seed: SEED, numRuns: 250, interruptAfterTimeLimit: 30_000, markInterruptAsFailure: false, endOnFailure: true },
    );

    // Not vacuous: streams opened, bad revisions refused, and reconnects behind the history compacted.
    for (const status of [200, 400, 410]) expect([...seen], `status ${status}`).toContain(status);

    // Every dropped stream is gone (bounded wait: the server notices a reset on its next write or close event).
    const deadline = Date.now() + 5_000;
    let open = await watchStreams(follower.url);
    while (open > 0 && Date.now() < deadline) {
      await sleep(50);
      open = await watchStreams(follower.url);
    }
    expect(open).toBe(0);
    for (const member of cluster.members) expect((await call(member.url, 'GET', '/health')).status).toBe(200);

    // New streams still work.
    const watch = await SseStream.open(follower.url, '/v1/watch?key=w/after');
    const observe = await SseStream.open(follower.url, '/v1/elections/e-after/observe');
    try {
      expect(watch.status).toBe(200);
      expect(observe.status).toBe(200);
      expect(await watchStreams(follower.url)).toBe(1);
      const put = await call(follower.url, 'PUT', '/v1/kv/w/after', { json: { value: 'fresh' } });
      expect(put.status).toBe(200);
      await watch.waitFor((stream) => stream.changes().some((event) => event.data.value === 'fresh'));
      const campaign = await call(follower.url, 'POST', '/v1/elections/e-after/campaign', { json: { value: 'me', ttlMs: 5000 } });
      expect(campaign.status, campaign.text).toBe(200);
      await observe.waitFor((stream) => stream.events.some((event) => event.event === 'leader' && event.data?.leader?.value === 'me'));
    } finally {
      watch.close();
      observe.close();
    }
  });
});
