import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../../../src/common/random.ts';
import {
  checkLinearizable,
  formatHistory,
  type HistoryRecord,
  type LinearizabilityResult,
  type RegisterOp,
  type RegisterOutcome,
} from './linearizability.ts';

// ---------------------------------------------------------------------------------------
// A small history builder: ids are assigned in call order; `complete: null` = unknown.
// ---------------------------------------------------------------------------------------

class History {
  readonly records: HistoryRecord[] = [];

  private add(op: RegisterOp, span: [number, number | null], outcome: RegisterOutcome, client: number): this {
    const [invokeMs, completeMs] = span;
    this.records.push({ id: this.records.length + 1, client, op, invokeMs, completeMs, outcome });
    return this;
  }

  put(key: string, value: string | null, span: [number, number | null], client = 0): this {
    return this.add({ kind: 'put', key, value }, span, span[1] === null ? { status: 'unknown' } : { status: 'ok' }, client);
  }

  get(key: string, value: string | null, span: [number, number], client = 0): this {
    return this.add({ kind: 'get', key }, span, { status: 'ok', value }, client);
  }

  cas(key: string, expected: string | null, value: string | null, succeeded: boolean | 'unknown', span: [number, number | null], client = 0): this {
    const outcome: RegisterOutcome =
      succeeded === 'unknown' ? { status: 'unknown' } : { status: 'ok', casSucceeded: succeeded };
    return this.add({ kind: 'cas', key, expected, value }, span, outcome, client);
  }

  failed(op: RegisterOp, span: [number, number], client = 0): this {
    return this.add(op, span, { status: 'fail' }, client);
  }

  check(options?: { maxStatesPerKey?: number }): LinearizabilityResult {
    return checkLinearizable(this.records, options);
  }
}

const h = (): History => new History();

// ---------------------------------------------------------------------------------------
// Hand-written histories
// ---------------------------------------------------------------------------------------

describe('checkLinearizable: basic histories', () => {
  it('accepts an empty history', () => {
    expect(checkLinearizable([])).toEqual({ ok: true, keysChecked: 0, statesExplored: 0 });
  });

  it('accepts a sequential history', () => {
    const result = h()
      .get('x', null, [0, 1])
      .put('x', 'a', [2, 3])
      .get('x', 'a', [4, 5])
      .put('x', 'b', [6, 7])
      .get('x', 'b', [8, 9])
      .check();
    expect(result).toMatchObject({ ok: true, keysChecked: 1 });
  });

  it('catches a stale read after a completed write', () => {
    const history = h().put('x', 'a', [0, 10]).put('x', 'b', [11, 20]).get('x', 'a', [21, 30]);
    const result = history.check();
    expect(result.ok).toBe(false);
    if (result.ok !== false) return;
    expect(result.key).toBe('x');
    expect(result.reason).toContain('get "x" → "a"');
    expect(result.ops.map((r) => r.id)).toEqual([1, 2, 3]);
  });

  it('catches a read of the initial absent value after a completed write', () => {
    expect(h().put('x', 'a', [0, 10]).get('x', null, [11, 12]).check().ok).toBe(false);
  });

  it('accepts a read concurrent with a write returning either the old or the new value', () => {
    expect(h().put('x', 'a', [0, 10]).get('x', null, [5, 15]).check().ok).toBe(true);
    expect(h().put('x', 'a', [0, 10]).get('x', 'a', [5, 15]).check().ok).toBe(true);
    // The read may also fully contain the write.
    expect(h().get('x', 'a', [0, 20]).put('x', 'a', [5, 10]).check().ok).toBe(true);
  });

  it('does not let a read return a value whose write started after the read finished', () => {
    expect(h().get('x', 'a', [0, 5]).put('x', 'a', [6, 10]).check().ok).toBe(false);
  });

  it('treats an operation completing at t and one invoked at t as concurrent', () => {
    expect(h().put('x', 'a', [0, 10]).get('x', null, [10, 20]).check().ok).toBe(true);
    expect(h().put('x', 'a', [0, 10]).get('x', null, [11, 20]).check().ok).toBe(false);
  });

  it('requires two concurrent reads to agree with a single order of writes', () => {
    // Writes a then b are sequential; reads observing b then (later) a are impossible.
    const result = h()
      .put('x', 'a', [0, 10])
      .put('x', 'b', [20, 30])
      .get('x', 'b', [25, 26])
      .get('x', 'a', [27, 40])
      .check();
    expect(result.ok).toBe(false);
  });

  it('catches a read returning a value nobody wrote', () => {
    const result = h().put('x', 'a', [0, 10]).get('x', 'ghost', [0, 20]).check();
    expect(result).toMatchObject({ ok: false, key: 'x' });
    if (result.ok === false) expect(result.reason).toContain('"ghost"');
  });
});

