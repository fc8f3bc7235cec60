/**
 * The reference model of the storage property tests (storage.property.test.ts and
 * wal-power-loss.property.test.ts), and the batches a Raft node could write, made from abstract
 * intents (how far back to truncate, how far to compact) against the model, so every batch is
 * well formed and a failure shrinks to a short list of intents. Not a test file: importing a
 * test file would run its tests.
 */
import fc from 'fast-check';
import type { Entry, HardState, Snapshot } from '../../src/raft/types.ts';
import { EMPTY_HARD_STATE } from '../../src/raft/types.ts';
import type { PersistBatch } from '../../src/storage/storage.ts';
import { batch, snapshot } from './helpers.ts';

export interface ModelState {
  readonly hardState: HardState;
  readonly snapshot: Snapshot | null;
  readonly entries: readonly Entry[];
}

export const EMPTY_STATE: ModelState = { hardState: EMPTY_HARD_STATE, snapshot: null, entries: [] };

/** The contract's order of effects, written as plainly as possible. */
export function applyToModel(state: ModelState, write: PersistBatch): ModelState {
  let { hardState, snapshot: held, entries } = state;
  if (write.snapshot !== null) {
    held = write.snapshot;
    entries = [];
  }
  const compaction = write.compaction;
  if (compaction !== null && compaction.meta.index > (held?.meta.index ?? 0)) {
    held = compaction;
    entries = entries.filter((stored) => stored.index > compaction.meta.index);
  }
  const first = write.entries[0];
  if (first !== undefined) entries = [...entries.filter((stored) => stored.index < first.index), ...write.entries];
  if (write.hardState !== null) hardState = write.hardState;
  return { hardState, snapshot: held, entries };
}

/**
 * Uniform in [0, 1) on the real line. Not fc.double: it draws uniformly among the doubles, so
 * over 90 % of its values in [0, 1] are below 1e-6 (and most others 1 or nearly), and each
 * "fraction" would be 0: every pick the first crash point, every truncation at the same place.
 * Unbiased too, or the early runs would pick the first crash point.
 */
export const unitArbitrary: fc.Arbitrary<number> = fc.noBias(fc.integer({ min: 0, max: 0xffff })).map((value) => value / 0x10000);

/** One step of a node's life, in terms that stay valid whatever the log looks like. */
export interface BatchIntent {
  /** Compact through this fraction of the committed entries after the snapshot (if no install). */
  readonly compactFraction: number | null;
  /** Install a leader's snapshot ending this far beyond our last index (at least past our commit). */
  readonly installAhead: number | null;
  /** Append from this fraction of the uncommitted suffix (0: right after the commit). */
  readonly truncateFraction: number;
  readonly appendCount: number;
  readonly newTerm: boolean;
  readonly commitAdvance: number;
  readonly writeHardState: boolean;
  /** The batch's sync flag; true when absent. */
  readonly sync?: boolean;
}

export interface BatchRules {
  /** The appended entry at `index` of `term`, the `offset`th of the batch. */
  readonly makeEntry: (index: number, term: number, offset: number) => Entry;
  /**
   * Raft's rules for terms: entries overwriting the log come in a higher term, and a new term
   * always goes into the batch's hard state. Without them an overwrite may keep the term
   * (rewriting the same entries) and a new term without other changes is not written.
   */
  readonly strictTerms: boolean;
}

const lastIndexOf = (state: ModelState): number => state.entries.at(-1)?.index ?? state.snapshot?.meta.index ?? 0;

function termAt(state: ModelState, index: number): number {
  if (index === (state.snapshot?.meta.index ?? 0)) return state.snapshot?.meta.term ?? 0;
  return state.entries.find((stored) => stored.index === index)?.term ?? 0;
}

/** A batch a node could write in `state`: committed entries are never truncated. */
export function batchFor(state: ModelState, intent: BatchIntent, rules: BatchRules): PersistBatch {
  const snapshotIndex = state.snapshot?.meta.index ?? 0;
  let { term, vote, commit } = state.hardState;
  let snapshotToInstall: Snapshot | null = null;
  let compaction: Snapshot | null = null;
  let lastIndex = lastIndexOf(state);
  let floorIndex = Math.max(commit, snapshotIndex);
  if (intent.installAhead !== null) {
    // From the leader: covers at least our commit, may end before or beyond our log.
    const index = Math.max(floorIndex + 1, lastIndex + intent.installAhead);
    term = Math.max(term, termAt(state, lastIndex)) + 1;
    snapshotToInstall = snapshot(index, term);
    commit = index;
    lastIndex = floorIndex = index;
  } else if (intent.compactFraction !== null && commit > snapshotIndex) {
    const index = snapshotIndex + 1 + Math.floor(intent.compactFraction * (commit - snapshotIndex - 1));
    compaction = snapshot(index, termAt(state, index));
  }
  const from = floorIndex + 1 + Math.floor(intent.truncateFraction * (lastIndex - floorIndex));
  const overwrites = rules.strictTerms && intent.appendCount > 0 && from <= lastIndex;
  const newTerm = intent.newTerm || overwrites;
  const previousTerm = snapshotToInstall !== null ? term : termAt(state, from - 1);
  term = Math.max(term, previousTerm) + (newTerm ? 1 : 0);
  const appended: Entry[] = [];
  for (let offset = 0; offset < intent.appendCount; offset++) appended.push(rules.makeEntry(from + offset, term, offset));
  const newLastIndex = appended.length > 0 ? from + appended.length - 1 : lastIndex;
  commit = Math.min(commit + intent.commitAdvance, newLastIndex);
  if (newTerm) vote = `node-${term % 3}`;
  const writeHardState = intent.writeHardState || (rules.strictTerms && newTerm) || snapshotToInstall !== null || appended.length > 0;
  return batch({
    snapshot: snapshotToInstall,
    compaction,
    entries: appended,
    hardState: writeHardState ? { term, vote, commit } : null,
    sync: intent.sync ?? true,
  });
}
