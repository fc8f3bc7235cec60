// Watch streams through HTTP on a live 3-node cluster: history from a revision, live changes,
// resume on another node without gap or duplicate, prevValue, progress, compaction and resync,
// the watcher bound, and teardown on disconnect.
import { afterEach, describe, expect, it } from 'vitest';
import { call, sleep, TestCluster } from './cluster-harness.ts';
import { SseStream } from './sse-client.ts';

describe('watch (SSE)', () => {
  let cluster: TestCluster;
  const streams: SseStream[] = [];
  async function watch(baseUrl: string, path: string, headers: Record<string, string> = {}): Promise<SseStream> {
    const stream = await SseStream.open(baseUrl, path, headers);
    streams.push(stream);
    return stream;
  }
  afterEach(async () => {
    for (const stream of streams.splice(0)) stream.close();
    await cluster.stop();
  });

  it('streams history from fromRevision, then live changes; resumes on another node with no gap or duplicate', async () => {
    cluster = await TestCluster.start();
    const [first, second] = await cluster.followers();
    const revisions: number[] = [];
    for (let i = 1; i <= 3; i++) revisions.push((await call(first!.url, 'PUT', `/v1/kv/w/${i}`, { json: { value: `v${i}` } })).body.revision);
    await call(first!.url, 'PUT', '/v1/kv/other', { json: { value: 'x' } });

    const stream = await watch(first!.url, `/v1/watch?prefix=w/&fromRevision=${revisions[1]}`);
    expect(stream.status).toBe(200);
    expect(stream.headers['content-type']).toContain('text/event-stream');
    await stream.waitFor((s) => s.changes().length === 2);
    expect(stream.changes().map((e) => e.data.key)).toEqual(['w/2', 'w/3']);
    expect(stream.changes()[0]).toMatchObject({ event: 'put', id: String(revisions[1]), data: { value: 'v2', version: 1 } });

    await call(second!.url, 'DELETE', '/v1/kv/w/1');
    await call(second!.url, 'PUT', '/v1/kv/w/4', { json: { value: 'v4' } });
    await stream.waitFor((s) => s.changes().length === 4);
    const deleted = stream.changes()[2]!;
    expect(deleted.event).toBe('delete');
    expect(deleted.data).toMatchObject({ key: 'w/1', version: 0, createRevision: 0 });
    expect(deleted.data.value).toBeUndefined();
    expect(deleted.data.prev).toBeUndefined();
    const lastSeen = Number(stream.changes()[3]!.data.modRevision);
    stream.close();

    // Writes while disconnected, then a resume on the other follower.
    await call(first!.url, 'PUT', '/v1/kv/w/5', { json: { value: 'v5' } });
    const resumed = await watch(second!.url, `/v1/watch?prefix=w/&fromRevision=${lastSeen + 1}`);
    await call(first!.url, 'PUT', '/v1/kv/w/6', { json: { value: 'v6' } });
    await resumed.waitFor((s) => s.changes().length === 2);
    expect(resumed.changes().map((e) => e.data.key)).toEqual(['w/5', 'w/6']);
    await sleep(100);
    expect(resumed.changes()).toHaveLength(2);
  });

  it('a key watch with prevValue sends prev; without fromRevision only changes after now', async () => {
    cluster = await TestCluster.start();
    const leader = await cluster.leader();
    await call(leader.url, 'PUT', '/v1/kv/k', { json: { value: 'old' } });
    const stream = await watch(leader.url, '/v1/watch?key=k&prevValue=true');
    await call(leader.url, 'PUT', '/v1/kv/k2', { json: { value: 'ignored' } });
    await call(leader.url, 'PUT', '/v1/kv/k', { json: { value: 'new' } });
    await stream.waitFor((s) => s.changes().length === 1);
    expect(stream.changes()[0]!.data).toMatchObject({ key: 'k', value: 'new', version: 2, prev: { value: 'old', version: 1 } });
  });

  it('sends progress events while idle, carrying the current revision', async () => {
    cluster = await TestCluster.start({ limits: { watchProgressIntervalMs: 50 } });
    const leader = await cluster.leader();
    const put = await call(leader.url, 'PUT', '/v1/kv/p', { json: { value: '1' } });
    const stream = await watch(leader.url, '/v1/watch?prefix=');
    await stream.waitFor((s) => s.events.filter((e) => e.event === 'progress').length >= 2, 3000);
    const progress = stream.events.find((e) => e.event === 'progress')!;
    expect(progress.data.revision).toBeGreaterThanOrEqual(put.body.revision);
  });

  it('a compacted fromRevision is 410 with compactRevision; with resync it sends a snapshot and goes on', async () => {
    cluster = await TestCluster.start({ kv: { historyMaxEvents: 2 } });
    const leader = await cluster.leader();
    for (let i = 1; i <= 5; i++) await call(leader.url, 'PUT', `/v1/kv/c/${i}`, { json: { value: `v${i}` } });
    const refused = await call(leader.url, 'GET', '/v1/watch?prefix=c/&fromRevision=1');
    expect(refused.status).toBe(410);
    expect(refused.body.error.code).toBe('compacted');
    expect(refused.body.error.compactRevision).toBeGreaterThanOrEqual(3);

    const stream = await watch(leader.url, '/v1/watch?prefix=c/&fromRevision=1&resync=true');
    await stream.waitFor((s) => s.events.some((e) => e.event === 'snapshot'));
    const snapshot = stream.events[0]!;
    expect(snapshot.event).toBe('snapshot');
    expect(snapshot.data.items.map((kv: { key: string }) => kv.key)).toEqual(['c/1', 'c/2', 'c/3', 'c/4', 'c/5']);
    const next = await call(leader.url, 'PUT', '/v1/kv/c/6', { json: { value: 'v6' } });
    await stream.waitFor((s) => s.changes().length === 1);
    expect(stream.changes()[0]!.data.modRevision).toBe(next.body.revision);
    expect(snapshot.data.revision).toBe(next.body.revision - 1);
  });

  it('resumes from Last-Event-ID', async () => {
    cluster = await TestCluster.start();
    const leader = await cluster.leader();
    const a = await call(leader.url, 'PUT', '/v1/kv/l/a', { json: { value: '1' } });
    await call(leader.url, 'PUT', '/v1/kv/l/b', { json: { value: '2' } });
    const stream = await watch(leader.url, '/v1/watch?prefix=l/', { 'last-event-id': String(a.body.revision) });
    await stream.waitFor((s) => s.changes().length === 1);
    expect(stream.changes()[0]!.data.key).toBe('l/b');
  });

  it('refuses bad watch requests in the contract shape and bounds the number of watchers', async () => {
    cluster = await TestCluster.start({ limits: { maxWatchers: 1 } });
    const leader = await cluster.leader();
    for (const query of ['', '?key=a&prefix=b', '?key=', '?prefix=x&fromRevision=0', '?prefix=x&bogus=1']) {
      const answer = await call(leader.url, 'GET', `/v1/watch${query}`);
      expect(answer.status, query).toBe(400);
      expect(answer.body.error.code).toBe('invalid_argument');
    }
    const first = await watch(leader.url, '/v1/watch?prefix=');
    expect(first.status).toBe(200);
    const second = await call(leader.url, 'GET', '/v1/watch?prefix=');
    expect(second.status).toBe(429);
    expect(second.body.error.code).toBe('overloaded');
    expect(second.headers['retry-after']).toBeDefined();
    // A disconnect frees the slot (the session unsubscribed and was forgotten).
    first.close();
    const deadline = Date.now() + 3000;
    let third = await SseStream.open(leader.url, '/v1/watch?prefix=');
    while (third.status !== 200 && Date.now() < deadline) {
      await sleep(20);
      third = await SseStream.open(leader.url, '/v1/watch?prefix=');
    }
    streams.push(third);
    expect(third.status).toBe(200);
    const metrics = await call(leader.url, 'GET', '/metrics');
    expect(metrics.text).toMatch(/concord_watch_streams 1\b/);
  });
});
