// Properties of the KV state machine over random command sequences: determinism across
// replicas, agreement with a reference model, and snapshot/restore equivalence.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type KvApplyOutcome, type KvCommand, KvStateMachine, encodeCommand, isKvError } from '../../src/kv/index.ts';
import { anyBodyArb, commandsArb, keyArb, keyBodyArb, prefixArb } from './arbitraries.ts';
import { ReferenceKv } from './reference-model.ts';
import { digest } from './harness.ts';
import { type KvSnapshotState, encodeSnapshot, encodeSnapshotInSlices } from '../../src/kv/snapshot-codec.ts';

const ALL_KEYS = fc.sample(keyArb, 200).filter((key, i, keys) => keys.indexOf(key) === i);
const ALL_PREFIXES = fc.sample(prefixArb, 200).filter((prefix, i, prefixes) => prefixes.indexOf(prefix) === i);
const OPTIONS = { historyMaxEvents: 6, dedupWindowMs: 60_000, dedupMaxEntries: 2 };

/** Log entries: encoded commands, with garbage mixed in where `garbage` says. */
const entriesArb = (maxLength: number): fc.Arbitrary<Uint8Array[]> =>
  fc.array(fc.oneof({ weight: 12, arbitrary: commandsArb(anyBodyArb, 1) }, { weight: 1, arbitrary: fc.uint8Array({ maxLength: 12 }) }), { maxLength, size: 'max' }).map((items) =>
    items.flatMap((item): Uint8Array[] => (item instanceof Uint8Array ? [item] : item.map((command) => encodeCommand(command)))),
  );

function applyAll(machine: KvStateMachine, entries: readonly Uint8Array[], firstIndex: number): KvApplyOutcome[] {
  return entries.map((data, i) => machine.apply(firstIndex + i, data));
}

