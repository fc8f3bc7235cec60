/**
 * The ordered map under the MVCC store: sorted-btree's B+ tree (a mature, typed, dependency-free
 * library), so a prefix range with a limit is O(log n + limit), where a plain Map would sort
 * every key for every range. (Point lookups do not come here: MvccStore keeps a hash Map beside
 * the tree for them, and the tree only for what needs order.)
 *
 * sorted-btree is CommonJS with `exports.default`: Node's ESM loader hands us the exports object
 * as the default import, while vitest unwraps `__esModule` and hands us the class. Accept either.
 * Its `extended/bulkLoad` module (an O(n) build from sorted keys) is CommonJS with a named
 * export, which both loaders expose on the namespace.
 */
import sortedBtree from 'sorted-btree';
import * as bulkLoadModule from 'sorted-btree/extended/bulkLoad.js';

type BTreeClass = typeof sortedBtree.default;
export type SortedMap<K, V> = InstanceType<typeof sortedBtree.default<K, V>>;

const imported: unknown = sortedBtree;
const BTree: BTreeClass = typeof imported === 'function' ? (imported as BTreeClass) : sortedBtree.default;

/** sorted-btree's default branching factor: the same tree shape whichever way it was built. */
const MAX_NODE_SIZE = 32;

/**
 * Keys order by UTF-16 code units (JavaScript's `<`), the same on every replica. That equals
 * UTF-8 byte order except between astral characters and U+E000..U+FFFF; prefixes are unaffected.
 */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function newSortedStringMap<V>(): SortedMap<string, V> {
  return new BTree<string, V>(undefined, compareStrings, MAX_NODE_SIZE);
}

/**
 * A map built in O(n) from `keys` in strictly ascending order (compareStrings) and their
 * `values`, index for index. The caller checks the order: the library throws otherwise.
 */
export function sortedStringMapFromSorted<V>(keys: string[], values: V[]): SortedMap<string, V> {
  return bulkLoadModule.bulkLoad<string, V>(keys, values, MAX_NODE_SIZE, compareStrings);
}
