/**
 * Linearizability checker for the key-value register histories the Raft simulator records.
 *
 * A history is linearizable if every operation can be given a single instant between its
 * invocation and its completion such that, taken in that order, the results match a plain
 * sequential register. Deciding that is NP-complete in general, so we use the standard
 * practical search:
 *
 * - P-compositionality (Herlihy & Wing): a history of independent registers is linearizable
 *   iff each register's sub-history is. We split by key, which turns one huge search into
 *   many small ones.
 * - Wing & Gong's depth-first search with Lowe's memoization (the "WGL" algorithm used by
 *   Knossos and Porcupine): the history is a doubly linked list of call/return events in
 *   time order. The next operation to linearize must be one whose call precedes the first
 *   remaining return event (otherwise it would be ordered after an operation that finished
 *   before it started). We try such calls in turn, remove the linearized ones from the list,
 *   and backtrack when we hit a return event whose operation cannot be placed. A cache of
 *   (set of linearized operations, register value) pairs prunes configurations already
 *   explored: the future of the search depends only on those two things.
 *
 * Outcomes that the client could not observe are handled conservatively so that a correct
 * system never raises an alarm:
 * - `fail` means "definitely had no effect": the operation is dropped.
 * - `unknown` reads are dropped (a read without a result constrains nothing).
 * - `unknown` writes (put / cas) return at +infinity: they may be linearized anywhere after
 *   their invocation, or never. Because a write with no observed result is legal in every
 *   state, "never" is the same as "after everything else", so the search simply stops as
 *   soon as every operation with a known completion has been linearized. Unknown writes
 *   with identical effects are interchangeable, so they are linearized in invocation order
 *   only (see linkTwins); otherwise k timed-out puts would cost 2^k configurations.
 * - Equal timestamps count as concurrent: op A precedes op B only if A.completeMs <
 *   B.invokeMs strictly. Clocks in the simulator are coarse; claiming an order we cannot
 *   prove would produce false alarms.
 *
 * The search is exponential in the worst case (many concurrent or timed-out writes to one
 * key), so it is bounded by a budget of cached configurations per key; running out gives an
 * 'inconclusive' verdict rather than a guess. The cache costs about ceil(ops / 32) * 4 + 16
 * bytes per configuration, i.e. ~90 MB at the default budget for a 200-op key.
 */
import { assert } from '../../../src/common/assert.ts';

// ---------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------

export type RegisterOp =
  // A value of null deletes the key (a KV delete is a write of "absent").
  | { kind: 'put'; key: string; value: string | null }
  | { kind: 'get'; key: string }
  | { kind: 'cas'; key: string; expected: string | null; value: string | null }; // expected null = "only if absent"

export type RegisterOutcome =
  | { status: 'ok'; value?: string | null; casSucceeded?: boolean } // get: value (null = absent); cas: casSucceeded
  | { status: 'fail' } // definitely had no effect: drop it from the history
  | { status: 'unknown' }; // timed out / indeterminate: may have taken effect at any point after invoke, or never

export interface HistoryRecord {
  id: number; // unique per history
  client: number;
  op: RegisterOp;
  invokeMs: number;
  completeMs: number | null; // null when outcome is 'unknown' (treat as returning at +infinity)
  outcome: RegisterOutcome;
}

export type LinearizabilityResult =
  | { ok: true; keysChecked: number; statesExplored: number }
  | { ok: false; key: string; reason: string; ops: HistoryRecord[] }
  | { ok: 'inconclusive'; key: string; statesExplored: number };

const DEFAULT_MAX_STATES_PER_KEY = 2_000_000;

/** Above this many records for the failing key, the report carries a window, not all of them. */
const FULL_REPORT_LIMIT = 40;
/** How many operations that completed before the blocked one the report window keeps. */
const REPORT_PRECEDING = 20;

// ---------------------------------------------------------------------------------------
// Entry point
// ---------------------------------------------------------------------------------------

