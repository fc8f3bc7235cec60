/**
 * The ordered map under the MVCC store: sorted-btree's B+ tree (a mature, typed, dependency-free
 * library), so get/put are O(log n) and a prefix range with a limit is O(log n + limit), where a
 * plain Map would sort every key for every range.
 *
 * sorted-btree is CommonJS with `exports.default`: Node's ESM loader hands us the exports object
 * as the default import, while vitest unwraps `__esModule` and hands us the class. Accept either.
 */
import sortedBtree from 'sorted-btree';

type BTreeClass = typeof sortedBtree.default;
export type SortedMap<K, V> = InstanceType<typeof sortedBtree.default<K, V>>;

const imported: unknown = sortedBtree;
const BTree: BTreeClass = typeof imported === 'function' ? (imported as BTreeClass) : sortedBtree.default;

/**
 * Keys order by UTF-16 code units (JavaScript's `<`), the same on every replica. That equals
 * UTF-8 byte order except between astral characters and U+E000..U+FFFF; prefixes are unaffected.
 */
function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function newSortedStringMap<V>(): SortedMap<string, V> {
  return new BTree<string, V>(undefined, compareStrings);
}
