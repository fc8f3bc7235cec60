/**
 * Keys the state machine keeps for its own records (the service registry's instances, and any
 * later layer built over the store) live in the same MVCC store as user keys, so they share its
 * one revision counter, its leases and its snapshots. They start with U+FFFF, which sorts after
 * every other UTF-16 code unit, so all of them sit at the end of the key space.
 *
 * Clients never see or touch them: a user key or prefix may not start with U+FFFF (limits.ts),
 * and the one user range that would reach them, the empty prefix ("all user keys"), has them
 * cut off here. Since they sort last, they can only ever be the tail of such a range.
 */

export const SYSTEM_KEY_PREFIX = '\uFFFF';

export function isSystemKey(key: string): boolean {
  return key.startsWith(SYSTEM_KEY_PREFIX);
}

interface KeyRange<T extends { readonly key: string }> {
  readonly items: readonly T[];
  readonly more: boolean;
}

interface RangeSource<T extends { readonly key: string }> {
  range(prefix: string, limit: number): KeyRange<T>;
}

/**
 * A range as a client may see it: system keys dropped unless the prefix asks for them. One key
 * beyond `limit` is read to tell whether more user keys follow (a system key next means none).
 */
export function userVisibleRange<T extends { readonly key: string }>(source: RangeSource<T>, prefix: string, limit: number): KeyRange<T> {
  if (isSystemKey(prefix)) return source.range(prefix, limit);
  const probe = source.range(prefix, limit === 0 ? 0 : limit + 1);
  const items = probe.items.filter((item) => !isSystemKey(item.key));
  if (limit === 0 || items.length <= limit) return { items, more: false };
  return { items: items.slice(0, limit), more: true };
}
