/**
 * The SDK against real `concord serve` processes: it fails over when the node it talks to is
 * killed (SIGKILL) without losing or doubling a write; a lock handle whose keepalives are held
 * back declares the lock lost — signal and `lost` event — before the cluster gives the lock to
 * anyone else; a watch resumes across a node kill with no gap and no duplicate. One cluster
 * serves the file; a test that kills a node restarts it before the next.
 */
import { Agent, type Dispatcher } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Concord, ConcordError, type WatchEvent } from '../../src/client/index.ts';
import { LocalCluster, sleep, waitFor } from './harness.ts';

let cluster: LocalCluster;
const clients: Concord[] = [];

function client(endpoints: readonly string[], options: { dispatcher?: Dispatcher; timeoutMs?: number } = {}): Concord {
  const made = new Concord({ endpoints, timeoutMs: options.timeoutMs ?? 15_000, ...(options.dispatcher === undefined ? {} : { dispatcher: options.dispatcher }) });
  clients.push(made);
  return made;
}

async function restartIfDown(): Promise<void> {
  for (const id of cluster.ids) {
    if (!cluster.node(id).running) {
      cluster.start(id);
      await cluster.waitReady(id, 30_000);
    }
  }
  await cluster.waitLeader(30_000);
}

beforeAll(async () => {
  cluster = await LocalCluster.create({ echo: process.env['CONCORD_TEST_ECHO'] === '1' });
  cluster.startAll();
  await cluster.waitLeader(30_000);
}, 60_000);

afterEach(async () => {
  for (const made of clients.splice(0)) await made.close().catch(() => undefined);
  await restartIfDown();
}, 60_000);

afterAll(async () => {
  await cluster?.destroy();
}, 20_000);

