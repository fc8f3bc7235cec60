// A KV state machine driven through lock commands, the way a node drives it, with small helpers
// that return the results as plain records for expect().
import type { LockKind } from '../../src/lock/index.ts';
import type { KvApplyOutcome } from '../../src/kv/index.ts';
import { Harness } from '../kv/harness.ts';

type Result = Record<string, unknown>;

export interface AcquireOptions {
  readonly owner?: string;
  readonly lease?: string;
  readonly ttlMs?: number;
  readonly waiterId?: string;
  readonly lockDelayMs?: number;
  readonly kind?: LockKind;
  readonly value?: string;
}

export class LockHarness extends Harness {
  acquireOutcome(name: string, options: AcquireOptions = {}): KvApplyOutcome {
    const { kind = 'lock', owner = '', ...rest } = options;
    const lease = rest.lease === undefined && rest.ttlMs === undefined ? { ttlMs: 1000 } : {};
    return this.apply({ type: 'lockAcquire', kind, name, owner, ...lease, ...rest });
  }

  acquire(name: string, options: AcquireOptions = {}): Result {
    return this.acquireOutcome(name, options).result as unknown as Result;
  }

  /** Acquires and returns the token, failing the test if the lock was not granted. */
  token(name: string, options: AcquireOptions = {}): number {
    const result = this.acquire(name, options);
    if (result['status'] !== 'held') throw new Error(`not granted: ${JSON.stringify(result)}`);
    return result['token'] as number;
  }

  release(name: string, token: number, kind: LockKind = 'lock'): Result {
    return this.run({ type: 'lockRelease', kind, name, token });
  }

  withdraw(name: string, waiterId: string, releaseIfHolding = false): Result {
    return this.run({ type: 'lockWithdraw', kind: 'lock', name, waiterId, releaseIfHolding });
  }

  expire(lease: string): KvApplyOutcome {
    return this.apply({ type: 'leaseExpire', id: lease });
  }

  holderToken(name: string, kind: LockKind = 'lock'): number | null {
    return this.machine.locks.holder(kind, name)?.token ?? null;
  }

  holderOwner(name: string): string | null {
    return this.machine.locks.holder('lock', name)?.owner ?? null;
  }
}

export function errorCode(result: Result): string | undefined {
  const error = result['error'] as { code?: string } | undefined;
  return error?.code;
}