describe('checkLinearizable: deletes (a write of absent)', () => {
  it('accepts a read of absent after a delete, and catches a read of the deleted value', () => {
    const ok = h().put('x', 'a', [0, 1]).put('x', null, [2, 3]).get('x', null, [4, 5]).check();
    expect(ok).toMatchObject({ ok: true });
    const stale = h().put('x', 'a', [0, 1]).put('x', null, [2, 3]).get('x', 'a', [4, 5]).check();
    expect(stale.ok).toBe(false);
    if (stale.ok === false) expect(formatHistory(stale.ops)).toContain('delete "x"');
  });

  it('treats a conditional delete as a compare-and-set to absent', () => {
    const history = h().put('x', 'a', [0, 1]);
    history.cas('x', 'a', null, true, [2, 3]);
    expect(history.get('x', null, [4, 5]).check()).toMatchObject({ ok: true });
  });
});

describe('checkLinearizable: failed and unknown outcomes', () => {
  it('accepts an unknown put that a later read observes', () => {
    expect(h().put('x', 'a', [0, null]).get('x', 'a', [100, 110]).check().ok).toBe(true);
  });

  it('accepts an unknown put that is never observed', () => {
    expect(h().put('x', 'a', [0, null]).get('x', null, [100, 110]).get('x', null, [200, 210]).check().ok).toBe(true);
  });

  it('does not let an unknown put be observed and then disappear', () => {
    const result = h().put('x', 'a', [0, null]).get('x', 'a', [100, 110]).get('x', null, [120, 130]).check();
    expect(result.ok).toBe(false);
  });

  it('does not let an unknown put take effect before it was invoked', () => {
    expect(h().get('x', 'a', [0, 5]).put('x', 'a', [6, null]).check().ok).toBe(false);
  });

  it('lets an unknown put take effect long after its invoke, even after later writes', () => {
    const result = h()
      .put('x', 'a', [0, null])
      .put('x', 'b', [10, 20])
      .get('x', 'b', [30, 40])
      .get('x', 'a', [50, 60])
      .check();
    expect(result.ok).toBe(true);
  });

  it('stays cheap with many identical timed-out writes (they are interchangeable)', () => {
    const history = h();
    for (let i = 0; i < 40; i++) history.put('x', i % 2 === 0 ? 'a' : 'b', [i, null], i);
    history.get('x', 'a', [100, 110]).get('x', 'b', [120, 130]).get('x', 'a', [140, 150]).get('x', 'b', [160, 170]);
    expect(history.check({ maxStatesPerKey: 10_000 }).ok).toBe(true);
    expect(history.get('x', null, [180, 190]).check({ maxStatesPerKey: 10_000 }).ok).toBe(false);
  });

  it('stays cheap with many distinct timed-out writes that nobody observed (seed 301772)', () => {
    // A minority leader's backlog: 30 unknown puts of distinct values, committed after the heal
    // and overwritten before anyone read them. Distinct values would cost 2^30 configurations.
    const history = h().put('x', 'a', [0, 10]);
    for (let i = 0; i < 30; i++) history.put('x', `lost-${i}`, [20 + i, null], i % 5);
    for (let i = 0; i < 30; i++) history.get('x', 'a', [60 + i * 10, 65 + i * 10], 5);
    history.put('x', 'b', [400, 410]).get('x', 'b', [420, 430]);
    expect(history.check({ maxStatesPerKey: 10_000 }).ok).toBe(true);
    expect(history.get('x', 'a', [440, 450]).check({ maxStatesPerKey: 10_000 }).ok).toBe(false);
  });

  it('stays cheap with many distinct timed-out writes that reads observed (seed 8014010)', () => {
    // A partition leaves 24 concurrent puts of distinct values unknown; after the heal each is
    // read in turn. A write whose value (written by it alone) was read took effect before that
    // read completed, so it returns there, not at +infinity; left at +infinity, every one stays a
    // candidate in every later configuration and the search needs about 2^24 of them.
    const build = (): History => {
      const history = h();
      for (let i = 0; i < 24; i++) history.put('x', `v${i}`, [i, null], i);
      for (let i = 0; i < 24; i++) history.get('x', `v${i}`, [100 + i * 10, 105 + i * 10], 30);
      return history;
    };
    expect(build().check({ maxStatesPerKey: 5_000 }).ok).toBe(true);
    // Still exact: a value cannot come back once a later-observed write replaced it...
    expect(build().get('x', 'v3', [400, 410], 30).check({ maxStatesPerKey: 5_000 }).ok).toBe(false);
    // ...and a write cannot be observed before it was invoked.
    expect(h().get('x', 'w', [0, 5]).put('x', 'w', [10, null]).check().ok).toBe(false);
  });

  it('treats unobserved values as one value without losing what they explain', () => {
    // "b" is never read, yet it is why the cas expecting "a" failed.
    const casAfterOverwrite = (): History => h().put('x', 'a', [0, 10]).put('x', 'b', [20, 30]).cas('x', 'a', 'c', false, [40, 50]);
    expect(casAfterOverwrite().check().ok).toBe(true);
    // ...and it still makes a later read of "a" stale.
    expect(casAfterOverwrite().get('x', 'a', [60, 70]).check().ok).toBe(false);
    // Two unobserved writes stay writes: absent cannot come back without a delete.
    expect(h().put('x', 'b', [0, 10]).put('x', 'c', [20, 30]).get('x', null, [40, 50]).check().ok).toBe(false);
  });

  it('drops failed operations: their writes must not be observed', () => {
    expect(h().failed({ kind: 'put', key: 'x', value: 'a' }, [0, 10]).get('x', 'a', [20, 30]).check().ok).toBe(false);
    expect(h().failed({ kind: 'put', key: 'x', value: 'a' }, [0, 10]).get('x', null, [20, 30]).check().ok).toBe(true);
  });

  it('drops failed and unknown reads', () => {
    const history = h().put('x', 'a', [0, 10]).failed({ kind: 'get', key: 'x' }, [20, 30]);
    history.records.push({ id: 99, client: 0, op: { kind: 'get', key: 'x' }, invokeMs: 40, completeMs: null, outcome: { status: 'unknown' } });
    expect(history.check()).toMatchObject({ ok: true, keysChecked: 1 });
  });
});

