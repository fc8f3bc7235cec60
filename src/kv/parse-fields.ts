/**
 * The field parsers every command parser shares (command-parse.ts and the lock commands'):
 * each builds a fresh value from what msgpack decoded, or throws a ParseError carrying the
 * error result, which parseCommand returns. Strings must be well-formed Unicode: msgpackr writes
 * a lone surrogate as bytes that decoders may read back differently (JS fallback vs native
 * addon), which would let replicas disagree, so none is ever accepted.
 */
import { type KvErrorCode, type KvErrorResult, kvError } from './kv-errors.ts';
import { checkKey, checkLeaseId } from './limits.ts';

/** Thrown by the parsers; parseCommand turns it into an error result. */
export class ParseError extends Error {
  constructor(readonly result: KvErrorResult) {
    super(result.error.message);
  }
}

export type Fields = Readonly<Record<string, unknown>>;

export function fail(code: KvErrorCode, message: string): never {
  throw new ParseError(kvError(code, message));
}

export function check(error: KvErrorResult | null): void {
  if (error !== null) throw new ParseError(error);
}

export function record(value: unknown, path: string, allowed: readonly string[]): Fields {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail('invalid_argument', `${path}: expected an object`);
  }
  const prototype: unknown = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) {
    fail('invalid_argument', `${path}: expected a plain object`);
  }
  for (const field of Object.keys(value)) {
    if (!allowed.includes(field)) fail('invalid_argument', `${path}: unknown field ${JSON.stringify(field)}`);
  }
  return value as Fields;
}

// A lone surrogate: with the u flag a well-formed pair is one code point and does not match.
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

export function string(value: unknown, path: string): string {
  if (typeof value !== 'string') fail('invalid_argument', `${path}: expected a string`);
  if (LONE_SURROGATE.test(value)) fail('invalid_argument', `${path}: not well-formed Unicode`);
  return value;
}

export function count(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    fail('invalid_argument', `${path}: expected a non-negative integer`);
  }
  return value;
}

export function array(value: unknown, path: string, max: number): readonly unknown[] {
  if (!Array.isArray(value)) fail('invalid_argument', `${path}: expected an array`);
  if (value.length > max) fail('invalid_argument', `${path}: at most ${max} entries`);
  return value;
}

export function key(value: unknown, path: string): string {
  const parsed = string(value, path);
  check(checkKey(parsed, path));
  return parsed;
}

export function leaseId(value: unknown, path: string): string {
  const parsed = string(value, path);
  check(checkLeaseId(parsed, path));
  return parsed;
}

/** `{ name: parsed }`, or `{}` when the field is absent (exactOptionalPropertyTypes: no undefined). */
export function optional<N extends string, T>(
  fields: Fields,
  name: N,
  parse: (value: unknown, path: string) => T,
  path: string,
): { [K in N]?: T } {
  const value = fields[name];
  return (value === undefined ? {} : { [name]: parse(value, `${path}.${name}`) }) as { [K in N]?: T };
}

export function flag(value: unknown, path: string): boolean {
  if (typeof value !== 'boolean') fail('invalid_argument', `${path}: expected a boolean`);
  return value;
}