/**
 * Checks `history` for linearizability against a map of independent registers, all absent
 * at the start. Throws on malformed records (duplicate ids, an `ok` get without a value...):
 * those are bugs in the recording harness, and silently guessing would hide them.
 */
export function checkLinearizable(
  history: readonly HistoryRecord[],
  options?: { maxStatesPerKey?: number },
): LinearizabilityResult {
  const maxStates = options?.maxStatesPerKey ?? DEFAULT_MAX_STATES_PER_KEY;
  assert(maxStates > 0, `maxStatesPerKey must be positive, got ${maxStates}`);
  validateHistory(history);

  const byKey = partitionByKey(history);
  // Sorted so the verdict (and which key is reported) does not depend on record order.
  const keys = [...byKey.keys()].sort();
  let statesExplored = 0;
  let firstInconclusive: { key: string; statesExplored: number } | null = null;

  for (const key of keys) {
    const records = byKey.get(key) ?? [];
    const outcome = searchKey(prepareOps(records), maxStates);
    statesExplored += outcome.statesExplored;
    if (outcome.kind === 'violation') {
      // A proven violation on any key beats an inconclusive one: report it.
      return { ok: false, key, reason: describeViolation(key, outcome), ops: reportWindow(records, outcome) };
    }
    if (outcome.kind === 'inconclusive' && firstInconclusive === null) {
      firstInconclusive = { key, statesExplored: outcome.statesExplored };
    }
  }

  if (firstInconclusive !== null) return { ok: 'inconclusive', ...firstInconclusive };
  return { ok: true, keysChecked: keys.length, statesExplored };
}

function validateHistory(history: readonly HistoryRecord[]): void {
  const ids = new Set<number>();
  for (const r of history) {
    assert(!ids.has(r.id), `history has duplicate record id ${r.id}`);
    ids.add(r.id);
    assert(Number.isFinite(r.invokeMs), `record #${r.id}: invokeMs must be finite`);
    if (r.completeMs !== null) {
      assert(r.completeMs >= r.invokeMs, `record #${r.id}: completes (${r.completeMs}) before it is invoked (${r.invokeMs})`);
    }
    if (r.outcome.status !== 'ok') continue;
    assert(r.completeMs !== null, `record #${r.id}: outcome ok needs a completeMs`);
    if (r.op.kind === 'get') {
      assert(r.outcome.value !== undefined, `record #${r.id}: ok get needs outcome.value (null = absent)`);
    }
    if (r.op.kind === 'cas') {
      assert(r.outcome.casSucceeded !== undefined, `record #${r.id}: ok cas needs outcome.casSucceeded`);
    }
  }
}

function partitionByKey(history: readonly HistoryRecord[]): Map<string, HistoryRecord[]> {
  const byKey = new Map<string, HistoryRecord[]>();
  for (const r of history) {
    const list = byKey.get(r.op.key);
    if (list) list.push(r);
    else byKey.set(r.op.key, [r]);
  }
  return byKey;
}

// ---------------------------------------------------------------------------------------
// The register model
// ---------------------------------------------------------------------------------------

/** A register's content; null means the key is absent. */
type Value = string | null;

/** What a model step returns when the operation's observed result is impossible in that state. */
const ILLEGAL: unique symbol = Symbol('illegal');
type Step = (state: Value) => Value | typeof ILLEGAL;

/** One operation of a single key's history, ready for the search. */
interface PreparedOp {
  /** Bit index in the set of linearized operations (dense, per key). */
  readonly index: number;
  /** As recorded (reports show it); the step and effect see unobserved values rewritten. */
  readonly record: HistoryRecord;
  readonly effect: string;
  /** Applies the operation and checks its observed result against the state. */
  readonly step: Step;
  /** Outcome unknown and never observed: returns at +infinity and need not be linearized at all. */
  readonly pendingForever: boolean;
  /** When the search must have linearized it: the record's completion, or a patched one (returnBound). */
  readonly returnsAtMs: number;
  /**
   * The value this op saw (an ok read's result, an ok swapping cas's expectation) when exactly
   * one write in the history writes it; else null. See searchKey's pendingObservers.
   */
  readonly observes: Value;
  /** An earlier unknown op with the same effect that must be linearized first (see linkTwins). */
  twinBefore: PreparedOp | null;
}

