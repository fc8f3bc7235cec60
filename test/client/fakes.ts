/**
 * Test doubles for the SDK's pure parts: a clock whose time moves only when told (with the
 * timers due meanwhile fired in order), and a transport answering from a script.
 */
import type { ClientClock } from '../../src/client/clock.ts';
import type { Transport, TransportRequest, TransportResponse, TransportStream } from '../../src/client/transport.ts';

interface PendingTimer {
  readonly at: number;
  readonly seq: number;
  readonly callback: () => void;
  cancelled: boolean;
}

/** Lets pending promise callbacks (and the ones they schedule) run. */
export async function flush(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await Promise.resolve();
}

export class ManualClock implements ClientClock {
  private time = 1_000;
  private seq = 0;
  private timers: PendingTimer[] = [];

  now(): number {
    return this.time;
  }

  setTimer(callback: () => void, delayMs: number): () => void {
    const timer: PendingTimer = { at: this.time + Math.max(0, delayMs), seq: this.seq++, callback, cancelled: false };
    this.timers.push(timer);
    return () => {
      timer.cancelled = true;
    };
  }

  /** Moves time forward by `ms`, firing due timers in order and letting their promises settle. */
  async advance(ms: number): Promise<void> {
    const end = this.time + ms;
    for (;;) {
      await flush();
      this.timers = this.timers.filter((timer) => !timer.cancelled);
      const due = this.timers.filter((timer) => timer.at <= end).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (due === undefined) break;
      this.time = Math.max(this.time, due.at);
      due.cancelled = true;
      due.callback();
    }
    this.time = end;
    await flush();
  }

  get pendingTimers(): number {
    return this.timers.filter((timer) => !timer.cancelled).length;
  }
}

export interface RecordedRequest extends TransportRequest {
  readonly endpoint: string;
  readonly at: number;
}

export type Script = (endpoint: string, request: TransportRequest, index: number) => Promise<TransportResponse> | TransportResponse;

/** Answers every request from `script`; a thrown error is a connection failure. */
export type StreamScript = (endpoint: string, request: TransportRequest, index: number) => TransportStream | TransportResponse;

export class FakeTransport implements Transport {
  readonly requests: RecordedRequest[] = [];
  readonly streams: RecordedRequest[] = [];
  streamScript: StreamScript | null = null;

  constructor(
    public script: Script,
    private readonly clock?: ClientClock,
  ) {}

  async request(endpoint: string, request: TransportRequest): Promise<TransportResponse> {
    this.requests.push({ ...request, endpoint, at: this.clock?.now() ?? 0 });
    return this.script(endpoint, request, this.requests.length - 1);
  }

  async stream(endpoint: string, request: TransportRequest): Promise<TransportStream | TransportResponse> {
    this.streams.push({ ...request, endpoint, at: this.clock?.now() ?? 0 });
    if (this.streamScript === null) throw new Error('FakeTransport: no stream script');
    return this.streamScript(endpoint, request, this.streams.length - 1);
  }

  async close(): Promise<void> {}
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): TransportResponse {
  return { status, headers: { 'content-type': 'application/json', ...headers }, body };
}

export function refused(): never {
  throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
}

/** A stream that sends `frames`, then ends (`end: true`) or stays open until closed. */
export function sseStream(frames: readonly string[], options: { end: boolean; headers?: Record<string, string> }): TransportStream {
  let closed = false;
  let wake: (() => void) | null = null;
  async function* chunks(): AsyncGenerator<string> {
    for (const frame of frames) yield frame;
    if (options.end) return;
    while (!closed) await new Promise<void>((resolve) => (wake = resolve));
  }
  return {
    status: 200,
    headers: { 'content-type': 'text/event-stream', ...options.headers },
    chunks: chunks(),
    close: () => {
      closed = true;
      wake?.();
    },
  };
}

export function change(type: 'put' | 'delete', key: string, modRevision: number): string {
  return `event: ${type}\nid: ${modRevision}\ndata: ${JSON.stringify({ key, value: type === 'put' ? 'v' : undefined, createRevision: modRevision, modRevision, version: 1 })}\n\n`;
}
