/**
 * ReadRounds (src/node/read-rounds.ts): reads arriving before a pump share one ReadIndex round,
 * one round is outstanding at a time (reads arriving meanwhile gather for the next), an overdue
 * round no longer holds reads back, and reads fail together when Raft refuses or drops a round.
 */
import { describe, expect, it } from 'vitest';
import type { ReadIndexResult } from '../../src/raft/raft-node.ts';
import type { ReadOutcome } from '../../src/node/host-types.ts';
import { ReadRounds, type ReadIndexSource } from '../../src/node/read-rounds.ts';

class FakeRaft implements ReadIndexSource {
  readonly id = 'n1';
  leader = 'n2';
  readonly asked: string[] = [];
  answer: ReadIndexResult = { ok: true };
  readIndex(context: string): ReadIndexResult {
    this.asked.push(context);
    return this.answer;
  }
}

function collect(rounds: ReadRounds, count: number): ReadOutcome[] {
  const outcomes: ReadOutcome[] = [];
  for (let i = 0; i < count; i++) rounds.add((outcome) => outcomes.push(outcome));
  return outcomes;
}

const PATIENCE_MS = 500;

/** ReadRounds on a clock the test moves. */
function roundsOn(raft: FakeRaft): { rounds: ReadRounds; clock: { now: number } } {
  const clock = { now: 0 };
  return { rounds: new ReadRounds(raft, () => clock.now, PATIENCE_MS), clock };
}

describe('ReadRounds', () => {
  it('gives every read waiting at start() one round, and releases them together', () => {
    const raft = new FakeRaft();
    const { rounds } = roundsOn(raft);
    const first = collect(rounds, 3);
    rounds.start();
    rounds.start(); // nothing waiting: no round
    expect(raft.asked).toEqual(['n1/0']);
    expect(rounds.pending).toBe(3);
    rounds.finish('n1/0', 9);
    expect(first).toEqual(Array(3).fill({ ok: true, appliedIndex: 9 }));
    expect(rounds.pending).toBe(0);
    rounds.finish('n1/0', 9); // a duplicate answer finds nothing
    expect(first).toHaveLength(3);
  });

  it('keeps one round outstanding: reads arriving meanwhile share the next', () => {
    const raft = new FakeRaft();
    const { rounds, clock } = roundsOn(raft);
    const first = collect(rounds, 2);
    rounds.start();
    const second = collect(rounds, 1);
    clock.now = PATIENCE_MS - 1;
    rounds.start();
    const third = collect(rounds, 2);
    rounds.start();
    expect(raft.asked).toEqual(['n1/0']); // no second round while the first is out
    expect(rounds.waiting).toBe(true);
    rounds.finish('n1/0', 4);
    expect(first).toEqual(Array(2).fill({ ok: true, appliedIndex: 4 }));
    expect([...second, ...third]).toEqual([]);
    rounds.start();
    expect(raft.asked).toEqual(['n1/0', 'n1/1']);
    expect(rounds.waiting).toBe(false);
    rounds.finish('n1/1', 6);
    expect([...second, ...third]).toEqual(Array(3).fill({ ok: true, appliedIndex: 6 }));
    expect(rounds.pending).toBe(0);
  });

  it('an overdue round no longer holds reads back: the next round carries its reads too', () => {
    const raft = new FakeRaft();
    const { rounds, clock } = roundsOn(raft);
    const lost = collect(rounds, 2);
    rounds.start(); // its request or answer is lost
    const later = collect(rounds, 1);
    clock.now = PATIENCE_MS;
    rounds.start();
    expect(raft.asked).toEqual(['n1/0', 'n1/1']);
    rounds.finish('n1/0', 3); // a late answer to the overdue round releases nothing
    expect([...lost, ...later]).toEqual([]);
    rounds.finish('n1/1', 5);
    expect([...lost, ...later]).toEqual(Array(3).fill({ ok: true, appliedIndex: 5 }));
    expect(rounds.pending).toBe(0);
  });

  it('fails a refused round at once, a dropped one as not_leader, and everything at failAll', () => {
    const raft = new FakeRaft();
    const { rounds } = roundsOn(raft);
    raft.answer = { ok: false, reason: 'overloaded', leaderHint: 'n2' };
    const refused = collect(rounds, 2);
    rounds.start();
    expect(refused).toEqual([
      { ok: false, code: 'overloaded', leaderHint: 'n2' },
      { ok: false, code: 'overloaded', leaderHint: 'n2' },
    ]);
    raft.answer = { ok: true };
    const dropped = collect(rounds, 1);
    rounds.start();
    rounds.drop('n1/1');
    expect(dropped).toEqual([{ ok: false, code: 'not_leader', leaderHint: 'n2' }]);
    const inRound = collect(rounds, 1);
    rounds.start();
    const waiting = collect(rounds, 1);
    rounds.failAll('unavailable');
    expect([...inRound, ...waiting]).toEqual([
      { ok: false, code: 'unavailable', leaderHint: 'n2' },
      { ok: false, code: 'unavailable', leaderHint: 'n2' },
    ]);
    expect(rounds.pending).toBe(0);
  });
});
