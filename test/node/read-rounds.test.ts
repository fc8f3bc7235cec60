/**
 * ReadRounds (src/node/read-rounds.ts): reads arriving before a pump share one ReadIndex round,
 * are released together once it is answered, and fail together when Raft refuses or drops it.
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

describe('ReadRounds', () => {
  it('gives every read waiting at start() one round, and releases them together', () => {
    const raft = new FakeRaft();
    const rounds = new ReadRounds(raft);
    const first = collect(rounds, 3);
    rounds.start();
    const second = collect(rounds, 2);
    rounds.start();
    rounds.start(); // nothing waiting: no round
    expect(raft.asked).toEqual(['n1/0', 'n1/1']);
    expect(rounds.pending).toBe(5);
    rounds.finish('n1/1', 7);
    expect(second).toEqual([{ ok: true, appliedIndex: 7 }, { ok: true, appliedIndex: 7 }]);
    expect(first).toEqual([]);
    rounds.finish('n1/0', 9);
    expect(first).toHaveLength(3);
    expect(rounds.pending).toBe(0);
    rounds.finish('n1/0', 9); // a duplicate answer finds nothing
    expect(first).toHaveLength(3);
  });

  it('fails a refused round at once, a dropped one as not_leader, and everything at failAll', () => {
    const raft = new FakeRaft();
    const rounds = new ReadRounds(raft);
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
