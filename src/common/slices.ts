/**
 * Work done a slice at a time (encoding or decoding a large snapshot, loading its tables): a
 * generator that yields between slices and returns its result, so that a node can run one slice
 * per turn of its event loop instead of stalling for all of it.
 */
export type Slices<T> = Generator<void, T, void>;

/** Runs `slices` to the end at once, without yielding. */
export function allSlices<T>(slices: Slices<T>): T {
  for (;;) {
    const step = slices.next();
    if (step.done === true) return step.value;
  }
}
