// The behaviour every event stream shares (SseSession): progress only after an idle interval,
// a slow reader cut off at the bound, and one end that stops the timer and the subscriptions.
import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SseSession } from '../../src/server/watch/sse-session.ts';

/** The part of a ServerResponse a session uses; what the client has not read piles up in `writableLength`. */
class FakeResponse extends EventEmitter {
  readonly frames: string[] = [];
  writableLength = 0;
  writableEnded = false;
  destroyed = false;
  unread = true;

  write(frame: string): boolean {
    this.frames.push(frame);
    if (this.unread) this.writableLength += frame.length;
    return true;
  }

  end(): void {
    this.writableEnded = true;
  }

  destroy(): void {
    this.destroyed = true;
  }
}

class TestSession extends SseSession {
  closes = 0;
  unsubscribed = 0;

  constructor(response: FakeResponse, maxBufferedBytes = 1000) {
    super(response as unknown as ServerResponse, { progressIntervalMs: 100, maxBufferedBytes });
    this.subscribed(() => this.unsubscribed++);
  }

  send(frame: string): void {
    this.write(frame);
  }

  protected progressFrame(): string {
    return 'progress\n';
  }

  protected afterClose(): void {
    this.closes++;
  }
}

describe('SseSession', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('sends progress only after an interval in which nothing else was sent', () => {
    const response = new FakeResponse();
    response.unread = false;
    const session = new TestSession(response);
    vi.advanceTimersByTime(100);
    expect(response.frames).toEqual(['progress\n']);
    session.send('change\n');
    vi.advanceTimersByTime(100); // something went out in this interval: no progress
    expect(response.frames).toEqual(['progress\n', 'change\n']);
    vi.advanceTimersByTime(100);
    expect(response.frames).toEqual(['progress\n', 'change\n', 'progress\n']);
    session.close();
  });

  it('cuts off a reader whose unsent output passes the bound, ending once', () => {
    const response = new FakeResponse();
    const session = new TestSession(response, 10);
    session.send('12345\n');
    expect(session.closed).toBe(false);
    session.send('67890\n');
    expect(response.destroyed).toBe(true);
    expect(session.closed).toBe(true);
    expect(session.closes).toBe(1);
    session.send('late\n');
    expect(response.frames).toHaveLength(2);
  });

  it('ends when the client goes away: the timer stops, subscriptions go, afterClose runs once', () => {
    const response = new FakeResponse();
    response.unread = false;
    const session = new TestSession(response);
    response.emit('close');
    session.close();
    expect(session.closed).toBe(true);
    expect(session.closes).toBe(1);
    expect(session.unsubscribed).toBe(1);
    expect(response.writableEnded).toBe(true);
    vi.advanceTimersByTime(1000);
    expect(response.frames).toEqual([]);
  });
});
