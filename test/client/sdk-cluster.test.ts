// The SDK against an in-process 3-node cluster (real HTTP servers, real Raft): every feature
// end to end, through endpoints that include a dead one, so each call also exercises failover.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Concord, ConcordError, Op, type LeaderChange, type ServiceView, type WatchEvent } from '../../src/client/index.ts';
import { sleep, TestCluster, useClusterPerTest } from '../server/cluster-harness.ts';

const DEAD = 'http://127.0.0.1:9'; // discard port: connection refused

async function rejection(promise: Promise<unknown>): Promise<ConcordError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ConcordError);
    return error as ConcordError;
  }
  throw new Error('expected a rejection');
}

/** `promise`, or a rejection after `ms` (so a missing event fails the test quickly). */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([promise, sleep(ms).then(() => Promise.reject(new Error(`timed out waiting for ${what}`)))]);
}

/** Collects what an async iterator yields until `done` holds (bounded). */
async function collect<T>(iterator: AsyncIterator<T>, done: (items: T[]) => boolean, items: T[] = [], timeoutMs = 10_000): Promise<T[]> {
  const deadline = Date.now() + timeoutMs;
  while (!done(items)) {
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`timed out; got ${JSON.stringify(items)}`);
    const next = await Promise.race([iterator.next(), sleep(left).then(() => null)]);
    if (next === null) throw new Error(`timed out; got ${JSON.stringify(items)}`);
    if (next.done === true) break;
    items.push(next.value);
  }
  return items;
}

