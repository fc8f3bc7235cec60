// Health, readiness and metrics of a live 3-node cluster, through HTTP.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { call, sleep, TestCluster, useClusterPerTest } from './cluster-harness.ts';

describe('operations routes', () => {
  let cluster: TestCluster;
  beforeEach(async () => {
    cluster = await TestCluster.start();
  });
  afterEach(async () => {
    await cluster.stop();
  });

  it('/health answers 200 with the node id on every node', async () => {
    for (const member of cluster.members) {
      const answer = await call(member.url, 'GET', '/health');
      expect(answer.status).toBe(200);
      expect(answer.body).toEqual({ status: 'ok', nodeId: member.id });
      expect(answer.headers['x-concord-node']).toBe(member.id);
    }
  });

  it('/ready is 200 once a leader is known, with x-concord-leader', async () => {
    const leader = await cluster.waitForLeader();
    for (const member of cluster.members) {
      let answer = await call(member.url, 'GET', '/ready');
      for (let i = 0; i < 100 && answer.status !== 200; i++) answer = await call(member.url, 'GET', '/ready');
      expect(answer.status).toBe(200);
      expect(answer.body.leaderId).toBe(leader.id);
      expect(answer.headers['x-concord-leader']).toBe(leader.id);
    }
  });

  it('/ready is 503 in the contract shape with retry-after when no leader is known', async () => {
    await cluster.waitForLeader();
    const lonely = cluster.members[0]!;
    for (const member of cluster.members) cluster.network.isolated.add(member.id);
    // With check-quorum, the leader steps down and nobody can win an election.
    const deadline = Date.now() + 5000;
    let answer = await call(lonely.url, 'GET', '/ready');
    while (answer.status === 200 && Date.now() < deadline) answer = await call(lonely.url, 'GET', '/ready');
    expect(answer.status).toBe(503);
    expect(answer.body.error.code).toBe('no_leader');
    expect(answer.headers['retry-after']).toBeDefined();
  });
});

