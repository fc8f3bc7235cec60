/**
 * Acquire and campaign, which may wait in line: propose the acquire on the leader (forwarded
 * there from followers, like every write); if it was queued, wait for the one grant that names
 * this request's waiter id. The wait ends cleanly in every case:
 * - granted: answer with the holding;
 * - `waitMs` ran out, or the request's deadline is near: withdraw from the queue, then 423
 *   locked naming the holder (or, if the grant won the race, answer with it); if the withdrawal
 *   cannot commit (no quorum), 504 timeout: the request is still in line, so its outcome is unknown;
 * - the client went away: withdraw, releasing a holding granted meanwhile (nobody would use it);
 * - the waiter's lease ended while it waited: 404 for that lease.
 *
 * The waiter id is derived from the request's idempotency key (the router gives a forwarded
 * request one), so a retry of the same request, here or on another node, waits for the same
 * place in line that the first attempt took.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ConcordError } from '../../common/errors.ts';
import {
  isKvError,
  toConcordError,
  type KvApplyOutcome,
  type LockAcquireCommand,
  type LockAcquireResult,
  type LockGrant,
} from '../../kv/index.ts';
import type { LockHolder } from '../../lock/index.ts';
import type { ServerContext } from '../context.ts';
import type { LeaderAttempt } from '../replica-service.ts';
import type { RequestScope } from '../request-scope.ts';
import { REVISION_HEADER } from '../routes/route-helpers.ts';
import type { LockWaiters, PendingWait, WaitEnd } from './lock-waiters.ts';
import { withdrawWaiter } from './withdraw.ts';

/** Time kept back from the request's deadline for the withdrawal and the answer. */
const WITHDRAW_RESERVE_MS = 500;

export interface HoldRequest {
  readonly command: Omit<LockAcquireCommand, 'waiterId'>;
  /** 0: try once. */
  readonly waitMs: number;
}

function grantOf(name: string, holder: LockHolder): LockGrant {
  return { name, token: holder.token, lease: holder.lease, owner: holder.owner, ...(holder.value === undefined ? {} : { value: holder.value }) };
}

function waiterIdFor(scope: RequestScope, nodeId: string): string {
  const key = scope.idempotencyKey;
  if (key === undefined) return `${nodeId}-${randomUUID()}`;
  return `k-${createHash('sha256').update(key).digest('base64url')}`;
}

/** Resolves when the client's connection closes before the answer was sent. */
function clientGone(reply: FastifyReply): { gone: Promise<'client_gone'>; stop(): void } {
  const response = reply.raw;
  let onClose: () => void = () => undefined;
  const gone = new Promise<'client_gone'>((resolve) => {
    onClose = () => {
      if (!response.writableFinished) resolve('client_gone');
    };
    if (response.destroyed) resolve('client_gone');
    else response.once('close', onClose);
  });
  return { gone, stop: () => response.off('close', onClose) };
}

/**
 * Acquires (or campaigns) on the leader. Returns the holding, or null when the leader answered
 * a forwarded request and that answer has already been sent.
 */
export async function acquireOnLeader(
  context: ServerContext,
  waiters: LockWaiters,
  request: FastifyRequest,
  reply: FastifyReply,
  scope: RequestScope,
  hold: HoldRequest,
): Promise<LockGrant | null> {
  const startedMs = performance.now();
  let waiterId: string | undefined;
  // Inline, not a named local: run from source (tsx keeps names) each named closure costs ~1 µs.
  const routed = await context.router.run(request, reply, scope, true, async (): Promise<LeaderAttempt<LockGrant>> => {
    if (hold.waitMs > 0) waiterId ??= waiterIdFor(scope, context.deps.nodeId);
    // Registered before proposing: the grant may apply before the proposal's answer arrives.
    const wait = waiterId === undefined ? null : waiters.register(hold.command.kind, hold.command.name, waiterId);
    let proposed: LeaderAttempt<KvApplyOutcome>;
    try {
      const command = { ...hold.command, ...(waiterId === undefined ? {} : { waiterId }) } as LockAcquireCommand;
      proposed = await context.service.proposeOnce(command, scope.idempotencyKey, scope.deadline);
    } catch (error) {
      wait?.cancel();
      throw error;
    }
    if (proposed.kind !== 'done') {
      wait?.cancel();
      return proposed;
    }
    reply.header(REVISION_HEADER, String(proposed.value.revision));
    const result = proposed.value.result;
    if (isKvError(result)) {
      wait?.cancel();
      throw toConcordError(result);
    }
    const acquired = result as LockAcquireResult;
    if (acquired.status === 'held' || wait === null || waiterId === undefined) {
      wait?.cancel();
      if (acquired.status !== 'held') throw new ConcordError('internal', 'a try-once acquire was queued');
      const { status: _status, revision: _revision, ...grant } = acquired;
      return { kind: 'done', value: grant };
    }
    const waitLeftMs = hold.waitMs - (performance.now() - startedMs);
    return { kind: 'done', value: await waitInLine(context, reply, scope, hold.command, waiterId, wait, waitLeftMs) };
  });
  return routed.kind === 'relayed' ? null : routed.value;
}

async function waitInLine(
  context: ServerContext,
  reply: FastifyReply,
  scope: RequestScope,
  command: HoldRequest['command'],
  waiterId: string,
  wait: PendingWait,
  waitLeftMs: number,
): Promise<LockGrant> {
  const { kind, name } = command;
  const waitMs = Math.max(0, Math.min(waitLeftMs, scope.deadline.remainingMs() - WITHDRAW_RESERVE_MS));
  const client = clientGone(reply);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), waitMs);
  });
  let end: WaitEnd | 'timeout' | 'client_gone';
  try {
    end = await Promise.race([wait.ended, timedOut, client.gone]);
  } finally {
    clearTimeout(timer);
    client.stop();
    wait.cancel();
  }
  if (typeof end === 'object' && end.kind === 'granted') return grantOf(name, end.holder);
  if (typeof end === 'object' && end.kind === 'lease_ended') {
    throw new ConcordError('not_found', `lease ${JSON.stringify(end.lease)} ended while waiting for ${kind} ${JSON.stringify(name)}`, { lease: end.lease });
  }
  const withdrawn = await withdrawWaiter(context, { type: 'lockWithdraw', kind, name, waiterId, releaseIfHolding: end === 'client_gone' });
  if (withdrawn === null) {
    // Still in line as far as anyone knows: a 423 would claim "not acquired" when a grant may
    // yet come (a ttlMs waiter's lease then expires unrenewed). Unknown outcome: 504, as for a write.
    throw new ConcordError(
      'timeout',
      `${kind} ${JSON.stringify(name)} was not granted within waitMs, and leaving its queue could not be committed (no leader?): ` +
        'this request may still be granted it later; a retry with the same idempotency-key waits for the same place',
    );
  }
  if (withdrawn.status === 'holding') {
    const { status: _status, revision: _revision, ...grant } = withdrawn;
    return grant;
  }
  const holder = context.deps.node.kv.locks.holder(kind, name);
  throw new ConcordError('locked', `${kind} ${JSON.stringify(name)} was not granted within waitMs`, {
    holder: holder === null ? null : { owner: holder.owner, token: holder.token, lease: holder.lease },
  });
}