describe('the SDK on a live cluster', () => {
  const clusterOf = useClusterPerTest();
  let cluster: TestCluster;
  let concord: Concord;
  const clients: Concord[] = [];
  function client(endpoints: string[]): Concord {
    const made = new Concord({ endpoints, timeoutMs: 5_000 });
    clients.push(made);
    return made;
  }
  beforeEach(() => {
    cluster = clusterOf();
    concord = client([DEAD, ...cluster.members.map((member) => member.url)]);
  });
  afterEach(async () => {
    for (const made of clients.splice(0)) await made.close();
  });

  it('kv: put, get, range, conditional put and delete, txn, prefix delete, typed errors', async () => {
    const first = await concord.kv.put('app/a', '1');
    expect(first.revision).toBeGreaterThan(0);
    await concord.kv.put('app/b', '2');
    const a = await concord.kv.get('app/a');
    expect(a).toMatchObject({ key: 'app/a', value: '1', version: 1, modRevision: first.revision });
    expect(await concord.kv.get('app/none')).toBeNull();
    expect(await concord.kv.get('app/a', { consistency: 'serializable' })).not.toBeNull();

    const cas = await rejection(concord.kv.put('app/a', 'x', { ifRevision: first.revision + 100 }));
    expect(cas.code).toBe('compare_failed');
    expect(cas.status).toBe(409);
    const swapped = await concord.kv.put('app/a', '1b', { ifRevision: first.revision });
    expect(swapped.prev?.value).toBe('1');
    await expect(concord.kv.put('app/new', 'n', { ifRevision: 0 })).resolves.toMatchObject({ revision: expect.any(Number) });

    const range = await concord.kv.range('app/', { limit: 2 });
    expect(range.items.map((item) => item.key)).toEqual(['app/a', 'app/b']);
    expect(range.more).toBe(true);

    const txn = await concord.kv.txn().compare('app/b', 'value', '==', '2').success(Op.put('app/c', '3'), Op.get('app/a')).failure(Op.get('app/b')).commit();
    expect(txn.succeeded).toBe(true);
    expect(txn.results[1]).toMatchObject({ get: { kv: { value: '1b' } } });
    const failed = await concord.kv.txn().compare('app/b', 'version', '>', 5).success(Op.delete('app/b')).failure(Op.range('app/')).commit();
    expect(failed.succeeded).toBe(false);

    const deleted = await concord.kv.delete('app/c');
    expect(deleted.deleted).toBe(1);
    expect((await concord.kv.deletePrefix('app/')).deleted).toBe(3);
    expect((await concord.kv.range('app/')).items).toEqual([]);

    const invalid = await rejection(concord.kv.put('', 'x'));
    expect(invalid.code).toBe('invalid_argument');
    // The dead endpoint was passed over, and the client now talks to the leader directly.
    const leader = await cluster.leader();
    expect(concord.core.preferredEndpoint).toBe(leader.url);
  });

  it('a write retried with the same idempotency key applies once', async () => {
    const first = await concord.kv.put('once', 'v', { idempotencyKey: 'k-1' });
    const again = await concord.kv.put('once', 'v', { idempotencyKey: 'k-1' });
    expect(again.revision).toBe(first.revision);
    expect((await concord.kv.get('once'))?.version).toBe(1);
  });

  it('watch: history from a revision, live changes, a txn revision, and resume on another node with no gap or duplicate', async () => {
    const start = (await concord.kv.put('w/0', 'zero')).revision;
    const followers = await cluster.followers();
    const watcher = client([followers[0]!.url, followers[1]!.url]);
    const watch = watcher.kv.watch({ prefix: 'w/', fromRevision: start });
    const iterator = watch[Symbol.asyncIterator]();
    const seen: WatchEvent[] = [];
    await concord.kv.put('w/1', 'one');
    await collect(iterator, (items) => items.length >= 2, seen);
    // Kill the HTTP server the watch is on (its streams end), then write meanwhile.
    await followers[0]!.server.close();
    await concord.kv.txn().success(Op.put('w/2', 'two'), Op.put('w/3', 'three'), Op.delete('w/0')).commit();
    await concord.kv.put('w/4', 'four');
    await collect(iterator, (items) => items.length >= 6, seen);
    await sleep(200);
    watch.close();
    const rest = await collect(iterator, () => false, [], 2_000);
    expect(rest).toEqual([]);
    expect(seen.map((event) => (event.type === 'put' || event.type === 'delete' ? `${event.type}:${event.key}` : event.type))).toEqual([
      'put:w/0', 'put:w/1', 'put:w/2', 'put:w/3', 'delete:w/0', 'put:w/4',
    ]);
    expect(watch.reconnects).toBeGreaterThanOrEqual(1);
  });

  it('watch from now sees only later changes; close() ends it', async () => {
    await concord.kv.put('n/old', 'x');
    const watch = concord.kv.watch({ key: 'n/k', prevValue: true });
    const iterator = watch[Symbol.asyncIterator]();
    const first = iterator.next();
    await sleep(300);
    await concord.kv.put('n/k', 'a');
    await concord.kv.put('n/k', 'b');
    const items = await collect(iterator, (events) => events.length >= 1, [(await first).value as WatchEvent]);
    const more = await collect(iterator, (events) => events.length >= 1);
    expect(items[0]).toMatchObject({ type: 'put', key: 'n/k', value: 'a' });
    expect(more[0]).toMatchObject({ type: 'put', key: 'n/k', value: 'b', prev: { value: 'a' } });
    watch.close();
    expect((await iterator.next()).done).toBe(true);
  });

  it('leases: grant, keepAlive handle renews past the TTL, timeToLive, revoke deletes attached keys', async () => {
    const grant = await concord.leases.grant(1_000);
    const keeper = await concord.leases.keepAlive(grant);
    await concord.kv.put('leased', 'v', { lease: keeper });
    let renewals = 0;
    keeper.on('renewed', () => renewals++);
    await sleep(2_500);
    expect(renewals).toBeGreaterThanOrEqual(4);
    expect(keeper.isSafe()).toBe(true);
    expect(await concord.kv.get('leased')).not.toBeNull();
    const info = await concord.leases.timeToLive(grant.id);
    expect(info?.keys).toEqual(['leased']);
    expect((await concord.leases.list()).map((lease) => lease.id)).toContain(grant.id);
    await keeper.revoke();
    expect(keeper.signal.aborted).toBe(true);
    expect(await concord.kv.get('leased')).toBeNull();
    expect(await concord.leases.timeToLive(grant.id)).toBeNull();
  });

  it('locks: try-once refused with the holder, a waiter gets it on release with a greater token, fenced writes', async () => {
    const other = client(cluster.members.map((member) => member.url).reverse());
    const held = await concord.lock('db', { ttlMs: 5_000, owner: 'first' });
    const refused = await rejection(other.lock('db', { ttlMs: 5_000 }));
    expect(refused.code).toBe('locked');
    expect(refused.details['holder']).toMatchObject({ owner: 'first', token: held.token });

    await concord.kv.put('guarded', 'by-first', { fence: held.fence });
    const waiting = other.lock('db', { ttlMs: 5_000, waitMs: 10_000, owner: 'second' });
    await sleep(300);
    await held.release();
    expect(held.signal.aborted).toBe(true);
    const second = await waiting;
    expect(second.token).toBeGreaterThan(held.token);
    const stale = await rejection(concord.kv.put('guarded', 'stale', { fence: held.fence }));
    expect(stale.code).toBe('stale_token');
    // A lock-token guard turns the same question into a branch instead of an error.
    const stillMine = (token: number) => concord.kv.txn().compareLockToken('db', '==', token).success(Op.put('guarded', 'txn')).failure(Op.get('guarded')).commit();
    expect(await stillMine(held.token)).toMatchObject({ succeeded: false, results: [{ get: { kv: { value: 'by-first' } } }] });
    expect(await stillMine(second.token)).toMatchObject({ succeeded: true });
    await other.kv.put('guarded', 'by-second', { fence: second.fence });
    expect((await concord.describeLock('db')).holder).toMatchObject({ owner: 'second', token: second.token });
    {
      await using _disposed = second;
    }
    expect((await concord.describeLock('db')).held).toBe(false);
    expect(await concord.withLock('db', (token) => token, { ttlMs: 2_000 })).toBeGreaterThan(second.token);
  });

  it('a lock whose lease is revoked behind its back is lost at once (lease_gone) and the signal fires', async () => {
    const lock = await concord.lock('gone', { ttlMs: 3_000 });
    const lost = new Promise<ConcordError>((resolve) => lock.on('lost', resolve));
    await concord.leases.revoke(lock.lease);
    const error = await within(lost, 5_000, 'lost');
    expect(error.code).toBe('lock_lost');
    expect(error.details['reason']).toBe('lease_gone');
    expect(lock.signal.aborted).toBe(true);
  });

  it('locks on one shared kept-alive lease: releasing a lock leaves the lease; losing the lease loses both locks', async () => {
    const lease = await concord.leases.keepAlive(await concord.leases.grant(2_000));
    const first = await concord.lock('shared-a', { lease });
    const second = await concord.lock('shared-b', { lease });
    expect(first.lease).toBe(lease.id);
    expect(second.lease).toBe(lease.id);
    await first.release();
    expect(first.signal.aborted).toBe(true);
    expect(lease.signal.aborted).toBe(false);
    expect((await concord.describeLock('shared-b')).holder?.lease).toBe(lease.id);
    const lost = new Promise<ConcordError>((resolve) => second.on('lost', resolve));
    await lease.revoke();
    // The handle learns it from the lease handle at once (closed), not from a keepalive.
    expect((await within(lost, 5_000, 'lost')).code).toBe('lock_lost');
    expect((await concord.describeLock('shared-b')).held).toBe(false);
  });

  it('a registration whose instance expired behind its back registers again', async () => {
    const registration = await concord.registry.register({ service: 'api', id: 'api-1', address: '10.0.0.9', port: 81, ttlMs: 1_000 });
    const reregistered = new Promise<{ lease: string }>((resolve) => registration.on('reregistered', resolve));
    const firstLease = registration.lease;
    await concord.leases.revoke(firstLease); // the instance goes with its lease
    expect((await concord.registry.discover('api')).instances).toEqual([]);
    const again = await within(reregistered, 5_000, 'reregistered');
    expect(again.lease).not.toBe(firstLease);
    expect((await concord.registry.discover('api')).instances.map((instance) => instance.id)).toEqual(['api-1']);
    await registration.deregister();
    expect((await concord.registry.discover('api')).instances).toEqual([]);
  });

  it('elections: campaign, observe, proclaim, resign hands over to the next candidate', async () => {
    const election = concord.election('api');
    const controller = new AbortController();
    const changes = election.observe({ signal: controller.signal });
    const seen: LeaderChange[] = [];
    await collect(changes, (items) => items.length >= 1, seen);
    expect(seen[0]?.leader).toBeUndefined();
    const leader = await election.campaign('http://one', { ttlMs: 5_000 });
    await collect(changes, (items) => items.length >= 2, seen);
    expect(seen[1]?.leader).toMatchObject({ value: 'http://one', token: leader.token });
    expect(await election.leader()).toMatchObject({ value: 'http://one' });
    await leader.proclaim('http://one-v2');
    await collect(changes, (items) => items.length >= 3, seen);
    expect(seen[2]?.leader?.value).toBe('http://one-v2');

    const rival = client(cluster.members.map((member) => member.url)).election('api');
    await expect(rival.campaign('http://two', { ttlMs: 5_000 })).rejects.toMatchObject({ code: 'locked' });
    const next = rival.campaign('http://two', { ttlMs: 5_000, waitMs: 10_000 });
    await sleep(300);
    await leader.resign();
    const second = await next;
    expect(second.token).toBeGreaterThan(leader.token);
    await collect(changes, (items) => items.some((item) => item.leader?.value === 'http://two'), seen);
    await expect(leader.proclaim('late')).rejects.toMatchObject({ code: 'stale_token' });
    controller.abort();
    await second.resign();
  });

  it('registry: register heartbeats past the TTL, discover with filters, watch sees each change, deregister', async () => {
    const web1 = await concord.registry.register({ service: 'web', id: 'web-1', address: '10.0.0.1', port: 80, tags: ['v2'], ttlMs: 1_000 });
    const controller = new AbortController();
    const watch = concord.registry.watch('web', { signal: controller.signal });
    const views: ServiceView[] = [];
    await collect(watch, (items) => items.length >= 1, views);
    const streamed = concord.registry.watch('web', { signal: controller.signal, via: 'sse' });
    const streamedViews: ServiceView[] = [];
    await collect(streamed, (items) => items.length >= 1, streamedViews);
    expect(views[0]?.instances.map((instance) => instance.id)).toEqual(['web-1']);
    await sleep(2_000); // two TTLs: heartbeats keep it
    const web2 = await concord.registry.register({ service: 'web', id: 'web-2', address: '10.0.0.2', port: 80, ttlMs: 5_000 });
    await collect(watch, (items) => items.length >= 2, views);
    expect(views[1]?.instances.map((instance) => instance.id)).toEqual(['web-1', 'web-2']);
    expect((await concord.registry.discover('web', { tag: 'v2' })).instances.map((instance) => instance.id)).toEqual(['web-1']);
    await web1.setStatus('critical', 'disk full');
    await collect(watch, (items) => items.length >= 3, views);
    expect(views[2]?.instances.find((instance) => instance.id === 'web-1')?.status).toBe('critical');
    expect((await concord.registry.discover('web', { status: 'passing' })).instances.map((instance) => instance.id)).toEqual(['web-2']);
    await web1.deregister();
    await collect(watch, (items) => items.length >= 4, views);
    expect(views[3]?.instances.map((instance) => instance.id)).toEqual(['web-2']);
    // The SSE form saw the same lists at the same revisions.
    await collect(streamed, (items) => items.length >= 4, streamedViews);
    expect(streamedViews.map((view) => view.revision)).toEqual(views.map((view) => view.revision));
    expect(streamedViews[3]?.instances.map((instance) => instance.id)).toEqual(['web-2']);
    expect(await concord.registry.services()).toEqual([{ name: 'web', instances: 1, passing: 1 }]);
    controller.abort();
    await web2.deregister();
  });
});