describe('metrics, OpenAPI and protocol details', () => {
  const clusterOf = useClusterPerTest();
  let cluster: TestCluster;
  beforeEach(() => {
    cluster = clusterOf();
  });

  it('/metrics exposes Raft state, proposals, fsync, peers and HTTP requests in Prometheus text', async () => {
    const leader = await cluster.leader();
    const [follower] = await cluster.followers();
    for (let i = 0; i < 3; i++) expect((await call(follower!.url, 'PUT', `/v1/kv/m${i}`, { json: { value: 'x' } })).status).toBe(200);
    // The follower proposed the three puts (through the leader, over the peer connection) and
    // answered them itself: its proposal and request counters say so.
    const followerText = (await call(follower!.url, 'GET', '/metrics')).text;
    expect(followerText).toMatch(/^concord_proposals_total\{outcome="applied"\} 3$/m);
    expect(followerText).toMatch(/^concord_proposal_duration_seconds_count 3$/m);
    expect(followerText).toMatch(/^concord_http_requests_total\{method="PUT",route="\/v1\/kv\/\*",status="200"\} 3$/m);
    leader.server.metrics.observeFsync(0.002);
    cluster.network.isolated.add(follower!.id);
    const answer = await call(leader.url, 'GET', '/metrics');
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toMatch(/^text\/plain/);
    const text = answer.text;
    expect(text).toMatch(/^concord_raft_term [1-9]/m);
    expect(text).toMatch(/^concord_raft_is_leader 1$/m);
    expect(text).toMatch(/^concord_raft_leader_changes_total [1-9]/m);
    expect(text).toMatch(/^concord_raft_commit_index [1-9]/m);
    expect(text).toMatch(/^concord_raft_applied_index [1-9]/m);
    expect(text).toMatch(/^concord_storage_fsync_duration_seconds_count 1$/m);
    expect(text).toContain(`concord_peer_connection_state{peer="${follower!.id}",state="disconnected"} 1`);
    // The leader replicated three puts (and heartbeats): its transport counters say so.
    const sent = Number(/^concord_peer_messages_sent_total (\d+)$/m.exec(text)?.[1]);
    const frames = Number(/^concord_peer_frames_sent_total (\d+)$/m.exec(text)?.[1]);
    expect(sent).toBeGreaterThanOrEqual(6);
    expect(frames).toBeGreaterThan(0);
    expect(frames).toBeLessThanOrEqual(sent);
    expect(text).toMatch(/^concord_peer_messages_dropped_total 0$/m);
    // No HTTP request reached the leader for them.
    expect(text).not.toMatch(/^concord_http_requests_total\{method="PUT"/m);
  });

  it('/metrics has the process: CPU, memory, GC pauses and event-loop stalls', async () => {
    const member = cluster.members[0]!;
    // Probes of the event loop that ran more than 50 ms late.
    const stalls = (text: string): number => {
      const count = Number(/^nodejs_eventloop_delay_seconds_count (\d+)$/m.exec(text)?.[1]);
      const quick = Number(/^nodejs_eventloop_delay_seconds_bucket\{le="0.05"\} (\d+)$/m.exec(text)?.[1]);
      return count - quick;
    };
    const before = stalls((await call(member.url, 'GET', '/metrics')).text);
    // Young-generation collections: 64 MB of short-lived arrays.
    let kept = 0;
    for (let i = 0; i < 64 * 1024; i++) kept += new Array(128).fill(i).length;
    expect(kept).toBe(64 * 1024 * 128);
    // A stall of the event loop, which the next probe sees.
    const stallEnd = performance.now() + 80;
    while (performance.now() < stallEnd) {
      // busy: nothing else runs
    }
    await sleep(50); // the GC observer reports on a later turn, the probe within 20 ms
    const text = (await call(member.url, 'GET', '/metrics')).text;
    expect(stalls(text)).toBeGreaterThan(before);
    expect(Number(/^nodejs_gc_duration_seconds_count\{kind="minor"\} (\d+)$/m.exec(text)?.[1])).toBeGreaterThan(0);
    expect(Number(/^process_cpu_user_seconds_total ([\d.e+-]+)$/m.exec(text)?.[1])).toBeGreaterThan(0);
    expect(Number(/^process_resident_memory_bytes (\d+)$/m.exec(text)?.[1])).toBeGreaterThan(10_000_000);
    expect(Number(/^nodejs_heap_size_used_bytes (\d+)$/m.exec(text)?.[1])).toBeGreaterThan(1_000_000);
  });

  it('/openapi.json documents every served route with its schemas', async () => {
    const answer = await call(cluster.members[0]!.url, 'GET', '/openapi.json');
    expect(answer.status).toBe(200);
    const doc = answer.body;
    expect(doc.openapi).toMatch(/^3\./);
    expect(doc.info.title).toBeTypeOf('string');
    for (const path of ['/v1/kv/{key}', '/v1/kv', '/v1/txn', '/v1/watch', '/v1/leases', '/v1/leases/{id}', '/v1/leases/{id}/keepalive', '/v1/cluster', '/v1/cluster/transfer-leader', '/health', '/ready', '/metrics']) {
      expect(doc.paths[path], path).toBeDefined();
    }
    const put = doc.paths['/v1/kv/{key}'].put;
    expect(put.parameters.some((p: { in: string; name: string }) => p.in === 'path' && p.name === 'key')).toBe(true);
    expect(put.requestBody.content['application/json'].schema.properties.value.type).toBe('string');
    expect(put.requestBody.content['application/json'].schema.additionalProperties).toBe(false);
    expect(Object.keys(doc.components.schemas)).toEqual(expect.arrayContaining(['ConcordError', 'KeyValue']));
    // Every $ref points at a component that exists.
    const refs = [...answer.text.matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)].map((match) => match[1]!);
    expect(refs.length).toBeGreaterThan(0);
    for (const ref of refs) expect(doc.components.schemas[ref], ref).toBeDefined();
  });

  it('a request already forwarded is not forwarded again over HTTP by a follower: 503 no_leader', async () => {
    const [follower] = await cluster.followers();
    const lease = await call(follower!.url, 'POST', '/v1/leases', { json: { ttlMs: 5000 } });
    expect(lease.status).toBe(200);
    // Reading a lease's remaining time is the leader's alone: it would be forwarded again.
    const answer = await call(follower!.url, 'GET', `/v1/leases/${lease.body.id}`, { headers: { 'x-concord-forwarded-by': 'n9' } });
    expect(answer.status).toBe(503);
    expect(answer.body.error.code).toBe('no_leader');
    // A write goes to the leader over the peer connection, which never forwards it further.
    const write = await call(follower!.url, 'PUT', '/v1/kv/loop', { json: { value: 'x' }, headers: { 'x-concord-forwarded-by': 'n9' } });
    expect(write.status).toBe(200);
    expect((await call(follower!.url, 'GET', '/v1/kv/loop')).body.value).toBe('x');
  });

  it('a write that cannot commit before its deadline is 504 timeout, and a retry with its key applies once', async () => {
    const leader = await cluster.leader();
    for (const member of cluster.members) if (member.id !== leader.id) cluster.network.isolated.add(member.id);
    const headers = { 'idempotency-key': 'late-write' };
    const started = Date.now();
    const answer = await call(leader.url, 'PUT', '/v1/kv/late', { json: { value: 'x', timeoutMs: 300 }, headers });
    expect(Date.now() - started).toBeLessThan(3000);
    expect(answer.status).toBe(504);
    expect(answer.body.error.code).toBe('timeout');
    cluster.network.isolated.clear();
    const newLeader = await cluster.waitForLeader();
    const retry = await call(newLeader.url, 'PUT', '/v1/kv/late', { json: { value: 'x', timeoutMs: 5000 }, headers });
    expect(retry.status).toBe(200);
    const read = await call(newLeader.url, 'GET', '/v1/kv/late');
    expect(read.body.version).toBe(1);
  });
});