describe('KV state machine properties', () => {
  it('is deterministic: replicas applying the same entries return the same results and snapshots', () => {
    fc.assert(
      fc.property(entriesArb(60), (entries) => {
        const replicas = [new KvStateMachine(OPTIONS), new KvStateMachine(OPTIONS)];
        const events: unknown[][] = [[], []];
        replicas.forEach((replica, i) => replica.onEvents((batch) => events[i]?.push(batch)));
        const [first, second] = replicas.map((replica) => applyAll(replica, entries, 1));
        expect(second).toEqual(first);
        expect(events[1]).toEqual(events[0]);
        expect(replicas[1]?.snapshot()).toEqual(replicas[0]?.snapshot());
      }),
      { numRuns: 300 },
    );
  });

  it('agrees with a reference model on results, get and range after puts, deletes and txns', () => {
    fc.assert(
      fc.property(fc.array(keyBodyArb, { maxLength: 40, size: 'max' }), (bodies) => {
        const machine = new KvStateMachine();
        const model = new ReferenceKv();
        bodies.forEach((body, i) => {
          const { result } = machine.apply(i + 1, encodeCommand({ proposedAtMs: 1, body }));
          const expected = model.apply(body);
          if (isKvError(result)) {
            expect({ error: { code: result.error.code, current: result.error['current'] } }).toEqual(expected);
          } else {
            expect(result).toEqual(expected);
          }
          expect(machine.revision).toBe(model.revision);
          for (const key of ALL_KEYS) expect(machine.get(key).kv).toEqual(model.get(key));
          for (const prefix of ALL_PREFIXES) {
            for (const limit of [0, 1, 2]) {
              const { items, more } = machine.range(prefix, limit);
              expect({ items, more }).toEqual(model.range(prefix, limit));
            }
          }
        });
      }),
      { numRuns: 200 },
    );
  });

  it('restores to a machine indistinguishable from the one snapshotted', () => {
    fc.assert(
      fc.property(commandsArb(anyBodyArb, 40), commandsArb(anyBodyArb, 40), (before, after) => {
        const encode = (commands: KvCommand[]): Uint8Array[] => commands.map((command) => encodeCommand(command));
        const original = new KvStateMachine(OPTIONS);
        applyAll(original, encode(before), 1);
        const restored = new KvStateMachine(); // other options: the snapshot's must win
        restored.restore(original.snapshot());
        expect(digest(restored.snapshot())).toBe(digest(original.snapshot()));
        const next = original.appliedIndex + 1;
        const fromOriginal = applyAll(original, encode(after), next);
        const fromRestored = applyAll(restored, encode(after), next);
        expect(fromRestored).toEqual(fromOriginal);
        expect(digest(restored.snapshot())).toBe(digest(original.snapshot()));
        for (const fromRevision of [0, 1, original.compactRevision + 1, original.revision]) {
          expect(restored.eventsSince(fromRevision, { prefix: '' }, { prevValue: true })).toEqual(
            original.eventsSince(fromRevision, { prefix: '' }, { prevValue: true }),
          );
        }
        for (const lease of original.leases()) expect(restored.lease(lease.id)).toEqual(original.lease(lease.id));
      }),
      { numRuns: 200 },
    );
  });

  it('a snapshot encoded in slices, while the machine applies more between them, is the state at its start', () => {
    fc.assert(
      fc.property(commandsArb(anyBodyArb, 40), commandsArb(anyBodyArb, 40), fc.integer({ min: 1, max: 4 }), (before, during, perSlice) => {
        const encode = (commands: KvCommand[]): Uint8Array[] => commands.map((command) => encodeCommand(command));
        // A larger history and dedup table than OPTIONS, so that each list takes several slices.
        const machine = new KvStateMachine({ historyMaxEvents: 30, dedupWindowMs: 60_000, dedupMaxEntries: 30 });
        applyAll(machine, encode(before), 1);
        const whole = machine.snapshot();
        const slices = machine.snapshotInSlices(perSlice);
        const later = encode(during);
        let next = machine.appliedIndex + 1;
        let step = slices.next();
        for (; step.done !== true; step = slices.next()) {
          const data = later.shift();
          if (data !== undefined) machine.apply(next++, data);
        }
        expect(step.value).toEqual(whole);
      }),
      { numRuns: 300 },
    );
  });

  it('restored in slices, a machine keeps its own state until the last slice, then holds the snapshot\'s', () => {
    fc.assert(
      fc.property(commandsArb(anyBodyArb, 40), commandsArb(anyBodyArb, 40), fc.integer({ min: 1, max: 4 }), (source, own, perSlice) => {
        const encode = (commands: KvCommand[]): Uint8Array[] => commands.map((command) => encodeCommand(command));
        const larger = { historyMaxEvents: 30, dedupWindowMs: 60_000, dedupMaxEntries: 30 };
        const original = new KvStateMachine(larger);
        applyAll(original, encode(source), 1);
        const snapshot = original.snapshot();
        const machine = new KvStateMachine(OPTIONS);
        applyAll(machine, encode(own), 1);
        const ownState = digest(machine.snapshot());
        let restoreListenerCalls = 0;
        machine.onRestore(() => restoreListenerCalls++);
        const slices = machine.restoreInSlices(snapshot, perSlice);
        let turns = 0;
        while (slices.next().done !== true) {
          turns++;
          expect(digest(machine.snapshot())).toBe(ownState);
          expect(restoreListenerCalls).toBe(0);
        }
        expect(restoreListenerCalls).toBe(1);
        expect(digest(machine.snapshot())).toBe(digest(snapshot));
        // Each list of more than perSlice elements took more than one turn.
        if (original.range('', 0).items.length > perSlice) expect(turns).toBeGreaterThan(0);
      }),
      { numRuns: 300 },
    );
  });

  it('(planted) slices over lists the machine still changes would not be the state at their start', () => {
    // What the property above guards against: a capture that shares a list the machine appends to.
    const machine = new KvStateMachine({ historyMaxEvents: 30, dedupWindowMs: 60_000, dedupMaxEntries: 30 });
    const put = (i: number): Uint8Array => encodeCommand({ proposedAtMs: i, idempotencyKey: `c/${i}`, body: { type: 'put', key: `k${i}`, value: 'v' } });
    for (let i = 1; i <= 10; i++) machine.apply(i, put(i));
    const state = (machine as unknown as { snapshotState(): KvSnapshotState }).snapshotState();
    const whole = encodeSnapshot(state);
    const live = { ...state, history: [...state.history] };
    const slices = encodeSnapshotInSlices(live, 2);
    slices.next();
    live.history.push(live.history[0]!);
    let step = slices.next();
    while (step.done !== true) step = slices.next();
    expect(step.value).not.toEqual(whole);
  });
});