describe('checkLinearizable: compare-and-set', () => {
  it('accepts a sequential cas history, including a failed cas', () => {
    const result = h()
      .cas('x', null, 'a', true, [0, 1])
      .cas('x', null, 'z', false, [2, 3])
      .cas('x', 'a', 'b', true, [4, 5])
      .cas('x', 'a', 'c', false, [6, 7])
      .get('x', 'b', [8, 9])
      .check();
    expect(result.ok).toBe(true);
  });

  it('rejects a cas reported failed although the register held the expected value', () => {
    expect(h().put('x', 'a', [0, 1]).cas('x', 'a', 'b', false, [2, 3]).check().ok).toBe(false);
  });

  it('rejects a cas reported successful although the register did not hold the expected value', () => {
    expect(h().put('x', 'a', [0, 1]).cas('x', null, 'b', true, [2, 3]).check().ok).toBe(false);
  });

  it('allows only one of two concurrent create-if-absent cas calls to succeed', () => {
    expect(h().cas('x', null, 'a', true, [0, 10], 1).cas('x', null, 'b', true, [0, 10], 2).check().ok).toBe(false);
    expect(h().cas('x', null, 'a', true, [0, 10], 1).cas('x', null, 'b', false, [0, 10], 2).check().ok).toBe(true);
  });

  it('applies an unknown cas only where its expectation holds', () => {
    const base = (): History => h().put('x', 'a', [0, 10]).cas('x', 'a', 'b', 'unknown', [20, null]);
    expect(base().get('x', 'b', [30, 40]).check().ok).toBe(true);
    expect(base().get('x', 'a', [30, 40]).check().ok).toBe(true);
    expect(base().get('x', 'b', [30, 40]).get('x', 'a', [50, 60]).check().ok).toBe(false);
    // Expectation "z" never holds, so the cas can never produce "b".
    expect(h().put('x', 'a', [0, 10]).cas('x', 'z', 'b', 'unknown', [20, null]).get('x', 'b', [30, 40]).check().ok).toBe(false);
  });
});

