// kv.watch() against scripted SSE streams: it resumes at the right revision after a break,
// drops what it already yielded, moves on to another endpoint, and surfaces compaction.
import { describe, expect, it } from 'vitest';
import { Concord, type WatchEvent } from '../../src/client/index.ts';
import { change, FakeTransport, json, sseStream } from './fakes.ts';

function keysOf(events: readonly WatchEvent[]): string[] {
  return events.map((event) => ('key' in event ? `${event.key}@${event.modRevision}` : `${event.type}@${event.revision}`));
}

function fromRevisionOf(path: string): string | null {
  return new URLSearchParams(path.split('?')[1]).get('fromRevision');
}

describe('kv.watch over scripted streams', () => {
  it('a break inside a txn revision resumes at that revision without repeating or losing an event', async () => {
    const transport = new FakeTransport(() => json(500, {}));
    transport.streamScript = (_endpoint, _request, index) => {
      if (index === 0) return sseStream([change('put', 'a', 5), change('put', 'b', 6)], { end: true }); // cut after 1 of revision 6's 2 events
      return sseStream([change('put', 'b', 6), change('put', 'c', 6), change('delete', 'a', 7)], { end: false });
    };
    const concord = new Concord({ endpoints: ['http://one:1', 'http://two:2'], transport });
    const watch = concord.kv.watch({ prefix: '', fromRevision: 5 });
    const events: WatchEvent[] = [];
    for await (const event of watch) {
      events.push(event);
      if (events.length === 4) watch.close();
    }
    expect(keysOf(events)).toEqual(['a@5', 'b@6', 'c@6', 'a@7']);
    expect(transport.streams.map((stream) => fromRevisionOf(stream.path))).toEqual(['5', '6']);
    // The second stream went to the other endpoint.
    expect(transport.streams.map((stream) => stream.endpoint)).toEqual(['http://one:1', 'http://two:2']);
    expect(watch.reconnects).toBe(1);
  });

  it('from now: resumes after the revision the first stream started at; progress moves the resume point', async () => {
    const transport = new FakeTransport(() => json(500, {}));
    transport.streamScript = (_endpoint, _request, index) => {
      if (index === 0) return sseStream([], { end: true, headers: { 'x-concord-revision': '40' } });
      if (index === 1) return sseStream(['event: progress\ndata: {"revision":44}\n\n'], { end: true });
      return sseStream([change('put', 'k', 45)], { end: false });
    };
    const concord = new Concord({ endpoints: ['http://one:1'], transport });
    const watch = concord.kv.watch({ key: 'k', progress: true });
    const events: WatchEvent[] = [];
    for await (const event of watch) {
      events.push(event);
      if (events.length === 2) watch.close();
    }
    expect(keysOf(events)).toEqual(['progress@44', 'k@45']);
    expect(transport.streams.map((stream) => fromRevisionOf(stream.path))).toEqual([null, '41', '45']);
  });

  it('compacted before the stream or in it ends the watch with ConcordError compacted', async () => {
    const transport = new FakeTransport(() => json(500, {}));
    transport.streamScript = (_endpoint, _request, index) =>
      index === 0
        ? json(410, { error: { code: 'compacted', message: 'gone', compactRevision: 9 } })
        : sseStream([change('put', 'a', 12), 'event: compacted\ndata: {"compactRevision":20}\n\n'], { end: true });
    const concord = new Concord({ endpoints: ['http://one:1'], transport });
    await expect(concord.kv.watch({ prefix: 'a', fromRevision: 3 })[Symbol.asyncIterator]().next()).rejects.toMatchObject({ code: 'compacted', details: { compactRevision: 9 } });
    const iterator = concord.kv.watch({ prefix: 'a', fromRevision: 12 })[Symbol.asyncIterator]();
    expect((await iterator.next()).value).toMatchObject({ key: 'a', modRevision: 12 });
    await expect(iterator.next()).rejects.toMatchObject({ code: 'compacted', details: { compactRevision: 20 } });
  });
});
