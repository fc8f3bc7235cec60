/**
 * GET /v1/elections/{name}/observe: a server-sent event stream with `event: leader` and
 * `data: {"name", "leader"?, "revision"}` first for the leader now, then at each change (a new
 * leader, a proclaimed value, no leader). It follows this replica's applied log, so a stream on
 * a follower sees the changes a little after the leader does, in the same order. One frame per
 * applied entry at most (a handoff is one change, not "none" then "next"). While idle, an SSE
 * comment keeps proxies from closing the connection and tells a dead client apart.
 */
import type { ServerResponse } from 'node:http';
import type { KvStateMachine } from '../../kv/index.ts';
import type { ElectionLeader } from '../../lock/index.ts';
import { sseFrame } from '../watch/sse.ts';

export class ElectionObservers {
  private readonly sessions = new Set<ObserveSession>();
  private readonly unsubscribe: Array<() => void>;

  constructor(
    private readonly kv: KvStateMachine,
    private readonly keepaliveMs: number,
  ) {
    this.unsubscribe = [
      kv.onLockEvents((events) => {
        const changed = new Set<string>();
        for (const event of events) if ('kind' in event && event.kind === 'election') changed.add(event.name);
        if (changed.size > 0) for (const session of this.sessions) if (changed.has(session.name)) session.send();
      }),
      kv.onRestore(() => {
        for (const session of this.sessions) session.send();
      }),
    ];
  }

  get size(): number {
    return this.sessions.size;
  }

  /**
   * Starts streaming `name` on `response` (headers already written); ends with the connection,
   * or once `authorized` (auth on: the stream's token still authenticates) says no.
   */
  open(name: string, response: ServerResponse, authorized?: () => boolean): void {
    const session = new ObserveSession(name, response, this.kv, this.keepaliveMs, () => this.sessions.delete(session), authorized);
    this.sessions.add(session);
    session.send();
  }

  close(): void {
    for (const stop of this.unsubscribe) stop();
    for (const session of [...this.sessions]) session.end();
  }
}

class ObserveSession {
  private last: string | null = null;
  private readonly keepalive: ReturnType<typeof setInterval>;
  private ended = false;

  constructor(
    readonly name: string,
    private readonly response: ServerResponse,
    private readonly kv: KvStateMachine,
    keepaliveMs: number,
    private readonly onEnd: () => void,
    private readonly authorized: (() => boolean) | undefined,
  ) {
    this.keepalive = setInterval(() => this.write(': keepalive\n\n'), keepaliveMs);
    response.once('close', () => this.end());
  }

  /** Sends the current leader if it differs from the last one sent. */
  send(): void {
    const leader: ElectionLeader | null = this.kv.locks.electionLeader(this.name);
    const fingerprint = JSON.stringify(leader);
    if (fingerprint === this.last) return;
    this.last = fingerprint;
    this.write(sseFrame('leader', { name: this.name, ...(leader === null ? {} : { leader }), revision: this.kv.revision }));
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    clearInterval(this.keepalive);
    this.onEnd();
    if (!this.response.writableEnded) this.response.end();
  }

  private write(text: string): void {
    if (this.ended || this.response.destroyed) return;
    if (this.authorized?.() === false) {
      this.end(); // the token was revoked or expired: nothing more for it
      return;
    }
    this.response.write(text);
  }
}
