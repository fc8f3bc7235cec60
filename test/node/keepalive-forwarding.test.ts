// A follower's keepalives on their way to the leader: one message per turn, settled by the
// leader's answer (renewed / no such lease), and with null — no definite answer — when the
// leader did not confirm it leads, changed, is unknown, or never answered.
import { describe, expect, it } from 'vitest';
import { KeepaliveForwarding, type ForwardedKeepaliveOutcome } from '../../src/node/keepalive-forwarding.ts';
import type { ForwardKeepalivesRequest, Message } from '../../src/raft/messages.ts';
import { EventQueue } from '../sim/event-queue.ts';
import { SimClock } from '../sim/sim-clock.ts';

const TICK_MS = 100;
const GIVE_UP_TICKS = 10;

function setup(leader = 'n1') {
  const queue = new EventQueue();
  const clock = new SimClock(queue, 1);
  const sent: Message[] = [];
  const state = { leader };
  const forwarding = new KeepaliveForwarding({
    self: 'n2',
    clock,
    send: (messages) => sent.push(...messages),
    leader: () => state.leader,
    term: () => 4,
    tickMs: TICK_MS,
    giveUpTicks: GIVE_UP_TICKS,
  });
  const runUntil = (ms: number): void => {
    while (queue.runNext(ms)) {
      // Runs every event due by `ms`.
    }
    queue.advanceTo(ms);
  };
  const outcomes = new Map<string, ForwardedKeepaliveOutcome | null>();
  const keepalive = (lease: string): void => forwarding.forward(lease, (outcome) => outcomes.set(lease, outcome));
  const request = (): ForwardKeepalivesRequest => {
    const last = sent.at(-1);
    if (last?.type !== 'forward-keepalives') throw new Error(`expected a forward-keepalives message, got ${last?.type}`);
    return last;
  };
  return { forwarding, sent, state, runUntil, outcomes, keepalive, request };
}

describe('KeepaliveForwarding', () => {
  it("sends one turn's keepalives in one message and settles each with the leader's answer", () => {
    const { forwarding, sent, runUntil, outcomes, keepalive, request } = setup();
    keepalive('a');
    keepalive('b');
    expect(sent).toEqual([]); // not before the turn ends
    runUntil(0);
    expect(sent).toHaveLength(1);
    const { keepalives, to, from } = request();
    expect({ to, from, leases: keepalives.map((k) => k.lease) }).toEqual({ to: 'n1', from: 'n2', leases: ['a', 'b'] });
    const ids = keepalives.map((k) => k.id);
    forwarding.answered({ type: 'forward-keepalives-response', from: 'n1', to: 'n2', term: 4, leading: true, ids, ttls: [5000, 0] });
    expect(outcomes.get('a')).toEqual({ ok: true, ttlMs: 5000 });
    expect(outcomes.get('b')).toEqual({ ok: false, code: 'not_found' });
  });

  it('settles with null when the leader could not confirm it leads, and ignores a repeated answer', () => {
    const { forwarding, runUntil, outcomes, keepalive, request } = setup();
    keepalive('a');
    runUntil(0);
    const ids = request().keepalives.map((k) => k.id);
    const answer = { type: 'forward-keepalives-response', from: 'n1', to: 'n2', term: 4, ids, ttls: [0] } as const;
    forwarding.answered({ ...answer, leading: false });
    expect(outcomes.get('a')).toBeNull();
    forwarding.answered({ ...answer, leading: true, ttls: [5000] });
    expect(outcomes.get('a')).toBeNull();
  });

  it('gives a keepalive up after giveUpTicks ticks without an answer, not before', () => {
    const { runUntil, outcomes, keepalive } = setup();
    keepalive('a');
    runUntil(TICK_MS * (GIVE_UP_TICKS - 1));
    expect(outcomes.has('a')).toBe(false);
    runUntil(TICK_MS * GIVE_UP_TICKS);
    expect(outcomes.get('a')).toBeNull();
  });

  it('settles with null at once when no leader is known, and everything waiting when the leader changes', () => {
    const { forwarding, sent, state, runUntil, outcomes, keepalive } = setup();
    keepalive('a');
    runUntil(0);
    forwarding.failAll();
    expect(outcomes.get('a')).toBeNull();
    state.leader = '';
    keepalive('b');
    runUntil(1);
    expect(outcomes.get('b')).toBeNull();
    expect(sent).toHaveLength(1);
  });

  it('after stop, settles every new keepalive with null without sending', () => {
    const { forwarding, sent, runUntil, outcomes, keepalive } = setup();
    forwarding.stop();
    keepalive('a');
    runUntil(TICK_MS * GIVE_UP_TICKS);
    expect(outcomes.get('a')).toBeNull();
    expect(sent).toEqual([]);
  });
});
