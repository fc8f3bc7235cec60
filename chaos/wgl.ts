/**
 * A small generic linearizability search for the chaos checks whose model is not the register
 * of test/sim/checkers/linearizability.ts (that one is specialised: values, cas, twins). Same
 * method — Wing & Gong's search with Lowe's memoization, as Knossos and Porcupine do it — over
 * a model given as functions, with nondeterminism handled the way Knossos does: the search
 * state is the *set* of model states the history so far allows, so "a lease may have expired
 * here, or not" is one step, not a branch.
 *
 * - `fail` operations are dropped before the search (they had no effect and observed nothing
 *   the caller wants checked: a caller that wants a refusal checked passes it as ok with the
 *   refusal as its observed result).
 * - `unknown` operations never return: they may be linearized anywhere after their invocation,
 *   or never; the search ends once every operation with a completion is linearized.
 * - Equal times count as concurrent: A precedes B only if A completed strictly before B began.
 * The search is bounded by a budget of memoized configurations; past it the verdict is
 * 'inconclusive', never a guess.
 */

export interface SearchOp<Op> {
  readonly id: number;
  readonly op: Op;
  readonly invokeMs: number;
  /** null: unknown outcome (pending forever). */
  readonly completeMs: number | null;
}

export interface PowerModel<State, Op> {
  readonly init: readonly State[];
  /** The states `op` (with its observed result) may lead to from `state`; empty when impossible there. */
  step(state: State, op: SearchOp<Op>): readonly State[];
  /** A canonical key of one state (sets of states are deduplicated and memoized by it). */
  key(state: State): string;
}

export type SearchResult<Op> =
  | { readonly ok: true; readonly statesExplored: number }
  | { readonly ok: false; readonly blocked: SearchOp<Op>; readonly deepest: readonly SearchOp<Op>[]; readonly statesExplored: number }
  | { readonly ok: 'inconclusive'; readonly statesExplored: number };

interface Node<Op> {
  readonly kind: 'call' | 'return';
  readonly op: SearchOp<Op>;
  readonly bit: number;
  match: Node<Op> | null;
  prev: Node<Op> | null;
  next: Node<Op> | null;
}

export function searchLinearizable<State, Op>(history: readonly SearchOp<Op>[], model: PowerModel<State, Op>, maxStates: number): SearchResult<Op> {
  const ops = [...history].sort((a, b) => a.invokeMs - b.invokeMs || a.id - b.id);
  // The event list: calls and returns in time order, calls first at equal times (concurrent).
  const events: Node<Op>[] = [];
  ops.forEach((op, bit) => {
    const call: Node<Op> = { kind: 'call', op, bit, match: null, prev: null, next: null };
    events.push(call);
    if (op.completeMs !== null) {
      const ret: Node<Op> = { kind: 'return', op, bit, match: call, prev: null, next: null };
      call.match = ret;
      events.push(ret);
    }
  });
  const time = (node: Node<Op>): number => (node.kind === 'call' ? node.op.invokeMs : node.op.completeMs ?? Infinity);
  events.sort((a, b) => time(a) - time(b) || (a.kind === b.kind ? a.bit - b.bit : a.kind === 'call' ? -1 : 1));
  const head: Node<Op> = { kind: 'call', op: ops[0] as SearchOp<Op>, bit: -1, match: null, prev: null, next: null };
  let last = head;
  for (const node of events) {
    node.prev = last;
    last.next = node;
    last = node;
  }
  let returnsLeft = events.filter((node) => node.kind === 'return').length;

  const lift = (call: Node<Op>): void => {
    if (call.prev !== null) call.prev.next = call.next;
    if (call.next !== null) call.next.prev = call.prev;
    const ret = call.match;
    if (ret !== null) {
      if (ret.prev !== null) ret.prev.next = ret.next;
      if (ret.next !== null) ret.next.prev = ret.prev;
      returnsLeft--;
    }
  };
  const unlift = (call: Node<Op>): void => {
    const ret = call.match;
    if (ret !== null) {
      if (ret.prev !== null) ret.prev.next = ret;
      if (ret.next !== null) ret.next.prev = ret;
      returnsLeft++;
    }
    if (call.prev !== null) call.prev.next = call;
    if (call.next !== null) call.next.prev = call;
  };

  const words = Math.max(1, Math.ceil(ops.length / 32));
  const linearized = new Uint32Array(words);
  const flip = (bit: number): void => {
    linearized[bit >>> 5] = (linearized[bit >>> 5] ?? 0) ^ (1 << (bit & 31));
  };
  const setKey = (states: readonly State[]): string => states.map((state) => model.key(state)).sort().join(';');
  const cache = new Set<string>();
  const stack: { readonly call: Node<Op>; readonly states: readonly State[] }[] = [];
  let states: readonly State[] = dedupe(model.init, model);
  let deepest: SearchOp<Op>[] = [];
  let blocked: SearchOp<Op> | null = null;

  let entry: Node<Op> | null = head.next;
  while (returnsLeft > 0 && entry !== null) {
    if (entry.kind === 'call') {
      const next = dedupe(states.flatMap((state) => model.step(state, entry!.op)), model);
      if (next.length > 0) {
        flip(entry.bit);
        const key = `${Array.from(linearized).join(',')}|${setKey(next)}`;
        if (!cache.has(key)) {
          if (cache.size >= maxStates) return { ok: 'inconclusive', statesExplored: cache.size };
          cache.add(key);
          stack.push({ call: entry, states });
          states = next;
          lift(entry);
          entry = head.next;
          continue;
        }
        flip(entry.bit);
      }
      entry = entry.next;
    } else {
      // A return whose operation could not be placed: undo the last choice.
      if (stack.length >= deepest.length) {
        deepest = stack.map((frame) => frame.call.op);
        blocked = entry.op;
      }
      const frame = stack.pop();
      if (frame === undefined) return { ok: false, blocked: blocked ?? entry.op, deepest, statesExplored: cache.size };
      states = frame.states;
      flip(frame.call.bit);
      unlift(frame.call);
      entry = frame.call.next;
    }
  }
  return { ok: true, statesExplored: cache.size };
}

function dedupe<State, Op>(states: readonly State[], model: PowerModel<State, Op>): State[] {
  const seen = new Map<string, State>();
  for (const state of states) seen.set(model.key(state), state);
  return [...seen.values()];
}