/** Drops operations that constrain nothing and turns the rest into model steps. */
function prepareOps(records: readonly HistoryRecord[]): PreparedOp[] {
  const ops: PreparedOp[] = [];
  const unobserved = unobservedWrites(records);
  const { observedAt, soleWriterValues } = firstObservations(records);
  for (const original of records) {
    const record = withUnobservedValue(original, unobserved);
    const step = stepFor(record);
    if (step === null) continue;
    const returnsAtMs = returnBound(record, observedAt);
    const pendingForever = returnsAtMs === Number.POSITIVE_INFINITY;
    const seen = observedValue(record);
    const observes = seen !== null && soleWriterValues.has(seen) ? seen : null;
    ops.push({
      index: ops.length, record: original, effect: effectOf(record.op), step, pendingForever, returnsAtMs, observes, twinBefore: null,
    });
  }
  linkTwins(ops);
  return ops;
}

/**
 * Symmetry reduction for values nobody observed. The model looks at a value only to compare it
 * with a read's result or a cas's expectation, so every written value that no ok read returned
 * and no cas expected behaves exactly like every other such value: replacing them all with one
 * symbol changes no step's verdict, in any order (the model is bisimilar, so the verdict is the
 * same, not just safe). It matters for timed-out writes: k unknown puts of distinct values that
 * nobody read (a minority leader's backlog committed after the heal) would otherwise be k
 * different effects and cost 2^k configurations; as one effect, linkTwins orders them (seed
 * 301772 of the 5-node KV swarm: 27 such puts exhausted a 20M-state budget).
 */
interface UnobservedWrites {
  readonly isUnobserved: (value: Value) => boolean;
  /** Not equal to any observed value, so it never matches a read or an expectation. */
  readonly symbol: string;
}

function unobservedWrites(records: readonly HistoryRecord[]): UnobservedWrites {
  const observed = new Set<Value>([null]); // absent stays itself: it is the initial state.
  for (const { op, outcome } of records) {
    if (op.kind === 'get' && outcome.status === 'ok') observed.add(outcome.value ?? null);
    if (op.kind === 'cas') observed.add(op.expected);
  }
  let symbol = '\u0000unobserved';
  while (observed.has(symbol)) symbol += '\u0000';
  return { isUnobserved: (value) => !observed.has(value), symbol };
}

function withUnobservedValue(record: HistoryRecord, unobserved: UnobservedWrites): HistoryRecord {
  const { op } = record;
  if (op.kind === 'get' || !unobserved.isUnobserved(op.value)) return record;
  return { ...record, op: { ...op, value: unobserved.symbol } };
}

/**
 * Patching observed unknown writes (as etcd's robustness tests do). When exactly one write in a
 * key's history writes a value v (not absent), and an ok read returned v or an ok cas found v and
 * swapped, then that write took effect, before the observer's linearization point and so no later
 * than the observer's completion. Returning it there instead of at +infinity is exact, not a
 * guess: it only drops linearizations in which the observer saw v before anyone wrote it. It
 * matters when a partition leaves many writes and deletes of one key unknown: every one left at
 * +infinity stays a candidate in every later configuration (seed 8014010: 62 unknown writes on
 * one key exhausted a 2M-configuration budget).
 */
