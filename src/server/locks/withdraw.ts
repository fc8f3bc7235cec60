/**
 * Taking a waiter out of the queue when its request ends (its wait ran out, its client went
 * away). The withdrawal is a log entry, so it must be proposed on the leader: here if this node
 * leads, else it is sent to the leader's withdraw route (marked as forwarded, so it is never
 * forwarded again). It has its own short budget, since the request it cleans up after is ending.
 * If it cannot commit within that budget, a waiter holding no lease of its own is harmless (a
 * ttlMs waiter granted later gets a lease nobody renews, which expires after ttlMs), and one on
 * an existing lease leaves the queue when that lease ends.
 */
import { request as httpRequest } from 'undici';
import type { LockWithdrawCommand, LockWithdrawResult } from '../../kv/index.ts';
import { isKvError } from '../../kv/index.ts';
import type { ServerContext } from '../context.ts';
import { Deadline, sleepWithin } from '../deadline.ts';
import { FORWARDED_BY_HEADER, IDEMPOTENCY_KEY_HEADER, REMAINING_TIMEOUT_HEADER } from '../request-scope.ts';

/** How long a withdrawal may take, beyond the request's own deadline. */
export const WITHDRAW_BUDGET_MS = 2000;

/** The route a withdrawal of this kind goes to on the leader. */
export function withdrawPath(body: LockWithdrawCommand): string {
  return `/v1/${body.kind === 'lock' ? 'locks' : 'elections'}/${encodeURIComponent(body.name)}/withdraw`;
}

/** Proposes the withdrawal on the leader; its result, or null if it could not be done in time. */
export async function withdrawWaiter(context: ServerContext, body: LockWithdrawCommand): Promise<LockWithdrawResult | null> {
  const deadline = Deadline.afterMs(WITHDRAW_BUDGET_MS);
  // One key for every attempt: a withdrawal that applied and is sent again applies once.
  const idempotencyKey = `withdraw-${body.waiterId}`;
  while (!deadline.expired) {
    try {
      const attempt = await context.service.proposeOnce(body, idempotencyKey, deadline);
      if (attempt.kind === 'done') {
        const result = attempt.value.result;
        return isKvError(result) ? null : (result as LockWithdrawResult);
      }
      if (attempt.kind === 'leader-elsewhere') {
        const answer = await sendToLeader(context, attempt.leaderId, body, idempotencyKey, deadline);
        if (answer !== null) return answer;
      }
      if (attempt.kind === 'retry') continue;
    } catch {
      // Overloaded, shutting down, timed out: try again while the budget lasts.
    }
    await sleepWithin(context.limits.leaderPollIntervalMs, deadline);
  }
  return null;
}

async function sendToLeader(
  context: ServerContext,
  leaderId: string,
  body: LockWithdrawCommand,
  idempotencyKey: string,
  deadline: Deadline,
): Promise<LockWithdrawResult | null> {
  const url = context.deps.members().find((member) => member.id === leaderId)?.clientUrl ?? '';
  if (url === '') return null;
  const waitMs = Math.max(1, Math.floor(deadline.remainingMs()));
  const response = await httpRequest(`${url}${withdrawPath(body)}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      [FORWARDED_BY_HEADER]: context.deps.nodeId,
      [REMAINING_TIMEOUT_HEADER]: String(waitMs),
      [IDEMPOTENCY_KEY_HEADER]: idempotencyKey,
    },
    body: JSON.stringify({ waiterId: body.waiterId, ...(body.releaseIfHolding === true ? { releaseIfHolding: true } : {}) }),
    headersTimeout: waitMs,
    bodyTimeout: waitMs,
  });
  const text = await response.body.text();
  return response.statusCode === 200 ? (JSON.parse(text) as LockWithdrawResult) : null;
}