describe('the SDK against real processes', () => {
  it('fails over when the node it talks to is killed; every write applies exactly once', async () => {
    const concord = client(cluster.ids.map((id) => cluster.url(id)));
    await concord.kv.put('fo/warmup', 'x');
    // The client follows the leader hint (looking the leader up in the member list), so the node
    // it talks to becomes the leader.
    const leader = await cluster.waitLeader();
    await waitFor('the client to prefer the leader', 5_000, async () => {
      await concord.kv.get('fo/warmup');
      return concord.core.preferredEndpoint === cluster.url(leader) ? true : undefined;
    });

    const written: string[] = [];
    let killed = false;
    const writer = (async () => {
      for (let i = 0; i < 60; i++) {
        const key = `fo/${String(i).padStart(3, '0')}`;
        await concord.kv.put(key, `v${i}`);
        written.push(key);
        if (i === 20) {
          await cluster.stop(leader, 'SIGKILL');
          killed = true;
        }
      }
    })();
    await writer;
    expect(killed).toBe(true);
    expect(concord.core.preferredEndpoint).not.toBe(cluster.url(leader));
    const range = await concord.kv.range('fo/');
    expect(range.items.filter((item) => item.key !== 'fo/warmup').map((item) => item.key)).toEqual(written);
    // version 1 everywhere: no retried put applied twice.
    expect(range.items.every((item) => item.version === 1)).toBe(true);
  }, 90_000);

  it("a lock whose keepalives are held back past its TTL: jeopardy, then lost and the signal fires, before anyone else gets the lock", async () => {
    const ttlMs = 2_000;
    let holdKeepalives = false;
    const held: Array<() => void> = [];
    const agent = new Agent({ keepAliveTimeout: 10_000 });
    // Holds back keepalive requests (never sent while holding) — a partition for keepalives only.
    const dispatcher = agent.compose((dispatch) => (options, handler) => {
      if (holdKeepalives && String(options.path).includes('/keepalive')) {
        held.push(() => dispatch(options, handler));
        return true;
      }
      return dispatch(options, handler);
    });
    const endpoints = cluster.ids.map((id) => cluster.url(id));
    const holder = client(endpoints, { dispatcher, timeoutMs: 5_000 });
    const rival = client(endpoints);

    const lock = await holder.lock('sdk-lost', { ttlMs, owner: 'holder' });
    const events: Array<{ event: string; at: number }> = [];
    lock.on('jeopardy', () => events.push({ event: 'jeopardy', at: performance.now() }));
    lock.on('lost', () => events.push({ event: 'lost', at: performance.now() }));
    let abortedAt = 0;
    lock.signal.addEventListener('abort', () => {
      abortedAt = performance.now();
    });
    await sleep(1_000); // keepalives get through meanwhile
    expect(lock.isSafe()).toBe(true);

    const rivalWait = rival.lock('sdk-lost', { ttlMs, waitMs: 20_000, owner: 'rival' }).then((handle) => ({ handle, at: performance.now() }));
    holdKeepalives = true;
    const safeUntil = lock.safeUntil;
    await waitFor('the lock to be declared lost', 15_000, async () => (lock.signal.aborted ? true : undefined), 20);
    const rivalGot = await rivalWait;

    expect(events.map((entry) => entry.event)).toEqual(['jeopardy', 'lost']);
    const lostAt = events[1]!.at;
    // Lost no earlier than safeUntil (it was safe until then) and soon after it.
    expect(lostAt).toBeGreaterThanOrEqual(safeUntil - 1);
    expect(lostAt - safeUntil).toBeLessThan(500);
    expect(abortedAt).toBeGreaterThan(0);
    expect((lock.signal.reason as ConcordError).code).toBe('lock_lost');
    expect(lock.isSafe()).toBe(false);
    // Safety: the cluster handed the lock on only after the holder had stopped trusting it.
    expect(rivalGot.at).toBeGreaterThanOrEqual(lostAt);
    expect(rivalGot.handle.token).toBeGreaterThan(lock.token);
    // The old token is fenced off.
    await expect(rival.kv.put('sdk-lost/data', 'stale', { fence: lock.fence })).rejects.toMatchObject({ code: 'stale_token' });
    await rival.kv.put('sdk-lost/data', 'fresh', { fence: rivalGot.handle.fence });
    await rivalGot.handle.release();
    holdKeepalives = false;
    for (const send of held.splice(0)) send();
    await agent.close().catch(() => undefined);
  }, 60_000);

  it('a watch resumes across a node kill with no gap and no duplicate', async () => {
    const leader = await cluster.waitLeader();
    const follower = cluster.ids.find((id) => id !== leader)!;
    const writer = client(cluster.ids.map((id) => cluster.url(id)));
    const start = (await writer.kv.put('wr/start', 's')).revision;
    // The watch opens on the follower first (its first endpoint). After the kill its reconnects
    // are held back 1.5 s, so writes land while it is disconnected.
    let delayReconnects = false;
    const agent = new Agent({ keepAliveTimeout: 10_000 });
    const dispatcher = agent.compose((dispatch) => (options, handler) => {
      if (delayReconnects && String(options.path).startsWith('/v1/watch')) {
        setTimeout(() => dispatch(options, handler), 1_500);
        return true;
      }
      return dispatch(options, handler);
    });
    const watcher = client([cluster.url(follower), ...cluster.ids.filter((id) => id !== follower).map((id) => cluster.url(id))], { dispatcher });
    const watch = watcher.kv.watch({ prefix: 'wr/', fromRevision: start + 1 });
    const seen: WatchEvent[] = [];
    const reader = (async () => {
      for await (const event of watch) seen.push(event);
    })();

    const expected: string[] = [];
    for (let i = 0; i < 80; i++) {
      const key = `wr/${String(i).padStart(3, '0')}`;
      await writer.kv.put(key, `v${i}`);
      expected.push(key);
      if (i === 30) {
        await waitFor('the watch to reach the writes', 10_000, async () => (seen.length >= 20 ? true : undefined), 20);
        expect(watch.endpoint).toBe(cluster.url(follower));
        delayReconnects = true;
        await cluster.stop(follower, 'SIGKILL');
      }
    }
    await waitFor(`all ${expected.length} changes (have ${seen.length})`, 20_000, async () => (seen.length >= expected.length ? true : undefined), 50);
    await sleep(500);
    watch.close();
    await reader;
    expect(watch.reconnects).toBeGreaterThanOrEqual(1);
    expect(seen.map((event) => (event.type === 'put' ? event.key : event.type))).toEqual(expected);
    const revisions = seen.map((event) => (event.type === 'put' ? event.modRevision : 0));
    expect([...revisions].sort((a, b) => a - b)).toEqual(revisions);
    await agent.close().catch(() => undefined);
  }, 90_000);
});
