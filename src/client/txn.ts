/**
 * The transaction builder: guards, then the operations of the branch that runs, applied
 * atomically at one revision.
 *
 *   const result = await concord.kv.txn()
 *     .compare('config/db', 'version', '==', 0)
 *     .success(Op.put('config/db', 'postgres://db'))
 *     .failure(Op.get('config/db'))
 *     .commit();
 *
 * Guards may also test who holds a lock: `.compareLockToken('db', '==', lock.token)`.
 */
import type { ClientCore } from './core.ts';
import { defined, leaseIdOf, type Fence, type KeyValue, type LeaseRef, type WriteOptions } from './types.ts';

export type CompareOperator = '==' | '!=' | '<' | '>';
export type CompareTarget = 'value' | 'lease' | 'version' | 'createRevision' | 'modRevision';

/** A guard on a key. */
export type Compare =
  | { readonly key: string; readonly target: 'value' | 'lease'; readonly op: CompareOperator; readonly value: string }
  | { readonly key: string; readonly target: 'version' | 'createRevision' | 'modRevision'; readonly op: CompareOperator; readonly value: number };

/** A guard on the token of a lock's holder (or an election's leader) when the txn applies; 0 when there is none. */
export type LockCompare =
  | { readonly lock: string; readonly target: 'token'; readonly op: CompareOperator; readonly value: number }
  | { readonly election: string; readonly target: 'token'; readonly op: CompareOperator; readonly value: number };

export type TxnOp =
  | { readonly put: { readonly key: string; readonly value: string; readonly lease?: string } }
  | { readonly get: { readonly key: string } }
  | { readonly delete: { readonly key: string } }
  | { readonly range: { readonly prefix: string; readonly limit?: number } };

export type TxnOpResult =
  | { readonly put: { readonly revision: number } }
  | { readonly get: { readonly kv: KeyValue | null } }
  | { readonly delete: { readonly deleted: number } }
  | { readonly range: { readonly items: readonly KeyValue[]; readonly more: boolean } };

export interface TxnResult {
  readonly succeeded: boolean;
  readonly revision: number;
  /** One per op of the branch that ran, in order. */
  readonly results: readonly TxnOpResult[];
}

/** Constructors of txn operations. */
export const Op = {
  put(key: string, value: string, options: { lease?: LeaseRef } = {}): TxnOp {
    return { put: { key, value, ...(options.lease === undefined ? {} : { lease: leaseIdOf(options.lease) }) } };
  },
  get(key: string): TxnOp {
    return { get: { key } };
  },
  delete(key: string): TxnOp {
    return { delete: { key } };
  },
  range(prefix: string, limit?: number): TxnOp {
    return { range: { prefix, ...(limit === undefined ? {} : { limit }) } };
  },
};

export class TxnBuilder {
  private readonly compares: (Compare | LockCompare)[] = [];
  private readonly successOps: TxnOp[] = [];
  private readonly failureOps: TxnOp[] = [];
  private fenceRef: Fence | undefined;

  constructor(private readonly core: ClientCore) {}

  /** Adds a guard; all guards must hold for the success branch to run. */
  compare(key: string, target: 'value' | 'lease', op: CompareOperator, value: string): this;
  compare(key: string, target: 'version' | 'createRevision' | 'modRevision', op: CompareOperator, value: number): this;
  compare(key: string, target: CompareTarget, op: CompareOperator, value: string | number): this {
    this.compares.push({ key, target, op, value } as Compare);
    return this;
  }

  /**
   * Adds a guard on the token of lock `name`'s current holder (0 when free):
   * `.compareLockToken(name, '==', lock.token)` runs the success branch only while that holding
   * lasts, and the failure branch otherwise (where `fence` would fail the whole txn).
   */
  compareLockToken(name: string, op: CompareOperator, token: number): this {
    this.compares.push({ lock: name, target: 'token', op, value: token });
    return this;
  }

  /** As compareLockToken, on the token of election `name`'s leader (0 when it has none). */
  compareElectionToken(name: string, op: CompareOperator, token: number): this {
    this.compares.push({ election: name, target: 'token', op, value: token });
    return this;
  }

  success(...ops: TxnOp[]): this {
    this.successOps.push(...ops);
    return this;
  }

  failure(...ops: TxnOp[]): this {
    this.failureOps.push(...ops);
    return this;
  }

  /** Applies only while this lock (or election) token holds; else ConcordError stale_token. */
  fence(fence: Fence): this {
    this.fenceRef = fence;
    return this;
  }

  /** The request body as the contract has it. */
  toJSON(): Record<string, unknown> {
    return {
      compare: this.compares,
      success: this.successOps,
      failure: this.failureOps,
      ...(this.fenceRef === undefined ? {} : { fence: this.fenceRef }),
    };
  }

  async commit(options: WriteOptions = {}): Promise<TxnResult> {
    const answer = await this.core.call<TxnResult>({
      method: 'POST',
      path: '/v1/txn',
      body: this.toJSON(),
      ...defined({ signal: options.signal, timeoutMs: options.timeoutMs, idempotencyKey: options.idempotencyKey }),
    });
    return answer.body;
  }
}
