// election.observe() and registry.watch({ via: 'sse' }) over scripted streams: both reopen a
// broken stream on the next endpoint and skip what they already yielded; a refusal that is not
// retryable ends them with its error; the signal ends them quietly.
import { describe, expect, it } from 'vitest';
import { Concord, type LeaderChange, type ServiceView } from '../../src/client/index.ts';
import { FakeTransport, json, sseStream } from './fakes.ts';

const leaderFrame = (value: string | null, revision: number): string =>
  `event: leader\ndata: ${JSON.stringify({ name: 'api', ...(value === null ? {} : { leader: { value, token: 1, lease: 'L' } }), revision })}\n\n`;

const instancesFrame = (revision: number, ids: string[]): string =>
  `event: instances\nid: ${revision}\ndata: ${JSON.stringify({ revision, instances: ids.map((id) => ({ id })) })}\n\n`;

const ENDPOINTS = ['http://one:1', 'http://two:2'];

describe('SDK streams across reconnections', () => {
  it('observe reopens on the next endpoint and does not repeat the leader it last yielded', async () => {
    const transport = new FakeTransport(() => json(500, {}));
    transport.streamScript = (_endpoint, _request, index) =>
      index === 0
        ? sseStream([leaderFrame(null, 3), leaderFrame('http://a', 4)], { end: true })
        : sseStream([leaderFrame('http://a', 5), leaderFrame('http://b', 6)], { end: false });
    const controller = new AbortController();
    const changes: LeaderChange[] = [];
    for await (const change of new Concord({ endpoints: ENDPOINTS, transport }).election('api').observe({ signal: controller.signal })) {
      changes.push(change);
      if (changes.length === 3) controller.abort();
    }
    expect(changes).toEqual([{ revision: 3 }, { leader: { value: 'http://a', token: 1, lease: 'L' }, revision: 4 }, { leader: { value: 'http://b', token: 1, lease: 'L' }, revision: 6 }]);
    expect(transport.streams.map((stream) => stream.endpoint)).toEqual(ENDPOINTS);
    expect(transport.streams.every((stream) => stream.path.startsWith('/v1/elections/api/observe'))).toBe(true);
  });

  it('a service watch over SSE reopens with its filters and skips a list it has already yielded', async () => {
    const transport = new FakeTransport(() => json(500, {}));
    transport.streamScript = (_endpoint, _request, index) =>
      index === 0
        ? sseStream([instancesFrame(7, ['a']), 'event: progress\ndata: {"revision":90}\n\n'], { end: true })
        : sseStream([instancesFrame(7, ['a']), instancesFrame(9, ['a', 'b'])], { end: false });
    const controller = new AbortController();
    const views: ServiceView[] = [];
    const watch = new Concord({ endpoints: ENDPOINTS, transport }).registry.watch('web', { via: 'sse', tag: 'blue', signal: controller.signal });
    for await (const view of watch) {
      views.push(view);
      if (views.length === 2) controller.abort();
    }
    expect(views.map((view) => view.revision)).toEqual([7, 9]);
    expect(transport.streams.map((stream) => [stream.endpoint, stream.path.split('?')[0], new URLSearchParams(stream.path.split('?')[1]).get('tag')])).toEqual([
      ['http://one:1', '/v1/services/web/watch', 'blue'],
      ['http://two:2', '/v1/services/web/watch', 'blue'],
    ]);
  });

  it('a refusal that is not retryable ends the stream with its error; a retryable one is retried', async () => {
    const transport = new FakeTransport(() => json(500, {}));
    transport.streamScript = (_endpoint, _request, index) =>
      index === 0 ? json(503, { error: { code: 'unavailable', message: 'starting' } }, { 'retry-after': '0' }) : json(400, { error: { code: 'invalid_argument', message: 'bad tag' } });
    const watch = new Concord({ endpoints: ENDPOINTS, transport }).registry.watch('web', { via: 'sse' });
    await expect(watch.next()).rejects.toMatchObject({ code: 'invalid_argument' });
    expect(transport.streams).toHaveLength(2);
  });

  it('the signal ends an open stream quietly and closes it', async () => {
    const transport = new FakeTransport(() => json(500, {}));
    let closed = false;
    transport.streamScript = () => {
      const stream = sseStream([leaderFrame('http://a', 4)], { end: false });
      return { ...stream, close: () => ((closed = true), stream.close()) };
    };
    const controller = new AbortController();
    const changes = new Concord({ endpoints: ENDPOINTS, transport }).election('api').observe({ signal: controller.signal });
    expect((await changes.next()).value).toMatchObject({ revision: 4 });
    const pending = changes.next();
    controller.abort();
    expect(await pending).toEqual({ done: true, value: undefined });
    expect(closed).toBe(true);
    expect(transport.streams).toHaveLength(1);
  });
});