describe('watch and compaction', () => {
  let cluster: TestCluster | undefined;
  afterEach(async () => {
    await cluster?.stop();
  });

  it('a compacted fromRevision ends the watch with compacted, or with resync yields a snapshot and goes on', async () => {
    cluster = await TestCluster.start({ kv: { historyMaxEvents: 3 } });
    await cluster.waitForLeader();
    const concord = new Concord({ endpoints: cluster.members.map((member) => member.url) });
    for (let i = 0; i < 6; i++) await concord.kv.put(`c/${i}`, String(i));
    const strict = concord.kv.watch({ prefix: 'c/', fromRevision: 1 })[Symbol.asyncIterator]();
    const error = await rejection(strict.next());
    expect(error.code).toBe('compacted');
    expect(error.details['compactRevision']).toEqual(expect.any(Number));

    const resyncing = concord.kv.watch({ prefix: 'c/', fromRevision: 1, resync: true });
    const iterator = resyncing[Symbol.asyncIterator]();
    const [snapshot] = await collect(iterator, (items) => items.length >= 1);
    expect(snapshot).toMatchObject({ type: 'snapshot' });
    expect(snapshot?.type === 'snapshot' ? snapshot.items.length : 0).toBe(6);
    await concord.kv.put('c/new', 'n');
    const [change] = await collect(iterator, (items) => items.length >= 1);
    expect(change).toMatchObject({ type: 'put', key: 'c/new' });
    resyncing.close();
    await concord.close();
  });
});
