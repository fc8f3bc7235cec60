/**
 * Real processes: membership changes on `concord serve` nodes over loopback, spoken to over HTTP
 * and through the SDK exactly as an operator and a client would.
 *
 * - grow 3 → 5 with `--join` and shrink back to 3 (the leader among the removed) while a writer
 *   runs: no acknowledged write is lost, and the three that remain agree on the voters;
 * - replace a member killed with SIGKILL by a fresh node from `--join`, which catches up through
 *   a snapshot and ends up holding every key;
 * - a rolling restart (SIGTERM, exit 0, restart on the data dir) of all three nodes under a load
 *   of writes and linearizable reads costs no request beyond the SDK's retries;
 * - with one of three voters dead, removing another member is refused (would_lose_quorum).
 *
 * Every test gets a cluster of its own (spare loopback hosts for the nodes that join) and
 * destroys it, processes and data dirs, whatever happened.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Concord } from '../../src/client/index.ts';
import { LocalCluster, sleep, waitFor, type HttpAnswer } from './harness.ts';

const ECHO = process.env['CONCORD_TEST_ECHO'] === '1';
/** Bounded but generous for a loaded 2-core machine: an election plus a busy event loop. */
const LEADER_WAIT_MS = 20_000;
/** A membership change waits out a learner's catch-up and a pending change; the server's own deadline. */
const CHANGE_TIMEOUT_MS = 20_000;

interface Member {
  readonly id: string;
  readonly peerAddress: string;
  readonly clientUrl: string;
  readonly voter: boolean;
}

interface ClusterView {
  readonly nodeId: string;
  readonly leaderId: string;
  readonly term: number;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly members: readonly Member[];
}

let cluster: LocalCluster | null = null;
const clients: Concord[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) await client.close().catch(() => undefined);
  await cluster?.destroy();
  cluster = null;
}, 30_000);

async function newCluster(options: { spares?: number; extraArgs?: readonly string[] } = {}): Promise<LocalCluster> {
  const made = await LocalCluster.create({ echo: ECHO, spares: options.spares ?? 0, extraArgs: options.extraArgs ?? [] });
  cluster = made;
  made.startAll();
  await made.waitLeader(LEADER_WAIT_MS + 10_000);
  return made;
}

function sdk(local: LocalCluster, ids: readonly string[]): Concord {
  const client = new Concord({ endpoints: ids.map((id) => local.url(id)), timeoutMs: 15_000 });
  clients.push(client);
  return client;
}

function ok(answer: HttpAnswer, what: string): Record<string, unknown> {
  expect(answer.status, `${what}: ${answer.text}`).toBe(200);
  return answer.body as Record<string, unknown>;
}

async function view(local: LocalCluster, id: string): Promise<ClusterView> {
  const answer = await local.http(id, 'GET', '/v1/cluster', undefined, {}, 2_000);
  if (answer.status !== 200) throw new Error(`GET /v1/cluster on ${id}: ${answer.status} ${answer.text}`);
  return answer.body as ClusterView;
}

function votersOf(cluster: ClusterView): string[] {
  return cluster.members.filter((member) => member.voter).map((member) => member.id).sort();
}

function learnersOf(cluster: ClusterView): string[] {
  return cluster.members.filter((member) => !member.voter).map((member) => member.id).sort();
}

/**
 * Waits until every node of `on` reports exactly `voters` as voters, no learner, and one leader
 * among them; returns that leader.
 */
async function waitVoters(local: LocalCluster, on: readonly string[], voters: readonly string[], timeoutMs = LEADER_WAIT_MS): Promise<string> {
  const wanted = [...voters].sort();
  return waitFor(`${on.join(',')} to report voters ${wanted.join(',')}`, timeoutMs, async () => {
    const leaders = new Set<string>();
    for (const id of on) {
      const seen = await view(local, id);
      if (JSON.stringify(votersOf(seen)) !== JSON.stringify(wanted) || learnersOf(seen).length > 0) return undefined;
      leaders.add(seen.leaderId);
    }
    const [leader] = [...leaders];
    return leaders.size === 1 && leader !== undefined && wanted.includes(leader) ? leader : undefined;
  }, 200);
}

