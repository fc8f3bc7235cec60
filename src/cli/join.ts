/**
 * `concord serve --join URL`: a node with a new data dir joins an existing cluster instead of
 * bootstrapping one. It learns where the members are (GET /v1/cluster), starts with no
 * configuration of its own (it never campaigns), and asks to be added (POST
 * /v1/cluster/members, which adds it as a learner and promotes it once it has caught up with the
 * log or a snapshot). Both calls are retried until they succeed or the node stops: the cluster
 * may be busy with another change or electing a leader.
 */
import type { Logger } from 'pino';
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
}

/** A request that failed for good (bad arguments): retrying cannot help. */
export class JoinRefused extends Error {
  override readonly name = 'JoinRefused';
}

/** The members' peer addresses as the cluster reports them (this node excluded). */
export async function fetchMemberAddresses(options: JoinOptions): Promise<Map<string, HostPort>> {
  const answer = await retrying(options, 'learning the members', async () => {
    const response = await fetch(new URL('/v1/cluster', options.joinUrl), { signal: AbortSignal.timeout(10_000) });
    const body = (await response.json()) as { members?: MemberAnswer[]; error?: { message?: string } };
    if (!response.ok) throw new Error(`GET /v1/cluster answered ${response.status}: ${body.error?.message ?? ''}`);
    return body.members ?? [];
  });
  const addresses = new Map<string, HostPort>();
  for (const member of answer) {
    if (member.id === options.id || member.peerAddress === '') continue;
    addresses.set(member.id, parseHostPort('peer-address', member.peerAddress));
  }
  return addresses;
}

/** Asks the cluster to add this node; resolves once it is a voter. */
export async function requestMembership(options: JoinOptions): Promise<MemberAnswer[]> {
  const body = JSON.stringify({ id: options.id, peerAddress: options.peerAddress, clientUrl: options.clientUrl, timeoutMs: ADD_TIMEOUT_MS });
  return retrying(options, 'asking to be added', async () => {
    const response = await fetch(new URL('/v1/cluster/members', options.joinUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      signal: AbortSignal.timeout(ADD_TIMEOUT_MS + 5_000),
    });
    const answer = (await response.json()) as { members?: MemberAnswer[]; error?: { code?: string; message?: string } };
    if (response.ok) return answer.members ?? [];
    const problem = `POST /v1/cluster/members answered ${response.status} ${answer.error?.code ?? ''}: ${answer.error?.message ?? ''}`;
    if (response.status === 400 || response.status === 404) throw new JoinRefused(problem);
    throw new Error(problem);
  });
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
