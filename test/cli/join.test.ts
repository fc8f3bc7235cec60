/**
 * `serve --join`'s requests (src/cli/join.ts) against a scripted HTTP server: it asks to be added
 * as a learner, then to be promoted; a promotion refused as would_lose_quorum (the leader has
 * not heard from the new learner yet, with a voter down) is asked again, while other refusals
 * stop the join at once.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { fetchClusterInfo, JoinRefused, requestMembership, type JoinOptions } from '../../src/cli/join.ts';

interface Seen {
  readonly method: string;
  readonly url: string;
  readonly body: unknown;
}

type Answer = { status: number; body: unknown };

let server: Server | null = null;

afterEach(async () => {
  await new Promise<void>((resolve) => (server === null ? resolve() : server.close(() => resolve())));
  server = null;
});

/** Serves `answers` in order (the last one again once they run out); records every request. */
async function scripted(answers: readonly Answer[]): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  let next = 0;
  server = createServer((request: IncomingMessage, response: ServerResponse) => {
    let text = '';
    request.on('data', (chunk: Buffer) => (text += chunk.toString()));
    request.on('end', () => {
      seen.push({ method: request.method ?? '', url: request.url ?? '', body: text === '' ? undefined : JSON.parse(text) });
      const answer = answers[Math.min(next++, answers.length - 1)] ?? { status: 500, body: {} };
      response.writeHead(answer.status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(answer.body));
    });
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, seen };
}

function options(joinUrl: string): JoinOptions {
  return { joinUrl, id: 'n4', peerAddress: '127.0.0.14:7002', clientUrl: 'http://127.0.0.14:7001', logger: pino({ level: 'silent' }), stopped: () => false };
}

const members = [{ id: 'n4', peerAddress: '127.0.0.14:7002', voter: true }];
const refusal = (reason: string): Answer => ({ status: 400, body: { error: { code: 'invalid_argument', message: `refused: ${reason}`, member: 'n4', reason } } });

describe('joining a cluster (serve --join)', () => {
  it('adds itself as a learner, then asks again for the promotion while it is refused as would_lose_quorum', async () => {
    const { url, seen } = await scripted([
      { status: 200, body: { member: members[0], members } },
      refusal('would_lose_quorum'),
      refusal('would_lose_quorum'),
      { status: 200, body: { member: members[0], members } },
    ]);
    await expect(requestMembership(options(url))).resolves.toEqual(members);
    expect(seen.map((request) => `${request.method} ${request.url}`)).toEqual([
      'POST /v1/cluster/members',
      'POST /v1/cluster/members/n4/promote',
      'POST /v1/cluster/members/n4/promote',
      'POST /v1/cluster/members/n4/promote',
    ]);
    expect(seen[0]?.body).toMatchObject({ id: 'n4', peerAddress: '127.0.0.14:7002', clientUrl: 'http://127.0.0.14:7001', learner: true });
  }, 20_000);

  it('gives up at once on a refusal that waiting cannot change', async () => {
    const added = await scripted([refusal('already_member')]);
    await expect(requestMembership(options(added.url))).rejects.toBeInstanceOf(JoinRefused);
    expect(added.seen).toHaveLength(1);
    await new Promise<void>((resolve) => server?.close(() => resolve()));
    const promoted = await scripted([{ status: 200, body: { member: members[0], members } }, { status: 404, body: { error: { code: 'not_found', message: 'gone', reason: 'not_member' } } }]);
    await expect(requestMembership(options(promoted.url))).rejects.toThrow(/promote answered 404/);
    expect(promoted.seen).toHaveLength(2);
    // would_lose_quorum when asking to be added (a learner changes no quorum) is not waited out.
    await new Promise<void>((resolve) => server?.close(() => resolve()));
    const quorum = await scripted([refusal('would_lose_quorum')]);
    await expect(requestMembership(options(quorum.url))).rejects.toBeInstanceOf(JoinRefused);
  }, 20_000);

  it('learns the cluster id and peer addresses, and refuses to take the place of a member with its id', async () => {
    const cluster = {
      clusterId: 'c-7',
      members: [
        { id: 'n1', peerAddress: '127.0.0.11:7002', voter: true },
        { id: 'n2', peerAddress: '[::1]:7002', voter: true },
      ],
    };
    const fine = await scripted([{ status: 200, body: cluster }]);
    const info = await fetchClusterInfo(options(fine.url));
    expect(info.clusterId).toBe('c-7');
    expect([...info.addresses]).toEqual([
      ['n1', { host: '127.0.0.11', port: 7002 }],
      ['n2', { host: '::1', port: 7002 }],
    ]);
    await new Promise<void>((resolve) => server?.close(() => resolve()));
    // n4 is still in the configuration (say it died): a new data dir must not become n4.
    const taken = await scripted([{ status: 200, body: { ...cluster, members: [...cluster.members, members[0]] } }]);
    await expect(fetchClusterInfo(options(taken.url))).rejects.toThrow(/already in the cluster's configuration/);
  }, 20_000);
});
