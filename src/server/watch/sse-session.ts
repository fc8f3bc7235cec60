/**
 * What every bounded event stream does, whatever it streams (the KV watch, the service watch):
 * a progress event whenever an interval passed with nothing sent, a reader cut off once its
 * unsent output passes the bound, and one way to end, on client disconnect, server close or
 * the stream's own decision, that stops the timer and every subscription with it.
 */
import type { ServerResponse } from 'node:http';

export interface SseSessionLimits {
  readonly progressIntervalMs: number;
  readonly maxBufferedBytes: number;
  /**
   * With auth on: whether the stream's token still authenticates, asked before every frame
   * (events and progress alike), so a revoked token's stream ends within one progress interval.
   */
  readonly authorized?: () => boolean;
}

export abstract class SseSession {
  private sentSinceProgress = false;
  private ended = false;
  private readonly subscriptions: Array<() => void> = [];
  private readonly progressTimer: ReturnType<typeof setInterval>;

  protected constructor(
    private readonly response: ServerResponse,
    private readonly limits: SseSessionLimits,
  ) {
    this.progressTimer = setInterval(() => this.maybeSendProgress(), limits.progressIntervalMs);
    response.on('close', () => this.close());
  }

  get closed(): boolean {
    return this.ended;
  }

  /** Ends the stream (client gone, server shutdown, slow reader, or the session's own end). */
  close(): void {
    if (this.ended) return;
    this.ended = true;
    clearInterval(this.progressTimer);
    for (const unsubscribe of this.subscriptions) unsubscribe();
    if (!this.response.writableEnded) this.response.end();
    this.afterClose();
  }

  /** The progress event to send after an interval with nothing else sent. */
  protected abstract progressFrame(): string;

  /** Called once, after the stream ended. */
  protected abstract afterClose(): void;

  /** Keeps `unsubscribe` to call when the stream ends. */
  protected subscribed(unsubscribe: () => void): void {
    this.subscriptions.push(unsubscribe);
  }

  protected write(frame: string): void {
    if (this.ended) return;
    if (this.limits.authorized?.() === false) {
      this.close(); // revoked, expired or its user deleted: nothing more for this token
      return;
    }
    this.response.write(frame);
    this.sentSinceProgress = true;
    if (this.response.writableLength > this.limits.maxBufferedBytes) {
      // A reader this far behind would hold the node's memory hostage: cut it off, unflushed.
      this.response.destroy();
      this.close();
    }
  }

  private maybeSendProgress(): void {
    if (!this.sentSinceProgress) this.write(this.progressFrame());
    this.sentSinceProgress = false;
  }
}