function firstObservations(records: readonly HistoryRecord[]): {
  observedAt: Map<string, number>;
  soleWriterValues: Set<string>;
} {
  const writers = new Map<string, number>();
  const observedAt = new Map<string, number>();
  for (const record of records) {
    const { op, outcome, completeMs } = record;
    if (op.kind !== 'get' && outcome.status !== 'fail' && op.value !== null) {
      writers.set(op.value, (writers.get(op.value) ?? 0) + 1);
    }
    const seen = observedValue(record);
    if (seen === null || completeMs === null) continue;
    observedAt.set(seen, Math.min(observedAt.get(seen) ?? Number.POSITIVE_INFINITY, completeMs));
  }
  const soleWriterValues = new Set([...writers].filter(([, count]) => count === 1).map(([value]) => value));
  for (const value of [...observedAt.keys()]) if (!soleWriterValues.has(value)) observedAt.delete(value);
  return { observedAt, soleWriterValues };
}

/** The value an ok read returned or an ok swapping cas expected (absent counts as none). */
function observedValue({ op, outcome }: HistoryRecord): Value {
  if (outcome.status !== 'ok') return null;
  if (op.kind === 'get') return outcome.value ?? null;
  return op.kind === 'cas' && outcome.casSucceeded === true ? op.expected : null;
}

/** When `record` must be linearized by: its completion, a patched one, or +infinity. */
function returnBound(record: HistoryRecord, observedAt: ReadonlyMap<string, number>): number {
  if (record.outcome.status !== 'unknown') return record.completeMs ?? Number.POSITIVE_INFINITY;
  const { op } = record;
  if (op.kind === 'get' || op.value === null) return Number.POSITIVE_INFINITY;
  const seenAt = observedAt.get(op.value);
  // Seen before it was invoked: leave it at +infinity and let the search report the violation.
  if (seenAt === undefined || seenAt < record.invokeMs) return Number.POSITIVE_INFINITY;
  return seenAt;
}

/**
 * Symmetry reduction for unknown writes. Two unknown ops with the same effect (kind, expected
 * and new value) are interchangeable, and the one invoked first may take effect whenever the
 * later one may (neither ever returns). So any linearization can be rewritten to apply them
 * in invocation order, and we only let the later one be linearized once the earlier one is.
 * Without this, k identical timed-out puts would make the search explore 2^k subsets
 * instead of k + 1 counts.
 */
function linkTwins(ops: readonly PreparedOp[]): void {
  const lastOfEffect = new Map<string, PreparedOp>();
  const unknown = ops.filter((op) => op.pendingForever);
  unknown.sort((a, b) => a.record.invokeMs - b.record.invokeMs || a.index - b.index);
  for (const op of unknown) {
    op.twinBefore = lastOfEffect.get(op.effect) ?? null;
    lastOfEffect.set(op.effect, op);
  }
}

/** What an op does to the register, as a comparable key (after the unobserved-value rewrite). */
function effectOf(o: RegisterOp): string {
  return JSON.stringify([o.kind, o.kind === 'cas' ? o.expected : null, o.kind === 'get' ? null : o.value]);
}

/** The model step for a record, or null when the record is dropped from the history. */
function stepFor(record: HistoryRecord): Step | null {
  const { op, outcome } = record;
  if (outcome.status === 'fail') return null;
  const known = outcome.status === 'ok';
  switch (op.kind) {
    case 'put':
      return () => op.value;
    case 'get': {
      if (!known) return null; // An unanswered read neither changes nor reveals anything.
      const observed = outcome.value ?? null;
      return (s) => (s === observed ? s : ILLEGAL);
    }
    case 'cas': {
      // Unknown result: whether it swapped depends only on the state it is applied in.
      if (!known) return (s) => (s === op.expected ? op.value : s);
      if (outcome.casSucceeded === true) return (s) => (s === op.expected ? op.value : ILLEGAL);
      return (s) => (s !== op.expected ? s : ILLEGAL);
    }
  }
}

// ---------------------------------------------------------------------------------------
// The event list
// ---------------------------------------------------------------------------------------

/** The list head (a sentinel) or an event; the head has no predecessor. */
interface ListNode {
  prev: ListNode | null;
  next: EventEntry | null;
}

