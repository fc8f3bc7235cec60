/**
 * Real processes: three `concord serve` nodes on 127.0.0.11-13, spoken to over HTTP exactly as
 * a client would. One cluster serves the whole file (startup costs seconds); the tests run in
 * order and each leaves the cluster serving for the next. The follower that restarts lags far
 * behind a small snapshot interval, so it catches up through a snapshot, not the log.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalCluster, openSse, sleep, waitFor, type HttpAnswer } from './harness.ts';

const SNAPSHOT_EVERY = 64;

let cluster: LocalCluster;

interface KeyValueBody {
  readonly key: string;
  readonly value: string;
  readonly modRevision: number;
}

function errorCode(answer: HttpAnswer): unknown {
  return (answer.body as { error?: { code?: unknown } } | undefined)?.error?.code;
}

async function put(id: string, key: string, value: string, query = ''): Promise<HttpAnswer> {
  return cluster.http(id, 'PUT', `/v1/kv/${key}${query}`, { value });
}

async function putOk(id: string, key: string, value: string): Promise<number> {
  const answer = await put(id, key, value);
  expect(answer.status, `PUT ${key} via ${id}: ${answer.text}`).toBe(200);
  return (answer.body as { revision: number }).revision;
}

async function leaderAndFollowers(): Promise<{ leader: string; followers: string[] }> {
  const leader = await cluster.waitLeader();
  return { leader, followers: cluster.ids.filter((id) => id !== leader && cluster.node(id).running) };
}

beforeAll(async () => {
  cluster = await LocalCluster.create({ extraArgs: ['--snapshot-every', String(SNAPSHOT_EVERY)], echo: process.env['CONCORD_TEST_ECHO'] === '1' });
  cluster.startAll();
  await cluster.waitLeader(30_000);
}, 45_000);

afterAll(async () => {
  await cluster?.destroy();
}, 20_000);

describe('a cluster of real processes', () => {
  it('forms, elects one leader, and every node knows every member\'s client URL', async () => {
    const leader = await cluster.waitLeader();
    for (const id of cluster.ids) {
      const answer = await cluster.http(id, 'GET', '/v1/cluster');
      expect(answer.status).toBe(200);
      const body = answer.body as { clusterId: string; nodeId: string; leaderId: string; members: { id: string; clientUrl: string; voter: boolean }[] };
      expect(body).toMatchObject({ clusterId: 'concord-test', nodeId: id, leaderId: leader });
      expect(answer.headers['x-concord-node']).toBe(id);
      // Client URLs arrive in the peer handshakes; give the last connections a moment.
      await waitFor(`${id} to know every client URL`, 5_000, async () => {
        const members = ((await cluster.http(id, 'GET', '/v1/cluster')).body as typeof body).members;
        return members.every((member) => member.clientUrl === cluster.url(member.id)) ? true : undefined;
      });
      expect(body.members.map((member) => member.id).sort()).toEqual(['n1', 'n2', 'n3']);
      expect(body.members.every((member) => member.voter)).toBe(true);
    }
    // Each node dials from its own peer host, so per-address firewall rules can cut one off.
    for (const id of cluster.ids) {
      for (const peer of cluster.ids.filter((other) => other !== id)) {
        const accepted = cluster.findLog(id, (line) => line.msg === 'accepted inbound connection' && line['peer'] === peer);
        expect(String(accepted?.['remote']), `${id} sees ${peer} connect from its own host`).toMatch(new RegExp(`^${cluster.node(peer).spec.host.replace(/\./g, '\\.')}:`));
      }
    }
  }, 20_000);

  it('reads a write made through any node back linearizably through every other', async () => {
    for (const writer of cluster.ids) {
      const value = `written-via-${writer}`;
      const revision = await putOk(writer, `greeting/${writer}`, value);
      for (const reader of cluster.ids.filter((id) => id !== writer)) {
        const answer = await cluster.http(reader, 'GET', `/v1/kv/greeting/${writer}`);
        expect(answer.status, answer.text).toBe(200);
        expect(answer.body).toMatchObject({ key: `greeting/${writer}`, value, modRevision: revision });
      }
    }
  }, 20_000);

  it('answers malformed JSON, wrong types, oversized bodies and unknown routes with contract errors, and keeps serving', async () => {
    const { followers } = await leaderAndFollowers();
    const target = followers[0] ?? 'n1';
    const malformed = await cluster.http(target, 'PUT', '/v1/kv/bad', '{"value": "unterminated');
    expect(malformed.status).toBe(400);
    expect(errorCode(malformed)).toBe('invalid_argument');
    const wrongType = await cluster.http(target, 'PUT', '/v1/kv/bad', { value: 42 });
    expect(wrongType.status).toBe(400);
    expect(errorCode(wrongType)).toBe('invalid_argument');
    const unknownField = await cluster.http(target, 'PUT', '/v1/kv/bad', { value: 'x', colour: 'blue' });
    expect(unknownField.status).toBe(400);
    expect(errorCode(unknownField)).toBe('invalid_argument');
    // More than the sockets buffer: the node reads and discards the body so that its sender
    // gets the 413 (it used to close the connection unread, and the client got EPIPE instead).
    let oversized: HttpAnswer | undefined;
    for (let attempt = 0; attempt < 3; attempt++) {
      oversized = await cluster.http(target, 'PUT', '/v1/kv/bad', { value: 'x'.repeat(3 * 1024 * 1024) });
      expect(oversized.status).toBe(413);
      expect(errorCode(oversized)).toBe('payload_too_large');
    }
    const unknownRoute = await cluster.http(target, 'GET', '/v1/no-such-route');
    expect(unknownRoute.status).toBe(404);
    expect(errorCode(unknownRoute)).toBe('not_found');
    for (const answer of [malformed, wrongType, unknownField, oversized!, unknownRoute]) {
      expect(answer.headers['content-type']).toMatch(/application\/json/);
      expect(answer.text).not.toMatch(/<html|at .*\.ts:\d+/);
    }
    expect((await cluster.http(target, 'GET', '/health')).status).toBe(200);
    await putOk(target, 'after-errors', 'still serving');
    expect((await cluster.http(target, 'GET', '/v1/kv/bad')).status).toBe(404);
  }, 20_000);

  it('resumes a watch on another node with no gap and no duplicate', async () => {
    const [first = 'n1', second = 'n2'] = cluster.ids;
    const start = await putOk(first, 'unwatched/marker', 'm');
    const watchA = await openSse(cluster, first, `/v1/watch?prefix=${encodeURIComponent('watched/')}&fromRevision=${start + 1}`);
    expect(watchA.status).toBe(200);
    const written: { key: string; value: string; revision: number }[] = [];
    for (let position = 0; position < 10; position++) {
      const key = `watched/${position}`;
      const value = `v${position}`;
      written.push({ key, value, revision: await putOk(cluster.ids[position % 3] ?? 'n1', key, value) });
    }
    const puts = (stream: { events: readonly { event: string; data: unknown }[] }): KeyValueBody[] =>
      stream.events.filter((event) => event.event === 'put').map((event) => event.data as KeyValueBody);
    await watchA.waitForEvents((events) => events.filter((event) => event.event === 'put').length >= 5, 'five watch events on the first node');
    watchA.close();
    const seenOnA = puts(watchA);
    const lastSeen = Math.max(...seenOnA.map((event) => event.modRevision));
    for (let position = 10; position < 20; position++) {
      const key = `watched/${position}`;
      const value = `v${position}`;
      written.push({ key, value, revision: await putOk(cluster.ids[position % 3] ?? 'n1', key, value) });
    }
    const watchB = await openSse(cluster, second, `/v1/watch?prefix=${encodeURIComponent('watched/')}&fromRevision=${lastSeen + 1}`);
    try {
      const finalRevision = written[written.length - 1]?.revision ?? 0;
      await watchB.waitForEvents(
        (events) => events.some((event) => event.event === 'put' && (event.data as KeyValueBody).modRevision >= finalRevision),
        'the resumed watch to reach the last write',
      );
      const combined = [...seenOnA, ...puts(watchB)].map((event) => ({ key: event.key, value: event.value, revision: event.modRevision }));
      expect(combined).toEqual(written);
    } finally {
      watchB.close();
    }
  }, 30_000);

  it('refuses a node started with another cluster id', async () => {
    const [n1 = 'n1', , n3 = 'n3'] = cluster.ids;
    const real = cluster.node(n1).spec;
    const host = '127.0.0.14';
    const others = cluster.ids.map((id) => {
      const spec = cluster.node(id).spec;
      return id === 'n2' ? `n2=${host}:${spec.peerPort}` : `${id}=${spec.host}:${spec.peerPort}`;
    });
    const before = (await cluster.http(n1, 'GET', '/v1/cluster')).body as { term: number; leaderId: string };
    const intruder = cluster.startExtra({
      ...real,
      id: 'n2',
      host,
      clusterId: 'some-other-cluster',
      dataDir: `${cluster.root}/intruder`,
      initialCluster: others.join(','),
    });
    const refused = (id: string): boolean =>
      cluster.findLog(id, (line) => line.msg === 'refused inbound connection' && line['reason'] === 'peer belongs to another cluster' && line['theirCluster'] === 'some-other-cluster') !== undefined;
    await waitFor('a member to refuse the other cluster\'s node', 15_000, async () => (refused(n1) || refused(n3) ? true : undefined));
    // The refusal can come before the intruder's HTTP server listens (its peer transport starts
    // first, and the HTTP server takes a few seconds on a loaded machine): wait until it answers.
    const ready = await waitFor('the intruder to answer /ready', 15_000, () => cluster.httpUrl(`${intruder.clientUrl}/ready`, 'GET'));
    expect(ready.status).toBe(503);
    const after = (await cluster.http(n1, 'GET', '/v1/cluster')).body as { term: number; leaderId: string; members: unknown[] };
    expect(after.leaderId).toBe(before.leaderId);
    expect(after.term).toBe(before.term);
    expect(after.members).toHaveLength(3);
    intruder.child?.kill('SIGKILL');
    await intruder.exited;
  }, 30_000);

  it('catches a restarted follower up after many writes, through a snapshot', async () => {
    const { leader, followers } = await leaderAndFollowers();
    const lagging = followers[0] ?? 'n1';
    await cluster.stop(lagging, 'SIGKILL');
    // Two at a time, so the leader sends far more appends than its in-flight window (64) to the
    // dead follower: the rest wait for entries the leader has meanwhile compacted away.
    const total = SNAPSHOT_EVERY * 5;
    const keys = Array.from({ length: total }, (_, position) => `bulk/${String(position).padStart(4, '0')}`);
    for (let offset = 0; offset < total; offset += 2) {
      await Promise.all(keys.slice(offset, offset + 2).map((key) => putOk(leader, key, `value of ${key}`)));
    }
    const linesBefore = cluster.node(lagging).lines.length;
    cluster.start(lagging);
    await cluster.waitReady(lagging, 20_000);
    const lastKey = keys[keys.length - 1] ?? '';
    await waitFor(`${lagging} to apply the last write`, 15_000, async () => {
      const answer = await cluster.http(lagging, 'GET', `/v1/kv/${lastKey}?consistency=serializable`);
      return answer.status === 200 ? true : undefined;
    });
    const range = await cluster.http(lagging, 'GET', '/v1/kv?prefix=bulk/&consistency=serializable&limit=1000');
    expect(range.status).toBe(200);
    const items = (range.body as { items: KeyValueBody[] }).items;
    expect(items.map((item) => item.key)).toEqual(keys);
    expect(items.every((item) => item.value === `value of ${item.key}`)).toBe(true);
    const restoredFromSnapshot = cluster.node(lagging).lines.slice(linesBefore)
      .some((line) => line.msg === 'state machine restored from a snapshot');
    expect(restoredFromSnapshot).toBe(true);
  }, 45_000);

  it('elects a new leader after kill -9 of the leader and loses no acknowledged write', async () => {
    const { leader } = await leaderAndFollowers();
    const survivors = cluster.ids.filter((id) => id !== leader);
    const acknowledged = new Map<string, string>();
    let counter = 0;
    let killedAtMs = 0;
    let firstAckAfterKillMs = 0;
    let stop = false;
    const writer = async (via: string): Promise<void> => {
      while (!stop) {
        const key = `durable/${via}/${counter++}`;
        const value = `v-${key}`;
        try {
          const answer = await put(via, key, value, '?timeoutMs=2000');
          if (answer.status === 200) {
            acknowledged.set(key, value);
            if (killedAtMs > 0 && firstAckAfterKillMs === 0) firstAckAfterKillMs = Date.now();
            if (killedAtMs === 0) await sleep(5);
            continue;
          }
        } catch {
          // A request cut off by the kill: its outcome is unknown, so it is not counted.
        }
        await sleep(20);
      }
    };
    const writers = survivors.map((id) => writer(id));
    await waitFor('writes before the kill', 10_000, async () => (acknowledged.size >= 20 ? true : undefined));
    const acknowledgedBeforeKill = acknowledged.size;
    killedAtMs = Date.now();
    await cluster.stop(leader, 'SIGKILL');
    try {
      await waitFor('an acknowledged write after the kill', 15_000, async () => (firstAckAfterKillMs > 0 ? true : undefined));
      await waitFor('more writes after the kill', 10_000, async () => (acknowledged.size >= acknowledgedBeforeKill + 20 ? true : undefined));
    } finally {
      stop = true;
      await Promise.all(writers);
    }
    const newLeader = await cluster.waitLeader(15_000, survivors);
    expect(newLeader).not.toBe(leader);
    console.info(`failover: first acknowledged write ${firstAckAfterKillMs - killedAtMs} ms after kill -9 of ${leader}`);
    // The kill closed the dead leader's connections, and the survivors took that as their cue
    // (RaftNode.leaderGone) instead of waiting out an election timeout.
    const forgot = survivors.filter((id) => cluster.node(id).lines.some((line) => line.msg === 'raft: leader-forgotten'));
    expect(forgot.length, 'survivors that forgot the killed leader when its connection closed').toBeGreaterThan(0);
    for (const reader of survivors) {
      const range = await cluster.http(reader, 'GET', '/v1/kv?prefix=durable/&limit=10000');
      expect(range.status).toBe(200);
      const stored = new Map((range.body as { items: KeyValueBody[] }).items.map((item) => [item.key, item.value]));
      for (const [key, value] of acknowledged) expect(stored.get(key), `${key} via ${reader}`).toBe(value);
    }
    // The old leader comes back with its log and sees every acknowledged write too.
    cluster.start(leader);
    await cluster.waitReady(leader, 20_000);
    const range = await cluster.http(leader, 'GET', '/v1/kv?prefix=durable/&limit=10000');
    const stored = new Map((range.body as { items: KeyValueBody[] }).items.map((item) => [item.key, item.value]));
    for (const [key, value] of acknowledged) expect(stored.get(key), `${key} via restarted ${leader}`).toBe(value);
  }, 60_000);

  it('refuses to start on a data dir another node holds, naming the dir, and exits non-zero', async () => {
    const holder = cluster.ids.find((id) => cluster.node(id).running) ?? 'n1';
    const spec = cluster.node(holder).spec;
    const second = cluster.startExtra({ ...spec, host: '127.0.0.15' });
    const code = await Promise.race([second.exited, sleep(20_000).then(() => 'timeout' as const)]);
    expect(code).toBe(1);
    const fatal = second.lines.find((line) => line.level === 60);
    expect(fatal?.msg).toContain(spec.dataDir);
    expect(fatal?.msg).toMatch(/in use|LOCK/);
    expect((await cluster.http(holder, 'GET', '/health')).status).toBe(200);
  }, 30_000);

  it('shuts down gracefully on SIGTERM with exit code 0', async () => {
    const { followers } = await leaderAndFollowers();
    const target = followers[0] ?? 'n1';
    // An open watch stream must not hold the shutdown up.
    const watch = await openSse(cluster, target, '/v1/watch?prefix=');
    expect(watch.status).toBe(200);
    const startedMs = Date.now();
    expect(await cluster.stop(target, 'SIGTERM')).toBe(0);
    expect(Date.now() - startedMs).toBeLessThan(8_000);
    watch.close();
    expect(cluster.findLog(target, (line) => line.msg === 'stopped')).toBeDefined();
  }, 20_000);

  it('stopped all at once (Ctrl-C on npm start), the leader does not wait for a successor that is stopping too', async () => {
    const { leader, followers } = await leaderAndFollowers();
    const linesBefore = cluster.node(leader).lines.length;
    const codes = await Promise.all([leader, ...followers].map((id) => cluster.stop(id, 'SIGTERM')));
    expect(codes.every((code) => code === 0), `exit codes ${codes.join(', ')}`).toBe(true);
    const messages = cluster.node(leader).lines.slice(linesBefore).map((line) => String(line.msg));
    // Either the hand-off won the race or the leader saw its target's connection close; never
    // the wait to the bound for a node that was gone.
    expect(messages.some((msg) => /^leadership handed to|went away before taking over/.test(msg)), messages.join('\n')).toBe(true);
    expect(messages).not.toContain('leadership did not move before the bound; shutting down anyway');
  }, 30_000);
});