async function removeMember(local: LocalCluster, via: string, id: string): Promise<HttpAnswer> {
  return local.http(via, 'DELETE', `/v1/cluster/members/${id}?timeoutMs=${CHANGE_TIMEOUT_MS}`, undefined, {}, CHANGE_TIMEOUT_MS + 5_000);
}

interface LoadResult {
  /** Key → value of every acknowledged write. */
  readonly acked: Map<string, string>;
  /** Every call that failed (after the SDK's own retries), with its error. */
  readonly failures: string[];
  /** Linearizable reads that answered, and those that returned another value than the last acknowledged write. */
  readonly reads: number;
  readonly staleReads: string[];
  readonly elapsedMs: number;
}

interface Load {
  /** Writes acknowledged so far (all lanes). */
  readonly ackedCount: () => number;
  stop(): Promise<LoadResult>;
}

/**
 * A bounded load through the SDK: `lanes` loops, each putting unique keys `prefix/<lane>/<n>`
 * (each value unique too) and, when `readBack`, reading the key back linearizably right after
 * the put was acknowledged. Each lane stops after `maxPerLane` writes, after `maxMs`, or at stop().
 */
function startLoad(client: Concord, prefix: string, options: { lanes: number; maxPerLane: number; maxMs: number; readBack: boolean }): Load {
  const acked = new Map<string, string>();
  const failures: string[] = [];
  const staleReads: string[] = [];
  let reads = 0;
  let stopped = false;
  const startedMs = performance.now();
  const overdue = (): boolean => stopped || performance.now() - startedMs > options.maxMs;
  const lane = async (laneId: number): Promise<void> => {
    for (let n = 0; n < options.maxPerLane && !overdue(); n++) {
      const key = `${prefix}/${laneId}/${String(n).padStart(5, '0')}`;
      const value = `${key}@${Date.now()}-${Math.random().toString(36).slice(2, 10)}`;
      try {
        await client.kv.put(key, value);
        acked.set(key, value);
      } catch (error) {
        failures.push(`put ${key}: ${error instanceof Error ? error.message : String(error)}`);
        continue;
      }
      if (!options.readBack) continue;
      try {
        const read = await client.kv.get(key);
        reads += 1;
        if (read?.value !== value) staleReads.push(`${key}: read ${JSON.stringify(read?.value)} after acknowledged ${JSON.stringify(value)}`);
      } catch (error) {
        failures.push(`get ${key}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  };
  const running = Promise.all(Array.from({ length: options.lanes }, (_, laneId) => lane(laneId)));
  return {
    ackedCount: () => acked.size,
    async stop() {
      stopped = true;
      await running;
      return { acked, failures, reads, staleReads, elapsedMs: Math.round(performance.now() - startedMs) };
    },
  };
}

/**
 * Reads every acknowledged key back on `id` (linearizable GET, a few at a time); returns the
 * keys missing or holding another value.
 */
async function missingOn(local: LocalCluster, id: string, acked: ReadonlyMap<string, string>, consistency: 'linearizable' | 'serializable' = 'linearizable'): Promise<string[]> {
  const entries = [...acked];
  const wrong: string[] = [];
  const worker = async (): Promise<void> => {
    for (let entry = entries.shift(); entry !== undefined; entry = entries.shift()) {
      const [key, value] = entry;
      const answer = await local.http(id, 'GET', `/v1/kv/${key}?consistency=${consistency}`);
      const got = (answer.body as { value?: unknown } | undefined)?.value;
      if (answer.status !== 200 || got !== value) wrong.push(`${key} on ${id}: ${answer.status} ${JSON.stringify(got)} (acknowledged ${JSON.stringify(value)})`);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return wrong;
}

async function waitAcked(load: Load, atLeast: number, what: string, timeoutMs = 15_000): Promise<void> {
  await waitFor(`${atLeast} acknowledged writes ${what}`, timeoutMs, async () => (load.ackedCount() >= atLeast ? true : undefined), 50);
}

function removedLine(local: LocalCluster, id: string): boolean {
  return local.findLog(id, (line) => typeof line.msg === 'string' && line.msg.startsWith('this node was removed from the cluster')) !== undefined;
}

describe('membership changes on real processes', () => {
  it('grows 3 → 5 with --join and shrinks back to 3 (the leader among the removed) under a writer; no acknowledged write is lost', async () => {
    const startedMs = performance.now();
    const local = await newCluster({ spares: 2 });
    const originals = ['n1', 'n2', 'n3'];
    const everyone = [...originals, 'n4', 'n5'];
    // The SDK knows the joiners' URLs from the start (refused connections until they run).
    const client = new Concord({ endpoints: [...originals.map((id) => local.url(id)), ...local.spareClientUrls], timeoutMs: 15_000 });
    clients.push(client);
    const load = startLoad(client, 'grow', { lanes: 2, maxPerLane: 1_500, maxMs: 45_000, readBack: false });
    await waitAcked(load, 20, 'before the cluster grows');

    // Grow: two fresh nodes join at once (their requests contend: one change at a time).
    local.startJoining('n4', local.url('n1'));
    local.startJoining('n5', local.url('n2'));
    const grownLeader = await waitVoters(local, everyone, everyone, 40_000);
    for (const id of ['n4', 'n5']) {
      expect(local.findLog(id, (line) => line.msg === 'joined the cluster: now a voter'), local.tail(id)).toBeDefined();
      expect(local.findLog(id, (line) => line.msg === 'new data dir: joining the cluster at --join')).toBeDefined();
    }
    const ackedWhenGrown = load.ackedCount();
    await waitAcked(load, ackedWhenGrown + 20, 'on five voters');

    // Shrink: remove the leader of the moment (asked through a node that joined), then another original.
    if (!originals.includes(grownLeader)) {
      ok(await local.http(grownLeader, 'POST', '/v1/cluster/transfer-leader', { to: 'n1', timeoutMs: 10_000 }, {}, 15_000), 'transfer to n1');
    }
    const firstRemoved = await local.waitLeader(LEADER_WAIT_MS, everyone);
    expect(originals).toContain(firstRemoved);
    let remaining = everyone.filter((id) => id !== firstRemoved);
    const afterFirst = ok(await removeMember(local, 'n4', firstRemoved), `DELETE ${firstRemoved} (the leader)`);
    expect((afterFirst.members as Member[]).map((member) => member.id)).not.toContain(firstRemoved);
    const leaderAfterFirst = await waitVoters(local, remaining, remaining, 30_000);
    expect(leaderAfterFirst).not.toBe(firstRemoved);
    const ackedAfterFirst = load.ackedCount();
    await waitAcked(load, ackedAfterFirst + 20, 'on four voters');

    const secondRemoved = originals.find((id) => id !== firstRemoved && id !== leaderAfterFirst) ?? '';
    expect(secondRemoved).not.toBe('');
    remaining = remaining.filter((id) => id !== secondRemoved);
    ok(await removeMember(local, leaderAfterFirst, secondRemoved), `DELETE ${secondRemoved}`);
    const finalLeader = await waitVoters(local, remaining, remaining, 30_000);
    const ackedOnThree = load.ackedCount();
    await waitAcked(load, ackedOnThree + 20, 'on the final three voters');
    const result = await load.stop();

    // The removed leader appended its own removal: it knows. A removed follower may not (the
    // new configuration commits without it, and the members then refuse its connections).
    await waitFor(`${firstRemoved} to learn it was removed`, 10_000, async () => (removedLine(local, firstRemoved) ? true : undefined));
    const followerKnows = removedLine(local, secondRemoved);
    // The removed nodes still run (one may campaign, thinking itself a voter): the final three keep
    // their leader and term, and hold every acknowledged write.
    const termOnThree = (await view(local, finalLeader)).term;
    expect(result.acked.size).toBeGreaterThanOrEqual(80);
    for (const id of remaining) expect(await missingOn(local, id, result.acked)).toEqual([]);
    for (const id of remaining) {
      const seen = await view(local, id);
      expect(votersOf(seen)).toEqual([...remaining].sort());
      expect(learnersOf(seen)).toEqual([]);
      expect(seen.leaderId).toBe(finalLeader);
      expect(seen.term).toBe(termOnThree);
      for (const member of seen.members) expect(member.clientUrl).toBe(local.url(member.id));
    }
    for (const id of [firstRemoved, secondRemoved]) expect(await local.stop(id, 'SIGTERM')).toBe(0);
    // Reported, not asserted: a write may fail only if the SDK's 15 s of retries ran out.
    console.info(`grow/shrink: ${result.acked.size} writes acknowledged in ${result.elapsedMs} ms, ${result.failures.length} failed`
      + ` (${result.failures.slice(0, 3).join('; ')}); removed ${firstRemoved} (leader) and ${secondRemoved}`
      + ` (${followerKnows ? 'which learned it was removed' : 'which never learned it was removed'}); test ${Math.round(performance.now() - startedMs)} ms`);
    expect(result.failures).toEqual([]);
  }, 120_000);

  it('replaces a member killed with SIGKILL by a fresh node from --join, which ends up holding every key', async () => {
    const startedMs = performance.now();
    const local = await newCluster({ spares: 1, extraArgs: ['--snapshot-every', '40'] });
    const leader = await local.waitLeader();
    const [dead = '', survivor = ''] = local.ids.filter((id) => id !== leader);
    const written = new Map<string, string>();
    const put = async (via: string, key: string, value: string): Promise<void> => {
      ok(await local.http(via, 'PUT', `/v1/kv/${key}`, { value }), `PUT ${key} via ${via}`);
      written.set(key, value);
    };
    for (let i = 0; i < 60; i++) await put(i % 2 === 0 ? leader : survivor, `replace/before/${i}`, `b${i}`);
    expect(await local.stop(dead, 'SIGKILL')).not.toBe(0);
    // Past the snapshot interval again with one voter dead: the newcomer needs a snapshot.
    for (let i = 0; i < 60; i++) await put(survivor, `replace/dead/${i}`, `d${i}`);

    local.startJoining('n4', local.url(survivor));
    const withNewcomer = [leader, survivor, 'n4'];
    await waitFor('n4 to be a voter', 40_000, async () => {
      const seen = await view(local, leader);
      return votersOf(seen).includes('n4') ? true : undefined;
    }, 200);
    ok(await removeMember(local, survivor, dead), `DELETE ${dead} (dead)`);
    const newLeader = await waitVoters(local, withNewcomer, withNewcomer, 30_000);
    expect(local.findLog('n4', (line) => line.msg === 'raft: snapshot-installed'), local.tail('n4')).toBeDefined();

    // The cluster serves writes, through the newcomer too.
    for (let i = 0; i < 20; i++) await put(withNewcomer[i % 3] ?? newLeader, `replace/after/${i}`, `a${i}`);
    expect(await missingOn(local, 'n4', written)).toEqual([]);
    // Its own state, not the leader's: serializable reads answer from n4's store as it is.
    await waitFor('n4 to apply the last write', 10_000, async () => {
      const [n4, lead] = await Promise.all([view(local, 'n4'), view(local, newLeader)]);
      return n4.appliedIndex >= lead.commitIndex ? true : undefined;
    });
    expect(await missingOn(local, 'n4', written, 'serializable')).toEqual([]);
    const range = ok(await local.http('n4', 'GET', '/v1/kv?prefix=replace/&consistency=serializable'), 'range on n4') as { items: { key: string }[] };
    expect(range.items.map((item) => item.key).sort()).toEqual([...written.keys()].sort());
    for (const id of withNewcomer) {
      const seen = await view(local, id);
      expect(seen.members.map((member) => member.id).sort()).toEqual([...withNewcomer].sort());
    }
    console.info(`replace: ${dead} replaced by n4 in ${Math.round(performance.now() - startedMs)} ms`);
  }, 120_000);

  it('restarts every node in turn (SIGTERM, exit 0) under load with no failed request and no lost write', async () => {
    const startedMs = performance.now();
    const local = await newCluster();
    const client = sdk(local, local.ids);
    const load = startLoad(client, 'rolling', { lanes: 3, maxPerLane: 2_000, maxMs: 50_000, readBack: true });
    await waitAcked(load, 30, 'before the first restart');
    const restarts: string[] = [];
    const restarted = new Set<string>();
    let leaderRestarted = false;
    // Followers first, then the leader. Leadership can move onto a node already restarted (a
    // restart's election): the node leading then is restarted once more, so a leader always is.
    while (restarted.size < local.ids.length || !leaderRestarted) {
      const leader = await local.waitLeader(LEADER_WAIT_MS);
      const id = local.ids.find((candidate) => !restarted.has(candidate) && candidate !== leader) ?? leader;
      const wasLeader = id === leader;
      restarted.add(id);
      leaderRestarted ||= wasLeader;
      const before = load.ackedCount();
      expect(await local.stop(id, 'SIGTERM'), local.tail(id)).toBe(0);
      if (wasLeader) expect(local.findLog(id, (line) => typeof line.msg === 'string' && line.msg.startsWith('leadership handed to')), local.tail(id)).toBeDefined();
      const stoppedMs = performance.now();
      await waitAcked(load, before + 10, `while ${id} is down`);
      const servedMs = performance.now();
      local.start(id);
      await local.waitReady(id, LEADER_WAIT_MS);
      restarts.push(`${id}${wasLeader ? ' (leader)' : ''} [down ${Math.round(servedMs - stoppedMs)} ms until 10 writes, ready ${Math.round(performance.now() - servedMs)} ms]`);
    }
    await local.waitLeader(LEADER_WAIT_MS);
    const afterRestarts = load.ackedCount();
    await waitAcked(load, afterRestarts + 20, 'after the restarts');
    const result = await load.stop();
    console.info(`rolling restart of ${restarts.join(', ')}: ${result.acked.size} writes and ${result.reads} reads in ${result.elapsedMs} ms,`
      + ` ${result.failures.length} failed (${result.failures.slice(0, 3).join('; ')}); test ${Math.round(performance.now() - startedMs)} ms`);
    expect(restarts.some((entry) => entry.includes('(leader)'))).toBe(true);
    expect(result.failures).toEqual([]);
    expect(result.staleReads).toEqual([]);
    expect(result.reads).toBe(result.acked.size);
    for (const id of local.ids) expect(await missingOn(local, id, result.acked)).toEqual([]);
  }, 120_000);

  it('refuses to remove a second member while one of three is dead (400 would_lose_quorum), holds back a learner never heard from (503 learner_behind), and keeps serving', async () => {
    const local = await newCluster();
    const leader = await local.waitLeader();
    const [dead = '', follower = ''] = local.ids.filter((id) => id !== leader);
    ok(await local.http(follower, 'PUT', '/v1/kv/quorum/before', { value: 'x' }), 'put');
    expect(await local.stop(dead, 'SIGKILL')).not.toBe(0);
    // The leader counts a voter as live for up to two check-quorum periods (2 election timeouts, 2 s).
    await sleep(3_000);
    for (const [via, target] of [[follower, follower], [follower, leader], [leader, follower]] as const) {
      const refused = await removeMember(local, via, target);
      expect(refused.status, `DELETE ${target} via ${via}: ${refused.text}`).toBe(400);
      expect(refused.body).toMatchObject({ error: { code: 'invalid_argument', reason: 'would_lose_quorum', member: target } });
    }
    const all = [...local.ids].sort();
    for (const id of [leader, follower]) {
      const seen = await view(local, id);
      expect(votersOf(seen)).toEqual(all);
      expect(seen.leaderId).toBe(leader);
    }
    // A learner nobody has heard from (nothing listens at its address) is still catching up, however
    // short the log: its promotion waits for it and, at the deadline, answers 503 learner_behind.
    const ghost = { id: 'ghost', peerAddress: '127.0.0.1:9', clientUrl: '', learner: true };
    ok(await local.http(follower, 'POST', `/v1/cluster/members?timeoutMs=${CHANGE_TIMEOUT_MS}`, ghost, {}, CHANGE_TIMEOUT_MS + 5_000), 'add a learner');
    const promoted = await local.http(follower, 'POST', '/v1/cluster/members/ghost/promote?timeoutMs=1500', undefined, {}, 10_000);
    expect(promoted.status, promoted.text).toBe(503);
    expect(promoted.body).toMatchObject({ error: { code: 'unavailable', reason: 'learner_behind', member: 'ghost' } });
    ok(await removeMember(local, leader, 'ghost'), 'remove the learner');
    ok(await local.http(follower, 'PUT', '/v1/kv/quorum/after', { value: 'y' }), 'put after the refusals');
    // Removing the dead member itself is safe (two live voters of two) and allowed.
    ok(await removeMember(local, follower, dead), `DELETE ${dead}`);
    await waitVoters(local, [leader, follower], [leader, follower]);
    ok(await local.http(follower, 'PUT', '/v1/kv/quorum/last', { value: 'z' }), 'put on two voters');
  }, 90_000);
});