interface EventEntry extends ListNode {
  prev: ListNode;
  readonly kind: 'call' | 'return';
  readonly op: PreparedOp;
  /** For a call, its matching return (lifting an operation removes both). */
  returnEntry: EventEntry | null;
}

/**
 * Builds the time-ordered event list. At equal times calls sort before returns, which makes
 * operations touching at an instant concurrent (see the module comment). Unknown operations
 * return at +infinity, after every real return.
 */
function buildEventList(ops: readonly PreparedOp[]): ListNode {
  interface RawEvent { time: number; kind: 'call' | 'return'; op: PreparedOp }
  const raw: RawEvent[] = [];
  for (const op of ops) {
    raw.push({ time: op.record.invokeMs, kind: 'call', op });
    raw.push({ time: op.returnsAtMs, kind: 'return', op });
  }
  raw.sort(
    (a, b) =>
      a.time - b.time || // Infinity - Infinity is NaN, which `||` skips, so no special case.
      (a.kind === b.kind ? 0 : a.kind === 'call' ? -1 : 1) ||
      a.op.index - b.op.index,
  );

  const head: ListNode = { prev: null, next: null };
  const calls = new Map<PreparedOp, EventEntry>();
  let tail: ListNode = head;
  for (const ev of raw) {
    const entry: EventEntry = { prev: tail, next: null, kind: ev.kind, op: ev.op, returnEntry: null };
    tail.next = entry;
    tail = entry;
    if (ev.kind === 'call') calls.set(ev.op, entry);
    else {
      const call = calls.get(ev.op);
      assert(call !== undefined, 'return event sorted before its call');
      call.returnEntry = entry;
    }
  }
  return head;
}

function unlink(entry: EventEntry): void {
  entry.prev.next = entry.next;
  if (entry.next) entry.next.prev = entry.prev;
}

/** Reinserts an entry removed by unlink; valid only in reverse order of removal (dancing links). */
function relink(entry: EventEntry): void {
  entry.prev.next = entry;
  if (entry.next) entry.next.prev = entry;
}

/** Removes a linearized operation's call and return from the list. */
function lift(call: EventEntry): void {
  assert(call.returnEntry !== null, 'lift of a call without a return');
  unlink(call);
  unlink(call.returnEntry);
}

function unlift(call: EventEntry): void {
  assert(call.returnEntry !== null, 'unlift of a call without a return');
  relink(call.returnEntry);
  relink(call);
}

// ---------------------------------------------------------------------------------------
// Memoization
// ---------------------------------------------------------------------------------------

/**
 * The set of linearized operations: a bitset plus an incrementally maintained Zobrist hash
 * (the XOR of a fixed pseudo-random number per member), so that probing the cache costs
 * O(1) until a hash matches instead of O(operations) for building a key.
 */
class OpSet {
  readonly words: Uint32Array;
  hash = 0;

  constructor(size: number) {
    this.words = new Uint32Array(Math.max(1, Math.ceil(size / 32)));
  }

  /** Adds `i`, which must not be a member (XOR would otherwise toggle it out of the hash). */
  add(i: number): void {
    this.words[i >>> 5]! |= 1 << (i & 31);
    this.hash ^= mix32(i);
  }

  has(i: number): boolean {
    return (this.words[i >>> 5]! & (1 << (i & 31))) !== 0;
  }

  remove(i: number): void {
    this.words[i >>> 5]! &= ~(1 << (i & 31));
    this.hash ^= mix32(i);
  }
}