describe('checkLinearizable: keys, budget, input checks, report', () => {
  it('checks each key independently', () => {
    const good = h().put('x', 'a', [0, 10]).get('y', null, [20, 30]).get('x', 'a', [20, 30]);
    expect(good.check()).toMatchObject({ ok: true, keysChecked: 2 });

    const bad = h().put('x', 'a', [0, 10]).put('y', 'b', [0, 10]).get('x', 'a', [20, 30]).get('y', null, [20, 30]);
    const result = bad.check();
    expect(result).toMatchObject({ ok: false, key: 'y' });
    if (result.ok === false) expect(result.ops.every((r) => r.op.key === 'y')).toBe(true);
  });

  it('reports inconclusive when the state budget runs out, but still reports a violation elsewhere', () => {
    const busy = h();
    for (let c = 0; c < 6; c++) busy.put('x', `v${c}`, [0, 100], c);
    busy.get('x', 'v3', [0, 100]);
    expect(busy.check({ maxStatesPerKey: 3 })).toMatchObject({ ok: 'inconclusive', key: 'x' });
    expect(busy.check()).toMatchObject({ ok: true });

    busy.put('z', 'a', [0, 10]).get('z', 'nope', [20, 30]);
    expect(busy.check({ maxStatesPerKey: 3 })).toMatchObject({ ok: false, key: 'z' });
  });

  it('rejects malformed records', () => {
    const dup = h().put('x', 'a', [0, 1]).records;
    dup.push({ ...dup[0]! });
    expect(() => checkLinearizable(dup)).toThrow(/duplicate record id/);
    const noValue: HistoryRecord = { id: 1, client: 0, op: { kind: 'get', key: 'x' }, invokeMs: 0, completeMs: 1, outcome: { status: 'ok' } };
    expect(() => checkLinearizable([noValue])).toThrow(/needs outcome.value/);
    const backwards: HistoryRecord = { ...noValue, op: { kind: 'put', key: 'x', value: 'a' }, invokeMs: 5, completeMs: 4 };
    expect(() => checkLinearizable([backwards])).toThrow(/before it is invoked/);
  });

  it('reports a window around the violation for a long history', () => {
    const history = h();
    for (let i = 0; i < 100; i++) history.put('x', `v${i}`, [i * 10, i * 10 + 5]).get('x', `v${i}`, [i * 10 + 6, i * 10 + 8]);
    history.get('x', 'v50', [2000, 2001]);
    const result = history.check();
    expect(result.ok).toBe(false);
    if (result.ok !== false) return;
    const ids = result.ops.map((r) => r.id);
    expect(ids.length).toBeLessThan(history.records.length);
    expect(ids).toContain(201); // The stale read itself.
    expect(ids).toContain(199); // The last write it should have seen.
    // The search stops where "v50" is replaced while the stale read of it is still unplaced.
    expect(result.reason).toContain('102 of 201');
    expect(result.reason).toContain('get "x" → "v50"');
  });

  it('formats records one per line in invocation order', () => {
    const history = h()
      .get('x', null, [5, 6], 2)
      .put('x', 'a', [0, null], 1)
      .cas('x', null, 'b', false, [7, 9], 3)
      .failed({ kind: 'put', key: 'x', value: 'c' }, [8, 9], 4);
    expect(formatHistory(history.records).split('\n')).toEqual([
      '#2 client 1 [0..∞] put "x"="a" → unknown',
      '#1 client 2 [5..6] get "x" → absent',
      '#3 client 3 [7..9] cas "x" absent→"b" → not swapped',
      '#4 client 4 [8..9] put "x"="c" → fail (no effect)',
    ]);
  });
});

// ---------------------------------------------------------------------------------------
// Randomized: histories produced by a real register are accepted; a corrupted read is caught.
// ---------------------------------------------------------------------------------------

/** How a simulated operation ends. */
type Fate = 'ok' | 'fail' | 'unknown-applied' | 'unknown-lost';

interface OpPlan {
  key: string;
  kind: RegisterOp['kind'];
  value: string;
  expected: string | null;
  invokeMs: number;
  durationMs: number;
  /** Where in its interval the operation takes effect, as a fraction of the interval. */
  point: number;
  fate: Fate;
}

const planArb: fc.Arbitrary<OpPlan> = fc.record({
  key: fc.constantFrom('x', 'y', 'z'),
  kind: fc.constantFrom<RegisterOp['kind']>('put', 'get', 'cas'),
  value: fc.constantFrom('1', '2', '3'),
  expected: fc.constantFrom<string | null>(null, '1', '2', '3'),
  invokeMs: fc.integer({ min: 0, max: 300 }),
  durationMs: fc.integer({ min: 0, max: 60 }),
  point: fc.double({ min: 0, max: 1, noNaN: true }),
  fate: fc.constantFrom<Fate>('ok', 'ok', 'ok', 'ok', 'ok', 'fail', 'unknown-applied', 'unknown-lost'),
});

