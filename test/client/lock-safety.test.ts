// safeUntil, jeopardy and lost, on a clock that moves only when the test says so: the pure
// SafetyWindow, then a lock handle whose keepalives a scripted transport acknowledges, holds
// back, or answers "lease gone".
import { describe, expect, it } from 'vitest';
import { SafetyWindow } from '../../src/client/lease-safety.ts';
import { Concord, ConcordError, type LockHandle } from '../../src/client/index.ts';
import type { TransportRequest, TransportResponse } from '../../src/client/transport.ts';
import { FakeTransport, ManualClock, flush, json } from './fakes.ts';

describe('SafetyWindow', () => {
  it('starts at the grant request send time plus the TTL', () => {
    const window = new SafetyWindow(100, 1_000);
    expect(window.safeUntil).toBe(1_100);
    expect(window.evaluate(500)).toEqual([]);
    expect(window.evaluate(600)).toEqual(['jeopardy']); // half the TTL left
    expect(window.evaluate(1_099)).toEqual([]);
    expect(window.evaluate(1_100)).toEqual(['lost']);
    expect(window.lossReason).toBe('expired');
  });

  it('an acknowledged keepalive moves safeUntil to its own send time plus the TTL, never back', () => {
    const window = new SafetyWindow(0, 1_000);
    // Sent at 300, answered at 400: safe until 1300 (not 1400).
    expect(window.acknowledged(300, 400)).toEqual([]);
    expect(window.safeUntil).toBe(1_300);
    // A slow answer to an older keepalive does not move it back.
    window.acknowledged(200, 450);
    expect(window.safeUntil).toBe(1_300);
  });

  it('a keepalive acknowledged during jeopardy makes it safe again; after lost nothing does', () => {
    const window = new SafetyWindow(0, 1_000);
    expect(window.evaluate(700)).toEqual(['jeopardy']);
    expect(window.acknowledged(650, 720)).toEqual(['safe']);
    expect(window.safeUntil).toBe(1_650);
    expect(window.evaluate(2_000)).toEqual(['jeopardy', 'lost']);
    expect(window.acknowledged(1_990, 2_001)).toEqual([]);
    expect(window.phase).toBe('lost');
    expect(window.safeUntil).toBe(1_650);
  });

  it('lease gone is lost at once', () => {
    const window = new SafetyWindow(0, 1_000);
    expect(window.leaseGone()).toEqual(['lost']);
    expect(window.lossReason).toBe('lease_gone');
    expect(window.nextChangeAt()).toBeNull();
  });
});

type KeepaliveMode = 'ack' | 'hold' | 'gone';

/** A scripted server for one lock: acquire answers at once; keepalives as `mode` says. */
function lockServer(clock: ManualClock) {
  const state = { mode: 'ack' as KeepaliveMode, held: [] as Array<() => void>, releases: 0, acquireDelayMs: 0 };
  const transport = new FakeTransport(async (_endpoint, request: TransportRequest): Promise<TransportResponse> => {
    if (request.path.startsWith('/v1/locks/db/acquire')) {
      if (state.acquireDelayMs > 0) await clock.advance(state.acquireDelayMs);
      return json(200, { name: 'db', token: 42, lease: 'L1', owner: '' });
    }
    if (request.path.startsWith('/v1/leases/L1/keepalive')) {
      if (state.mode === 'gone') return json(404, { error: { code: 'not_found', message: 'gone', lease: 'L1' } });
      if (state.mode === 'hold') {
        return new Promise((_resolve, reject) => {
          state.held.push(() => reject(new Error('held back')));
          request.signal.addEventListener('abort', () => reject(new Error('aborted')));
        });
      }
      return json(200, { id: 'L1', ttlMs: 3_000, remainingMs: 3_000 });
    }
    if (request.path.startsWith('/v1/locks/db/release')) {
      state.releases += 1;
      return json(200, { revision: 9 });
    }
    return json(404, { error: { code: 'not_found', message: `no route ${request.path}` } });
  }, clock);
  const concord = new Concord({ endpoints: ['http://a:1'], transport, clock, timeoutMs: 5_000 });
  return { state, transport, concord };
}

function record(lock: LockHandle, clock: ManualClock): string[] {
  const events: string[] = [];
  lock.on('jeopardy', () => events.push(`jeopardy@${clock.now()}`));
  lock.on('safe', () => events.push(`safe@${clock.now()}`));
  lock.on('lost', (error) => events.push(`lost@${clock.now()}:${String(error.details['reason'])}`));
  lock.signal.addEventListener('abort', () => events.push(`abort@${clock.now()}`));
  return events;
}

