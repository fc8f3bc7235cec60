// The client engine with a scripted transport: idempotency keys, retries, failover, leader
// hints, deadlines, abort, and the typed errors.
import { describe, expect, it } from 'vitest';
import { ClientCore } from '../../src/client/core.ts';
import { ConcordError } from '../../src/client/errors.ts';
import { Concord } from '../../src/client/index.ts';
import { FakeTransport, json, refused, type Script } from './fakes.ts';

const A = 'http://a:1';
const B = 'http://b:2';
const C = 'http://c:3';

function core(script: Script, endpoints = [A, B, C], timeoutMs = 2_000): { core: ClientCore; transport: FakeTransport } {
  const transport = new FakeTransport(script);
  return { core: new ClientCore({ endpoints, timeoutMs, transport, retry: { initialBackoffMs: 1, maxBackoffMs: 5 }, random: () => 0.5 }), transport };
}

async function failure(promise: Promise<unknown>): Promise<ConcordError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ConcordError);
    return error as ConcordError;
  }
  throw new Error('expected a failure');
}

describe('ClientCore', () => {
  it('sends one generated idempotency key with every attempt of a write, and none with reads', async () => {
    const { core: client, transport } = core((_endpoint, _request, index) => (index < 2 ? refused() : json(200, { revision: 7 })));
    const answer = await client.call<{ revision: number }>({ method: 'PUT', path: '/v1/kv/a', body: { value: 'x' } });
    expect(answer.body.revision).toBe(7);
    const keys = transport.requests.map((request) => request.headers['idempotency-key']);
    expect(keys).toHaveLength(3);
    expect(keys[0]).toMatch(/^sdk-[0-9a-f-]{36}$/);
    expect(new Set(keys).size).toBe(1);
    // Each connection failure moved on to the next endpoint.
    expect(transport.requests.map((request) => request.endpoint)).toEqual([A, B, C]);
    expect(transport.requests[0]?.body).toBe('{"value":"x"}');
    expect(transport.requests[0]?.headers['content-type']).toBe('application/json');

    await client.call({ method: 'GET', path: '/v1/kv/a' });
    expect(transport.requests.at(-1)?.headers['idempotency-key']).toBeUndefined();
  });

  it('a second call gets a fresh key; a caller-given key is used as is', async () => {
    const { core: client, transport } = core(() => json(200, {}));
    await client.call({ method: 'POST', path: '/v1/txn', body: {} });
    await client.call({ method: 'POST', path: '/v1/txn', body: {} });
    await client.call({ method: 'POST', path: '/v1/txn', body: {}, idempotencyKey: 'mine' });
    const keys = transport.requests.map((request) => request.headers['idempotency-key']);
    expect(keys[0]).not.toBe(keys[1]);
    expect(keys[2]).toBe('mine');
  });

  it('retries 503 and 429 and 504, but not 4xx; the error carries the contract code and details', async () => {
    const { core: client, transport } = core((_endpoint, _request, index) => {
      if (index === 0) return json(503, { error: { code: 'no_leader', message: 'x' } }, { 'retry-after': '0' });
      if (index === 1) return json(429, { error: { code: 'overloaded', message: 'x' } }, { 'retry-after': '0' });
      if (index === 2) return json(504, { error: { code: 'timeout', message: 'x' } });
      return json(409, { error: { code: 'compare_failed', message: 'no', current: { modRevision: 3 } } });
    });
    const error = await failure(client.call({ method: 'PUT', path: '/v1/kv/a', body: { value: 'x', ifRevision: 1 } }));
    expect(error.code).toBe('compare_failed');
    expect(error.status).toBe(409);
    expect(error.details['current']).toEqual({ modRevision: 3 });
    expect(error.retryable).toBe(false);
    expect(transport.requests).toHaveLength(4);
    expect(new Set(transport.requests.map((request) => request.headers['idempotency-key'])).size).toBe(1);
  });

  it('follows the leader hint to the endpoint that node answered from', async () => {
    const nodes: Record<string, string> = { [A]: 'n1', [B]: 'n2', [C]: 'n3' };
    const { core: client, transport } = core((endpoint) => json(200, {}, { 'x-concord-node': nodes[endpoint] ?? '', 'x-concord-leader': 'n2' }));
    await client.call({ method: 'GET', path: '/v1/kv/a' }); // A answers: n1; leader n2 not known yet
    expect(client.preferredEndpoint).toBe(A);
    client.moveOn(A);
    await client.call({ method: 'GET', path: '/v1/kv/a' }); // B answers as n2: now known
    expect(client.preferredEndpoint).toBe(B);
    await client.call({ method: 'GET', path: '/v1/kv/a' });
    const kvRequests = transport.requests.filter((request) => request.path.startsWith('/v1/kv'));
    expect(kvRequests.map((request) => request.endpoint)).toEqual([A, B, B]);
  });

  it('a leader it has not talked to is found in the member list, but only among its endpoints', async () => {
    const members = [
      { id: 'n1', clientUrl: A },
      { id: 'n2', clientUrl: `${C}/` },
      { id: 'n3', clientUrl: 'http://elsewhere:9' },
    ];
    const leader = { current: 'n2' };
    const { core: client, transport } = core((_endpoint, request) =>
      request.path === '/v1/cluster' ? json(200, { members }) : json(200, {}, { 'x-concord-node': 'n1', 'x-concord-leader': leader.current }),
    );
    await client.call({ method: 'GET', path: '/v1/kv/a' });
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(transport.requests.filter((request) => request.path === '/v1/cluster')).toHaveLength(1);
    expect(client.preferredEndpoint).toBe(C);
    // A leader whose client URL is not a configured endpoint is never dialled.
    client.moveOn(C);
    leader.current = 'n3';
    await client.call({ method: 'GET', path: '/v1/kv/a' });
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await client.call({ method: 'GET', path: '/v1/kv/a' });
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(transport.requests.some((request) => request.endpoint === 'http://elsewhere:9')).toBe(false);
    expect(client.endpoints).toContain(client.preferredEndpoint);
  });

  it('a 503 from the hinted leader sends the next attempt elsewhere', async () => {
    const { core: client, transport } = core((endpoint) =>
      endpoint === A ? json(503, { error: { code: 'unavailable', message: 'shutting down' } }, { 'retry-after': '0' }) : json(200, { ok: true }),
    );
    await client.call({ method: 'GET', path: '/v1/kv/a' });
    expect(transport.requests.map((request) => request.endpoint)).toEqual([A, B]);
  });

  it('gives up at the deadline: unavailable when nothing could be reached, timeout when nodes answered 503', async () => {
    const unreachable = core(() => refused(), [A, B], 100);
    const down = await failure(unreachable.core.call({ method: 'GET', path: '/v1/kv/a' }));
    expect(down.code).toBe('unavailable');
    expect(unreachable.transport.requests.length).toBeGreaterThan(2);

    const leaderless = core(() => json(503, { error: { code: 'no_leader', message: 'none' } }, { 'retry-after': '0' }), [A, B], 100);
    const timedOut = await failure(leaderless.core.call({ method: 'PUT', path: '/v1/kv/a', body: { value: 'x' } }));
    expect(timedOut.code).toBe('timeout');
  });

  it('a refusal the call accepts is thrown as the server sent it at the deadline, unless a later answer said otherwise', async () => {
    const busy = json(503, { error: { code: 'unavailable', message: 'learner behind', member: 'n4', reason: 'learner_behind' } }, { 'retry-after': '0' });
    const isBusy = (error: ConcordError): boolean => typeof error.details['reason'] === 'string';
    const refusing = core(() => busy, [A, B], 100);
    const refusal = await failure(refusing.core.call({ method: 'POST', path: '/v1/cluster/members/n4/promote', refusalAtDeadline: isBusy }));
    expect(refusal).toMatchObject({ code: 'unavailable', status: 503, details: { member: 'n4', reason: 'learner_behind' } });
    expect(refusing.transport.requests.length).toBeGreaterThan(1);
    // Without the option the same answers end as a plain timeout.
    const plain = core(() => busy, [A, B], 100);
    expect((await failure(plain.core.call({ method: 'POST', path: '/v1/cluster/members/n4/promote' }))).code).toBe('timeout');
    // A refusal followed by an answer that leaves the outcome unknown (504) is a timeout.
    const unknown = core((_endpoint, _request, index) => (index === 0 ? busy : json(504, { error: { code: 'timeout', message: 'may still apply' } })), [A, B], 1_000);
    expect((await failure(unknown.core.call({ method: 'POST', path: '/v1/cluster/members/n4/promote', refusalAtDeadline: isBusy }))).code).toBe('timeout');
  });

  it('an unreachable cluster stays unavailable even when the deadline cuts the last attempt short', async () => {
    const { core: client } = core(
      (_endpoint, request) =>
        request.timeoutMs < 100 ? new Promise((_resolve, reject) => request.signal.addEventListener('abort', () => reject(new Error('cut')))) : refused(),
      [A],
      300,
    );
    expect((await failure(client.call({ method: 'GET', path: '/v1/kv/a' }))).code).toBe('unavailable');
  });

  it('passes what remains of the deadline to the server, except where the route takes none', async () => {
    const { core: client, transport } = core(() => json(200, {}), [A], 3_000);
    await client.call({ method: 'GET', path: '/v1/kv/a', query: { consistency: 'serializable' } });
    expect(transport.requests[0]?.path).toMatch(/^\/v1\/kv\/a\?consistency=serializable&timeoutMs=(2[89]\d\d)$/);
    await client.call({ method: 'GET', path: '/v1/cluster', serverDeadline: false });
    expect(transport.requests[1]?.path).toBe('/v1/cluster');
  });

  it('stops at once when the caller aborts, with code aborted', async () => {
    const controller = new AbortController();
    const { core: client, transport } = core((_endpoint, request) =>
      new Promise((_resolve, reject) => request.signal.addEventListener('abort', () => reject(new Error('aborted')))),
    );
    const pending = client.call({ method: 'PUT', path: '/v1/kv/a', body: { value: 'x' }, signal: controller.signal });
    setTimeout(() => controller.abort(), 10);
    const error = await failure(pending);
    expect(error.code).toBe('aborted');
    expect(transport.requests).toHaveLength(1);
  });

  it('an attempt that hangs is cut off and retried on another endpoint with the same key', async () => {
    const { core: client, transport } = core((endpoint, request) =>
      endpoint === A ? new Promise((_resolve, reject) => request.signal.addEventListener('abort', () => reject(new Error('timed out')))) : json(200, { revision: 1 }),
      [A, B],
      4_000,
    );
    const answer = await client.call<{ revision: number }>({ method: 'PUT', path: '/v1/kv/a', body: { value: 'x' } });
    expect(answer.body.revision).toBe(1);
    expect(transport.requests.map((request) => request.endpoint)).toEqual([A, B]);
    expect(transport.requests[0]?.headers['idempotency-key']).toBe(transport.requests[1]?.headers['idempotency-key']);
  });

  it('through the public API: kv.get maps not_found to null and other errors to ConcordError', async () => {
    const transport = new FakeTransport((_endpoint, request) =>
      request.path.startsWith('/v1/kv/missing')
        ? json(404, { error: { code: 'not_found', message: 'no', key: 'missing' } })
        : json(400, { error: { code: 'invalid_argument', message: 'bad key' } }),
    );
    const concord = new Concord({ endpoints: 'a:1,b:2', transport });
    expect(await concord.kv.get('missing')).toBeNull();
    const error = await failure(concord.kv.get(''));
    expect(error.code).toBe('invalid_argument');
    expect(transport.requests[0]?.endpoint).toBe('http://a:1');
  });

  it('keys with slashes and odd bytes are path-encoded segment by segment', async () => {
    const transport = new FakeTransport(() => json(200, { revision: 1 }));
    const concord = new Concord({ endpoints: [A], transport });
    await concord.kv.put('a/b c/%?', 'v');
    expect(transport.requests[0]?.path).toMatch(/^\/v1\/kv\/a\/b%20c\/%25%3F\?timeoutMs=\d+$/);
  });

  it('deadlines sent to the server: none for a waiting acquire, the barrier bound for a blocking query, at most 120 s', async () => {
    const transport = new FakeTransport((_endpoint, request) =>
      request.path.startsWith('/v1/locks') ? json(200, { name: 'x', token: 1, lease: 'L', owner: '' }) : json(200, { revision: 3, instances: [] }),
    );
    const concord = new Concord({ endpoints: [A], transport, timeoutMs: 4_000 });
    const lock = await concord.lock('x', { ttlMs: 60_000, waitMs: 200_000 });
    const acquire = transport.requests[0]!;
    expect(acquire.path).toBe('/v1/locks/x/acquire');
    expect(JSON.parse(acquire.body ?? '{}')).toMatchObject({ ttlMs: 60_000, waitMs: expect.any(Number) });
    expect(acquire.timeoutMs).toBeGreaterThan(200_000);
    await lock.release();
    const tryOnce = await concord.lock('x', { ttlMs: 60_000 });
    await tryOnce.release();
    expect(transport.requests.find((request, index) => index > 0 && request.path.startsWith('/v1/locks/x/acquire'))?.path).toMatch(/timeoutMs=3\d{3}$/);

    await concord.registry.discover('web', { index: 2, waitMs: 300_000 });
    const blocking = transport.requests.find((request) => request.path.startsWith('/v1/services/web'))!;
    const params = new URLSearchParams(blocking.path.split('?')[1]);
    expect(params.get('waitMs')).toBe('300000');
    expect(Number(params.get('timeoutMs'))).toBeLessThanOrEqual(4_000);
    expect(blocking.timeoutMs).toBeGreaterThan(300_000);

    await concord.kv.get('k', { timeoutMs: 500_000 });
    expect(new URLSearchParams(transport.requests.at(-1)!.path.split('?')[1]).get('timeoutMs')).toBe('120000');
    await concord.close();
  });
});
