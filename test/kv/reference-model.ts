// The simplest possible KV with the contract's semantics: a Map, sorted on every read. The
// properties check the real state machine against it.
import type { KeyValue, KvCommandBody, TxnCompare, TxnKeyCompare, TxnOp } from '../../src/kv/index.ts';

type Result = Record<string, unknown>;

export class ReferenceKv {
  readonly kvs = new Map<string, KeyValue>();
  revision = 0;

  get(key: string): KeyValue | null {
    return this.kvs.get(key) ?? null;
  }

  range(prefix: string, limit: number): { items: KeyValue[]; more: boolean } {
    const all = [...this.kvs.keys()].filter((key) => key.startsWith(prefix)).sort();
    const shown = limit > 0 ? all.slice(0, limit) : all;
    return { items: shown.map((key) => this.kvs.get(key) as KeyValue), more: shown.length < all.length };
  }

  apply(body: KvCommandBody): Result {
    switch (body.type) {
      case 'put': {
        const guard = this.guard(body.key, body.ifRevision);
        if (guard !== null) return guard;
        const prev = this.kvs.get(body.key);
        this.write(this.revision + 1, { put: { key: body.key, value: body.value } });
        this.revision++;
        return body.prevKv === true && prev !== undefined ? { revision: this.revision, prev } : { revision: this.revision };
      }
      case 'delete': {
        const guard = this.guard(body.key, body.ifRevision);
        if (guard !== null) return guard;
        if (!this.kvs.has(body.key)) return { revision: this.revision, deleted: 0 };
        this.kvs.delete(body.key);
        return { revision: ++this.revision, deleted: 1 };
      }
      case 'deletePrefix': {
        const keys = [...this.kvs.keys()].filter((key) => key.startsWith(body.prefix));
        for (const key of keys) this.kvs.delete(key);
        if (keys.length > 0) this.revision++;
        return { revision: this.revision, deleted: keys.length };
      }
      case 'txn': {
        const succeeded = body.compare.every((compare) => this.holds(compare));
        const pending = this.revision + 1;
        let changed = false;
        const results = (succeeded ? body.success : body.failure).map((op) => {
          const [result, change] = this.write(pending, op);
          changed ||= change;
          return result;
        });
        if (changed) this.revision = pending;
        return { succeeded, revision: this.revision, results };
      }
      default:
        throw new Error(`the model has no ${body.type}`);
    }
  }

  private guard(key: string, ifRevision: number | undefined): Result | null {
    if (ifRevision === undefined) return null;
    const current = this.kvs.get(key);
    return (current?.modRevision ?? 0) === ifRevision ? null : { error: { code: 'compare_failed', current: current ?? null } };
  }

  private holds(compare: TxnCompare): boolean {
    if (!('key' in compare)) throw new Error('the model has no locks to compare tokens with');
    return this.keyHolds(compare);
  }

  private keyHolds(compare: TxnKeyCompare): boolean {
    const kv = this.kvs.get(compare.key);
    if (compare.target === 'value' && kv === undefined) return false;
    const actual =
      compare.target === 'value' ? kv?.value : compare.target === 'lease' ? (kv?.lease ?? '') : kv === undefined ? 0 : kv[compare.target];
    const expected = compare.value;
    if (compare.op === '==') return actual === expected;
    if (compare.op === '!=') return actual !== expected;
    return compare.op === '<' ? (actual as string | number) < expected : (actual as string | number) > expected;
  }

  /** Applies one op at revision `at`; returns its txn result and whether it changed anything. */
  private write(at: number, op: TxnOp): [Result, boolean] {
    if ('put' in op) {
      const prev = this.kvs.get(op.put.key);
      this.kvs.set(op.put.key, {
        key: op.put.key,
        value: op.put.value,
        createRevision: prev?.createRevision ?? at,
        modRevision: at,
        version: (prev?.version ?? 0) + 1,
      });
      return [{ put: { revision: at } }, true];
    }
    if ('delete' in op) {
      const existed = this.kvs.delete(op.delete.key);
      return [{ delete: { deleted: existed ? 1 : 0 } }, existed];
    }
    if ('get' in op) return [{ get: { kv: this.get(op.get.key) } }, false];
    return [{ range: this.range(op.range.prefix, op.range.limit ?? 0) }, false];
  }
}
