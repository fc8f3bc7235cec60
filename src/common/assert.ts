/**
 * Assertions for invariants. A broken invariant is a programmer error: it throws at once,
 * in tests and in production alike (as TigerBeetle keeps its asserts on), and is never caught
 * to be "handled". Expected outcomes are return values, not assertions.
 */

/** Thrown when an internal invariant does not hold. Never caught by Concord itself. */
export class AssertionError extends Error {
  override readonly name = 'AssertionError';
}

/** Throws an {@link AssertionError} with `message` unless `condition` holds. */
export function assert(condition: boolean, message: string | (() => string)): asserts condition {
  if (!condition) {
    throw new AssertionError(typeof message === 'string' ? message : message());
  }
}

/** Marks a branch that the type system proves unreachable (exhaustive switches). */
export function assertNever(value: never, what: string): never {
  throw new AssertionError(`unexpected ${what}: ${JSON.stringify(value)}`);
}