/** Murmur3's finalizer: spreads a small integer over all 32 bits. */
function mix32(n: number): number {
  let x = (n + 0x9e3779b9) | 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** Small integer ids for register values, so a configuration is (bitset, number). */
class ValueIds {
  private readonly ids = new Map<Value, number>();

  of(value: Value): number {
    let id = this.ids.get(value);
    if (id === undefined) {
      id = this.ids.size;
      this.ids.set(value, id);
    }
    return id;
  }
}

/**
 * Lowe's cache of explored configurations (set of linearized ops, register value).
 *
 * It must be exact: a false "already seen" would prune a branch that might linearize the
 * history and raise a false alarm, so hashes only pick the slot and equal hashes are
 * confirmed by comparing the bitsets. Entries live in flat typed arrays (an open-addressing
 * table with linear probing over an arena of bitsets) because the cache can hold millions
 * of configurations and per-entry objects or strings cost several times the memory.
 */
class ConfigCache {
  /** 32-bit words per stored bitset. */
  private readonly width: number;
  private capacity = 1024;
  private count = 0;
  /** Entry e's bitset occupies sets[e * width, (e + 1) * width). */
  private sets: Uint32Array;
  private valueIds: Int32Array;
  private hashes: Uint32Array;
  /** Entry index + 1 per slot, 0 when empty; twice the capacity keeps probe runs short. */
  private slots: Int32Array;

  constructor(opCount: number) {
    this.width = Math.max(1, Math.ceil(opCount / 32));
    this.sets = new Uint32Array(this.capacity * this.width);
    this.valueIds = new Int32Array(this.capacity);
    this.hashes = new Uint32Array(this.capacity);
    this.slots = new Int32Array(this.capacity * 2);
  }

  get size(): number {
    return this.count;
  }

  /** Records the configuration; returns false if it was already explored. */
  addIfNew(ops: OpSet, valueId: number): boolean {
    if (this.count === this.capacity) this.grow();
    const hash = (ops.hash ^ mix32(~valueId)) >>> 0;
    const mask = this.slots.length - 1;
    let slot = hash & mask;
    for (let stored = this.slots[slot]!; stored !== 0; stored = this.slots[slot]!) {
      const e = stored - 1;
      if (this.hashes[e] === hash && this.valueIds[e] === valueId && this.sameSet(e, ops.words)) return false;
      slot = (slot + 1) & mask;
    }
    const e = this.count++;
    this.sets.set(ops.words, e * this.width);
    this.valueIds[e] = valueId;
    this.hashes[e] = hash;
    this.slots[slot] = e + 1;
    return true;
  }

  private sameSet(e: number, words: Uint32Array): boolean {
    const base = e * this.width;
    for (let i = 0; i < this.width; i++) {
      if (this.sets[base + i] !== words[i]) return false;
    }
    return true;
  }

  /** Doubles the arena and rebuilds the slot table from the stored hashes. */
  private grow(): void {
    this.capacity *= 2;
    const sets = new Uint32Array(this.capacity * this.width);
    sets.set(this.sets);
    this.sets = sets;
    const valueIds = new Int32Array(this.capacity);
    valueIds.set(this.valueIds);
    this.valueIds = valueIds;
    const hashes = new Uint32Array(this.capacity);
    hashes.set(this.hashes);
    this.hashes = hashes;

    this.slots = new Int32Array(this.capacity * 2);
    const mask = this.slots.length - 1;
    for (let e = 0; e < this.count; e++) {
      let slot = this.hashes[e]! & mask;
      while (this.slots[slot] !== 0) slot = (slot + 1) & mask;
      this.slots[slot] = e + 1;
    }
  }
}

// ---------------------------------------------------------------------------------------
// The search
// ---------------------------------------------------------------------------------------

/** Where the search got furthest before failing: the core of a violation report. */
interface DeepestFailure {
  /** Operations linearized at that point. */
  readonly depth: number;
  /** The operation whose return was reached without being able to place it. */
  readonly blocked: PreparedOp;
  /** The register's value at that point. */
  readonly value: Value;
  /** The most recently linearized operation, if any. */
  readonly lastLinearized: PreparedOp | null;
}

type KeyOutcome =
  | { kind: 'linearizable'; statesExplored: number }
  | { kind: 'inconclusive'; statesExplored: number }
  | ({ kind: 'violation'; statesExplored: number; opCount: number } & DeepestFailure);

/** A linearized operation and the register value before it, for backtracking. */
interface Frame {
  readonly call: EventEntry;
  readonly valueBefore: Value;
}

/** Runs the WGL search over one key's operations. */
function searchKey(ops: readonly PreparedOp[], maxStates: number): KeyOutcome {
  const head = buildEventList(ops);
  const linearized = new OpSet(ops.length);
  const cache = new ConfigCache(ops.length);
  const valueIds = new ValueIds();
  const stack: Frame[] = [];
  let value: Value = null;
  // Unknown operations never have to be placed, so we are done once all others are.
  let unplaced = ops.filter((op) => !op.pendingForever).length;
  // Observers of a value that one write alone writes, not yet placed. While the register holds
  // such a value and some of its observers are unplaced, no op may change the register: the value
  // could never come back for them. Exact, and it cuts the search from every subset of concurrent
  // timed-out writes to their orders that respect the reads (seed 8014010).
  const pendingObservers = new Map<Value, number>();
  for (const op of ops) if (op.observes !== null) pendingObservers.set(op.observes, (pendingObservers.get(op.observes) ?? 0) + 1);
  // A swapping cas observes the value it replaces: its own observation happens as it applies.
  const leavesObservedValue = (op: PreparedOp, next: Value): boolean =>
    next !== value && (pendingObservers.get(value) ?? 0) - (op.observes === value ? 1 : 0) > 0;
  const noteObserver = (op: PreparedOp, delta: number): void => {
    if (op.observes !== null) pendingObservers.set(op.observes, (pendingObservers.get(op.observes) ?? 0) + delta);
  };
  let deepest: DeepestFailure | null = null;
  let entry = head.next;

  while (unplaced > 0) {
    // Some known operation is unplaced, so its return lies ahead: the scan cannot run out.
    assert(entry !== null, 'event list exhausted with operations still unplaced');

    if (entry.kind === 'call') {
      const twin = entry.op.twinBefore;
      const next: Value | typeof ILLEGAL = twin && !linearized.has(twin.index) ? ILLEGAL : entry.op.step(value);
      if (next !== ILLEGAL && !leavesObservedValue(entry.op, next) && tryLinearize(entry, next)) {
        if (cache.size > maxStates) return { kind: 'inconclusive', statesExplored: cache.size };
        stack.push({ call: entry, valueBefore: value });
        value = next;
        lift(entry);
        noteObserver(entry.op, -1);
        if (!entry.op.pendingForever) unplaced--;
        entry = head.next; // The first return may have moved: rescan from the start.
      } else {
        entry = entry.next;
      }
      continue;
    }

    // A return: this operation must come before everything after it, and none of the calls
    // we could still place here led anywhere. Undo the last choice and try the next call.
    if (deepest === null || stack.length > deepest.depth) {
      // When the register holds a value some unplaced op must still observe, that op is what
      // stops the search (a stale read, typically), not the write that could not replace it.
      const blocked = unplacedObserverOf(value) ?? entry.op;
      deepest = { depth: stack.length, blocked, value, lastLinearized: stack.at(-1)?.call.op ?? null };
    }
    const frame = stack.pop();
    if (frame === undefined) {
      return { kind: 'violation', statesExplored: cache.size, opCount: ops.length, ...deepest };
    }
    unlift(frame.call);
    noteObserver(frame.call.op, +1);
    linearized.remove(frame.call.op.index);
    if (!frame.call.op.pendingForever) unplaced++;
    value = frame.valueBefore;
    entry = frame.call.next;
  }
  return { kind: 'linearizable', statesExplored: cache.size };

  /** The earliest-invoked unplaced op that must still observe `held`, if any. */
  function unplacedObserverOf(held: Value): PreparedOp | null {
    if ((pendingObservers.get(held) ?? 0) === 0) return null;
    let first: PreparedOp | null = null;
    for (const op of ops) {
      if (op.observes !== held || linearized.has(op.index)) continue;
      if (first === null || op.record.invokeMs < first.record.invokeMs) first = op;
    }
    return first;
  }

  /** Marks `call` linearized if (ops, value) is a new configuration; else leaves all as was. */
  function tryLinearize(call: EventEntry, valueAfter: Value): boolean {
    linearized.add(call.op.index);
    if (cache.addIfNew(linearized, valueIds.of(valueAfter))) return true;
    linearized.remove(call.op.index);
    return false;
  }
}

// ---------------------------------------------------------------------------------------
// Reporting
// ---------------------------------------------------------------------------------------

function describeViolation(key: string, f: DeepestFailure & { opCount: number }): string {
  const blocked = f.blocked.record;
  const last = f.lastLinearized
    ? `, last placed ${describeRecord(f.lastLinearized.record)}`
    : '';
  return (
    `key ${JSON.stringify(key)} is not linearizable: the furthest partial linearization placed ` +
    `${f.depth} of ${f.opCount} operations (register ${showValue(f.value)}${last}); ` +
    `then ${describeRecord(blocked)}, which returned at ${blocked.completeMs ?? '∞'}ms, ` +
    `could not be placed`
  );
}

/**
 * The records to show for a failing key: all of them if few, else those concurrent with the
 * blocked operation plus the ones that completed just before it (the writes that a stale or
 * impossible read should have seen). Dropped records are included on purpose: a `fail`
 * that actually took effect is a classic cause of violations.
 */
function reportWindow(records: readonly HistoryRecord[], f: DeepestFailure): HistoryRecord[] {
  const sorted = [...records].sort(byInvocation);
  if (sorted.length <= FULL_REPORT_LIMIT) return sorted;
  const blocked = f.blocked.record;
  const end = (r: HistoryRecord): number => r.completeMs ?? Number.POSITIVE_INFINITY;
  const blockedEnd = end(blocked);
  const concurrent = sorted.filter((r) => r.invokeMs <= blockedEnd && end(r) >= blocked.invokeMs);
  const preceding = sorted
    .filter((r) => end(r) < blocked.invokeMs)
    .sort((a, b) => end(a) - end(b))
    .slice(-REPORT_PRECEDING);
  const picked = new Set([...preceding, ...concurrent]);
  return sorted.filter((r) => picked.has(r));
}

function byInvocation(a: HistoryRecord, b: HistoryRecord): number {
  return a.invokeMs - b.invokeMs || a.id - b.id;
}

/** Renders records one per line, in invocation order, for failure reports. */
export function formatHistory(records: readonly HistoryRecord[]): string {
  return [...records]
    .sort(byInvocation)
    .map((r) => {
      const span = `[${r.invokeMs}..${r.completeMs ?? '∞'}]`;
      return `#${r.id} client ${r.client} ${span} ${describeRecord(r)}`;
    })
    .join('\n');
}

/** "put k=\"v\" → ok", "get k → \"v\"", "cas k absent→\"v\" → swapped", ... */
function describeRecord(r: HistoryRecord): string {
  return `${describeOp(r.op)} → ${describeOutcome(r)}`;
}

function describeOp(op: RegisterOp): string {
  const key = JSON.stringify(op.key);
  switch (op.kind) {
    case 'put':
      return op.value === null ? `delete ${key}` : `put ${key}=${JSON.stringify(op.value)}`;
    case 'get':
      return `get ${key}`;
    case 'cas':
      return `cas ${key} ${showValue(op.expected)}→${showValue(op.value)}`;
  }
}

function describeOutcome(r: HistoryRecord): string {
  const o = r.outcome;
  if (o.status === 'fail') return 'fail (no effect)';
  if (o.status === 'unknown') return 'unknown';
  switch (r.op.kind) {
    case 'put':
      return 'ok';
    case 'get':
      return o.value === undefined ? 'ok (no value?)' : showValue(o.value);
    case 'cas':
      return o.casSucceeded === true ? 'swapped' : o.casSucceeded === false ? 'not swapped' : 'ok (result?)';
  }
}

function showValue(v: Value): string {
  return v === null ? 'absent' : JSON.stringify(v);
}