/**
 * Runs the plans against a real map of registers. Each operation that takes effect does so
 * at one instant inside its interval (an applied unknown one: any time after its invoke);
 * the results it returns are the register's true results at that instant.
 */
function simulate(plans: readonly OpPlan[]): HistoryRecord[] {
  const effective = plans
    .map((plan, i) => {
      const window = plan.fate === 'unknown-applied' ? plan.durationMs + 200 : plan.durationMs;
      return { plan, i, at: plan.invokeMs + plan.point * window };
    })
    .filter(({ plan }) => plan.fate === 'ok' || plan.fate === 'unknown-applied')
    .sort((a, b) => a.at - b.at || a.i - b.i);

  const register = new Map<string, string>();
  const outcomes = new Map<number, RegisterOutcome>();
  for (const { plan, i } of effective) {
    const current = register.get(plan.key) ?? null;
    if (plan.kind === 'put') register.set(plan.key, plan.value);
    if (plan.kind === 'cas' && current === plan.expected) register.set(plan.key, plan.value);
    if (plan.kind === 'get') outcomes.set(i, { status: 'ok', value: current });
    if (plan.kind === 'cas') outcomes.set(i, { status: 'ok', casSucceeded: current === plan.expected });
    if (plan.kind === 'put') outcomes.set(i, { status: 'ok' });
  }

  return plans.map((plan, i) => {
    const unknown = plan.fate === 'unknown-applied' || plan.fate === 'unknown-lost';
    const outcome: RegisterOutcome = unknown
      ? { status: 'unknown' }
      : plan.fate === 'fail'
        ? { status: 'fail' }
        : (outcomes.get(i) ?? { status: 'fail' });
    return {
      id: i,
      client: i,
      op: toOp(plan),
      invokeMs: plan.invokeMs,
      completeMs: unknown ? null : plan.invokeMs + plan.durationMs,
      outcome,
    };
  });
}

function toOp(plan: OpPlan): RegisterOp {
  switch (plan.kind) {
    case 'put':
      return { kind: 'put', key: plan.key, value: plan.value };
    case 'get':
      return { kind: 'get', key: plan.key };
    case 'cas':
      return { kind: 'cas', key: plan.key, expected: plan.expected, value: plan.value };
  }
}

const isOkGet = (r: HistoryRecord): boolean => r.op.kind === 'get' && r.outcome.status === 'ok';

