/**
 * `concord serve --join URL`: a node with a new data dir joins an existing cluster instead of
 * bootstrapping one. It learns where the members are (GET /v1/cluster), starts with no
 * configuration of its own (it never campaigns), and asks to be added: as a learner first (POST
 * /v1/cluster/members with `learner: true`), then promoted (POST .../{id}/promote, which waits
 * until it has caught up with the log or a snapshot). Every call is retried until it succeeds or
 * the node stops: the cluster may be busy with another change or electing a leader.
 *
 * The promotion is asked for on its own because one refusal is transient for a node that is
 * joining: `would_lose_quorum` while the leader has not heard from the new learner yet. With a
 * voter down (replacing a dead member), the new voter set needs the learner's acks to form a
 * quorum, and the leader does not count a learner it has never heard from; a short log passes the
 * catch-up check before the first ack arrives, so the refusal can come first. The learner is
 * running, so it will be heard: ask again.
 */
import type { Logger } from 'pino';
import { Agent, fetch, type RequestInit, type Response } from 'undici';
import { parseHostPort, type HostPort } from './serve-options.ts';

const RETRY_MIN_MS = 250;
const RETRY_MAX_MS = 5_000;
/** A membership change waits for the learner to catch up: give it time before asking again. */
const ADD_TIMEOUT_MS = 60_000;

interface MemberAnswer {
  readonly id: string;
  readonly peerAddress: string;
  readonly voter: boolean;
}

export interface JoinOptions {
  readonly joinUrl: string;
  readonly id: string;
  readonly peerAddress: string;
  readonly clientUrl: string;
  readonly logger: Logger;
  /** True once the node is shutting down: stop retrying. */
  readonly stopped: () => boolean;
  /**
   * For an https:// --join URL: the CA to trust (the node's --client-ca) and the certificate to
   * present (its --client-cert), as when it forwards to a leader. Absent: Node's defaults.
   */
  readonly tls?: { readonly ca?: string; readonly cert: string; readonly key: string };
}

/** One request to the cluster, with the node's TLS settings when it has some. */
async function request(options: JoinOptions, url: URL, init: RequestInit): Promise<{ response: Response; close(): Promise<void> }> {
  if (options.tls === undefined || url.protocol !== 'https:') return { response: await fetch(url, init), close: async () => undefined };
  const dispatcher = new Agent({ connect: { ...options.tls } });
  try {
    return { response: await fetch(url, { ...init, dispatcher }), close: () => dispatcher.close() };
  } catch (error) {
    await dispatcher.close();
    throw error;
  }
}

/** A request that failed for good (bad arguments): retrying cannot help. */
export class JoinRefused extends Error {
  override readonly name = 'JoinRefused';
}

/** The cluster's id and its members' peer addresses as it reports them (this node excluded). */
export async function fetchClusterInfo(options: JoinOptions): Promise<{ clusterId: string; addresses: Map<string, HostPort> }> {
  const answer = await retrying(options, 'learning the members', async () => {
    const { response, close } = await request(options, new URL('/v1/cluster', options.joinUrl), { signal: AbortSignal.timeout(10_000) });
    const body = (await response.json().finally(close)) as { clusterId?: string; members?: MemberAnswer[]; error?: { message?: string } };
    if (!response.ok || typeof body.clusterId !== 'string') {
      throw new Error(`GET /v1/cluster answered ${response.status}: ${body.error?.message ?? 'no cluster id'}`);
    }
    return { clusterId: body.clusterId, members: body.members ?? [] };
  });
  if (answer.members.some((member) => member.id === options.id)) {
    // Taking a member's place with an empty data dir would forget the votes and entries the
    // others count on: a committed write could be lost.
    throw new JoinRefused(
      `member ${options.id} is already in the cluster's configuration; a node with a new data dir cannot take its place. ` +
        'Remove the member first (DELETE /v1/cluster/members/ID), or join with a new --id',
    );
  }
  const addresses = new Map<string, HostPort>();
  for (const member of answer.members) {
    if (member.peerAddress === '') continue;
    addresses.set(member.id, parseHostPort('peer-address', member.peerAddress));
  }
  return { clusterId: answer.clusterId, addresses };
}

/** Asks the cluster to add this node as a learner, then to promote it; resolves once it is a voter. */
export async function requestMembership(options: JoinOptions): Promise<MemberAnswer[]> {
  const added = { id: options.id, peerAddress: options.peerAddress, clientUrl: options.clientUrl, learner: true, timeoutMs: ADD_TIMEOUT_MS };
  await retrying(options, 'asking to be added', () => post(options, '/v1/cluster/members', added, []));
  return retrying(options, 'asking to be promoted', () =>
    post(options, `/v1/cluster/members/${encodeURIComponent(options.id)}/promote`, { timeoutMs: ADD_TIMEOUT_MS }, ['would_lose_quorum']),
  );
}

/** One POST of a membership change; a 400 or 404 is final unless its reason is in `transient`. */
async function post(options: JoinOptions, path: string, body: unknown, transient: readonly string[]): Promise<MemberAnswer[]> {
  const { response, close } = await request(options, new URL(path, options.joinUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(ADD_TIMEOUT_MS + 5_000),
  });
  const answer = (await response.json().finally(close)) as { members?: MemberAnswer[]; error?: { code?: string; message?: string; reason?: string } };
  if (response.ok) return answer.members ?? [];
  const problem = `POST ${path} answered ${response.status} ${answer.error?.code ?? ''}: ${answer.error?.message ?? ''}`;
  const final = (response.status === 400 || response.status === 404) && !transient.includes(answer.error?.reason ?? '');
  throw final ? new JoinRefused(problem) : new Error(problem);
}

async function retrying<T>(options: JoinOptions, what: string, attempt: () => Promise<T>): Promise<T> {
  let delayMs = RETRY_MIN_MS;
  for (let tries = 1; ; tries++) {
    try {
      return await attempt();
    } catch (error) {
      if (error instanceof JoinRefused || options.stopped()) throw error;
      options.logger.warn({ joinUrl: options.joinUrl, tries, err: error }, `joining: ${what} failed; retrying in ${delayMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, delayMs).unref());
      delayMs = Math.min(RETRY_MAX_MS, delayMs * 2);
    }
  }
}
