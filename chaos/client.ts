/**
 * The chaos clients' HTTP: one request with a deadline, told apart the way a history needs it.
 * The deadline goes to the server (`timeoutMs`) and is enforced here too (a paused or cut-off
 * node never answers): past it plus a grace period the request is abandoned and its outcome is
 * unknown. Nothing here retries: each call is one operation of the history.
 */
import { Agent, request } from 'undici';

export type Reply =
  | { readonly kind: 'answer'; readonly status: number; readonly body: unknown; readonly node: string }
  /** No answer: refused connection, reset, or our own deadline. Whether a write applied is unknown. */
  | { readonly kind: 'no-answer'; readonly error: string; readonly connected: boolean };

/** Beyond the server's deadline, how long we still wait for its answer. */
const GRACE_MS = 1_000;

export class ChaosHttp {
  private readonly agent = new Agent({ keepAliveTimeout: 5_000, connections: 64, connect: { timeout: 1_000 } });

  async call(baseUrl: string, method: 'GET' | 'PUT' | 'POST' | 'DELETE', path: string, body: unknown, deadlineMs: number): Promise<Reply> {
    // The deadline travels in the body of a write and in the query of a key read; routes
    // without a deadline field (GET /v1/cluster) would refuse it as an unknown field.
    const inQuery = body === undefined && path.startsWith('/v1/kv/');
    const url = inQuery ? `${baseUrl}${path}${path.includes('?') ? '&' : '?'}timeoutMs=${deadlineMs}` : `${baseUrl}${path}`;
    const withDeadline = body !== null && typeof body === 'object' ? { ...body, timeoutMs: deadlineMs } : body;
    const text = withDeadline === undefined ? undefined : JSON.stringify(withDeadline);
    let connected = false;
    try {
      const response = await request(url, {
        method,
        dispatcher: this.agent,
        ...(text === undefined ? {} : { body: text, headers: { 'content-type': 'application/json' } }),
        signal: AbortSignal.timeout(deadlineMs + GRACE_MS),
        headersTimeout: deadlineMs + GRACE_MS,
        bodyTimeout: deadlineMs + GRACE_MS,
      });
      connected = true;
      const raw = await response.body.text();
      let parsed: unknown;
      try {
        parsed = JSON.parse(raw);
      } catch {
        parsed = undefined;
      }
      const node = response.headers['x-concord-node'];
      return { kind: 'answer', status: response.statusCode, body: parsed, node: typeof node === 'string' ? node : '' };
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      const message = error instanceof Error ? error.message : String(error);
      // A node that is down refuses at once: pause a little, so clients do not spin on it.
      if (code === 'ECONNREFUSED') await new Promise((resolve) => setTimeout(resolve, 100));
      // A refused connection never reached the node: nothing was proposed.
      return { kind: 'no-answer', error: typeof code === 'string' ? `${code}: ${message}` : message, connected: connected || code !== 'ECONNREFUSED' };
    }
  }

  async close(): Promise<void> {
    await this.agent.close().catch(() => undefined);
  }
}

/** The contract's error code of an answer, or '' when the body carries none. */
export function errorCode(reply: Reply): string {
  if (reply.kind !== 'answer') return '';
  const error = (reply.body as { error?: { code?: unknown } } | undefined)?.error;
  return typeof error?.code === 'string' ? error.code : '';
}

/**
 * Whether a failed write certainly did not apply. Only refusals decided before proposing count:
 * validation, a failed compare or fence, a refused connection. A 503/504/429 from a node that
 * may have forwarded or proposed is left unknown — a false "fail" would make a correct history
 * look wrong.
 */
export function definitelyNotApplied(reply: Reply): boolean {
  if (reply.kind === 'no-answer') return !reply.connected;
  return ['invalid_argument', 'compare_failed', 'stale_token', 'not_found', 'payload_too_large', 'locked'].includes(errorCode(reply));
}