describe('a lock handle on a fake clock', () => {
  it('keepalives every TTL/3 move safeUntil from their send times; the handle stays safe', async () => {
    const clock = new ManualClock();
    const { concord, transport } = lockServer(clock);
    const start = clock.now();
    const lock = await concord.lock('db', { ttlMs: 3_000 });
    expect(lock.token).toBe(42);
    expect(lock.fence).toEqual({ lock: 'db', token: 42 });
    expect(lock.safeUntil).toBe(start + 3_000);
    const events = record(lock, clock);
    await clock.advance(10_000);
    const keepalives = transport.requests.filter((request) => request.path.includes('/keepalive'));
    expect(keepalives.length).toBeGreaterThanOrEqual(9);
    const lastSent = keepalives.at(-1)?.at ?? 0;
    expect(lock.safeUntil).toBe(lastSent + 3_000);
    expect(lock.isSafe()).toBe(true);
    expect(events).toEqual([]);
    await lock.release();
    expect(lock.signal.aborted).toBe(true);
    expect(lock.isSafe()).toBe(false);
  });

  it('keepalives held back: jeopardy at half the TTL left, then lost and the signal fires exactly at safeUntil', async () => {
    const clock = new ManualClock();
    const { concord, state } = lockServer(clock);
    const lock = await concord.lock('db', { ttlMs: 3_000 });
    await clock.advance(1_000); // one acknowledged keepalive, sent at +1000
    const safeUntil = lock.safeUntil;
    expect(safeUntil).toBe(clock.now() + 3_000);
    state.mode = 'hold';
    const events = record(lock, clock);
    await clock.advance(1_499);
    expect(events).toEqual([]);
    await clock.advance(1);
    expect(events).toEqual([`jeopardy@${safeUntil - 1_500}`]);
    await clock.advance(1_499);
    expect(lock.signal.aborted).toBe(false);
    expect(lock.isSafe()).toBe(true);
    await clock.advance(1);
    expect(events).toEqual([`jeopardy@${safeUntil - 1_500}`, `abort@${safeUntil}`, `lost@${safeUntil}:expired`]);
    expect(lock.signal.reason).toBeInstanceOf(ConcordError);
    expect((lock.signal.reason as ConcordError).code).toBe('lock_lost');
    expect(() => lock.assertSafe()).toThrow(/lost/);
    // Lost is final: keepalives that get through later change nothing.
    state.mode = 'ack';
    await clock.advance(5_000);
    expect(lock.isSafe()).toBe(false);
    await flush();
    expect(state.releases).toBe(1); // the courtesy release
  });

  it('a keepalive that gets through during jeopardy brings it back to safe', async () => {
    const clock = new ManualClock();
    const { concord, state } = lockServer(clock);
    const lock = await concord.lock('db', { ttlMs: 3_000 });
    const events = record(lock, clock);
    state.mode = 'hold';
    await clock.advance(1_600);
    expect(events).toEqual([`jeopardy@${clock.now() - 100}`]);
    state.mode = 'ack';
    for (const release of state.held.splice(0)) release(); // the held attempts fail; the retry succeeds
    await clock.advance(600);
    expect(events.some((event) => event.startsWith('safe@'))).toBe(true);
    expect(lock.isSafe()).toBe(true);
    await lock.release();
  });

  it('the server saying the lease is gone is lost at once (reason lease_gone)', async () => {
    const clock = new ManualClock();
    const { concord, state } = lockServer(clock);
    const lock = await concord.lock('db', { ttlMs: 3_000 });
    const events = record(lock, clock);
    state.mode = 'gone';
    await clock.advance(1_000);
    expect(events).toEqual([`abort@${clock.now()}`, `lost@${clock.now()}:lease_gone`]);
  });

  it('safeUntil counts from when the acquire was sent, not when it was answered; too late is refused', async () => {
    const clock = new ManualClock();
    const { concord, state } = lockServer(clock);
    state.acquireDelayMs = 1_000;
    const sentAt = clock.now();
    const lock = await concord.lock('db', { ttlMs: 3_000 });
    expect(lock.safeUntil).toBe(sentAt + 3_000);
    await lock.release();

    state.acquireDelayMs = 3_000;
    await expect(concord.lock('db', { ttlMs: 3_000 })).rejects.toMatchObject({ code: 'lock_lost' });
    expect(state.releases).toBe(2);
  });

  it('withLock passes token and signal, releases after fn, also when fn throws', async () => {
    const clock = new ManualClock();
    const { concord, state } = lockServer(clock);
    const seen = await concord.withLock('db', (token, signal) => ({ token, aborted: signal.aborted }), { ttlMs: 3_000 });
    expect(seen).toEqual({ token: 42, aborted: false });
    expect(state.releases).toBe(1);
    await expect(concord.withLock('db', () => Promise.reject(new Error('boom')), { ttlMs: 3_000 })).rejects.toThrow('boom');
    expect(state.releases).toBe(2);
  });
});