describe('checkLinearizable: randomized', () => {
  it('accepts every history produced by a real register', () => {
    fc.assert(
      fc.property(fc.array(planArb, { minLength: 1, maxLength: 60 }), (plans) => {
        const result = checkLinearizable(simulate(plans));
        expect(result.ok).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('rejects the same history once one read returns a value never written', () => {
    fc.assert(
      fc.property(fc.array(planArb, { minLength: 1, maxLength: 60 }), fc.nat(), (plans, pick) => {
        const history = simulate(plans);
        const reads = history.filter(isOkGet);
        fc.pre(reads.length > 0);
        const victim = reads[pick % reads.length]!;
        victim.outcome = { status: 'ok', value: 'never-written' };
        const result = checkLinearizable(history);
        expect(result).toMatchObject({ ok: false, key: victim.op.key });
      }),
      { numRuns: 300 },
    );
  });

  it('agrees with a brute-force search on small arbitrary single-key histories', () => {
    // Three values for at most seven ops: often one is written but never read or expected.
    const value = fc.constantFrom('a', 'b', 'c');
    const recordArb = fc.record({
      op: fc.oneof(
        fc.record({ kind: fc.constant('put' as const), key: fc.constant('k'), value }),
        fc.record({ kind: fc.constant('get' as const), key: fc.constant('k') }),
        fc.record({ kind: fc.constant('cas' as const), key: fc.constant('k'), expected: fc.option(value), value }),
      ),
      invokeMs: fc.integer({ min: 0, max: 10 }),
      durationMs: fc.integer({ min: 0, max: 6 }),
      status: fc.constantFrom('ok', 'ok', 'ok', 'fail', 'unknown'),
      observed: fc.option(value),
      swapped: fc.boolean(),
    });
    let linearizable = 0;
    let violations = 0;
    fc.assert(
      fc.property(fc.array(recordArb, { minLength: 1, maxLength: 7 }), (raw) => {
        const history: HistoryRecord[] = raw.map((r, id) => ({
          id,
          client: id,
          op: r.op,
          invokeMs: r.invokeMs,
          completeMs: r.status === 'unknown' ? null : r.invokeMs + r.durationMs,
          outcome:
            r.status !== 'ok'
              ? { status: r.status }
              : r.op.kind === 'get'
                ? { status: 'ok', value: r.observed }
                : r.op.kind === 'cas'
                  ? { status: 'ok', casSucceeded: r.swapped }
                  : { status: 'ok' },
        }));
        const expected = bruteForceLinearizable(history);
        if (expected) linearizable++;
        else violations++;
        expect(checkLinearizable(history).ok).toBe(expected);
      }),
      { numRuns: 2000 },
    );
    // The comparison is only meaningful if both verdicts occur often.
    expect(linearizable).toBeGreaterThan(200);
    expect(violations).toBeGreaterThan(200);
  });
});

/**
 * An independent, exponential oracle: tries every order that respects real time. An op may
 * go next if no other unplaced op completed strictly before it was invoked. Unknown writes
 * may be placed anywhere after their invoke or never; failed ops and unknown reads are skipped.
 */
function bruteForceLinearizable(history: readonly HistoryRecord[]): boolean {
  const ops = history.filter((r) => r.outcome.status !== 'fail' && !(r.op.kind === 'get' && r.outcome.status === 'unknown'));
  const end = (r: HistoryRecord): number => (r.outcome.status === 'unknown' ? Infinity : r.completeMs!);
  const placed = ops.map(() => false);

  const apply = (r: HistoryRecord, state: string | null): string | null | 'illegal' => {
    const { op, outcome } = r;
    if (op.kind === 'put') return op.value;
    if (op.kind === 'get') return outcome.status === 'ok' && outcome.value === state ? state : 'illegal';
    const matches = state === op.expected;
    if (outcome.status !== 'ok') return matches ? op.value : state;
    if (outcome.casSucceeded !== matches) return 'illegal';
    return matches ? op.value : state;
  };

  const search = (state: string | null): boolean => {
    if (ops.every((r, i) => placed[i] || r.outcome.status === 'unknown')) return true;
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i]!;
      if (placed[i]) continue;
      if (ops.some((other, j) => !placed[j] && j !== i && end(other) < op.invokeMs)) continue;
      const next = apply(op, state);
      if (next === 'illegal') continue;
      placed[i] = true;
      const found = search(next);
      placed[i] = false;
      if (found) return true;
    }
    return false;
  };
  return search(null);
}

// ---------------------------------------------------------------------------------------
// Performance sanity
// ---------------------------------------------------------------------------------------

/**
 * `clientsPerKey` clients per key each issue operations back to back, so at most that many
 * are in flight per key. Linearization points are random inside each interval.
 */
function closedLoopHistory(seed: number, keys: number, opsPerKey: number, clientsPerKey: number): HistoryRecord[] {
  const rng = new SeededRandom(seed);
  const plans: OpPlan[] = [];
  for (let k = 0; k < keys; k++) {
    const clientClock = Array.from({ length: clientsPerKey }, () => rng.int(5));
    for (let n = 0; n < opsPerKey; n++) {
      const c = n % clientsPerKey;
      const invokeMs = clientClock[c]!;
      const durationMs = 1 + rng.int(20);
      clientClock[c] = invokeMs + durationMs + rng.int(3);
      const roll = rng.int(100);
      plans.push({
        key: `key${k}`,
        kind: (['put', 'get', 'get', 'cas'] as const)[rng.int(4)]!,
        value: `v${rng.int(4)}`,
        expected: rng.int(5) === 0 ? null : `v${rng.int(4)}`,
        invokeMs,
        durationMs,
        point: rng.float(),
        fate: roll < 2 ? 'unknown-applied' : roll < 4 ? 'unknown-lost' : roll < 7 ? 'fail' : 'ok',
      });
    }
  }
  return simulate(plans);
}

describe('checkLinearizable: performance sanity', () => {
  it('checks 5 keys × 200 ops with 5 concurrent clients per key', () => {
    for (const seed of [1, 2, 3]) {
      const history = closedLoopHistory(seed, 5, 200, 5);
      expect(checkLinearizable(history)).toMatchObject({ ok: true, keysChecked: 5 });
    }
  });
});
