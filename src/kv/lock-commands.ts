/**
 * The lock and election commands of the KV state machine and their results (the rules are in
 * src/lock). An election is a lock with a value, so one set of commands serves both; `kind` says
 * which namespace a name is in.
 */
import type { ElectionLeader, LockKind } from '../lock/index.ts';

/** The holder a fenced write names: it applies only while this token holds the lock. */
export interface LockFence {
  readonly kind: LockKind;
  readonly name: string;
  readonly token: number;
}

/**
 * Acquire a lock, or campaign in an election. Exactly one of `lease` (an existing lease) and
 * `ttlMs` (a lease granted with the lock, revoked on release). With `waiterId`, a request that
 * cannot have the lock now waits in line under that id (the node wakes it by that id); without,
 * it tries once.
 */
export interface LockAcquireCommand {
  readonly type: 'lockAcquire';
  readonly kind: LockKind;
  readonly name: string;
  readonly owner: string;
  readonly lease?: string;
  readonly ttlMs?: number;
  readonly lockDelayMs?: number;
  readonly waiterId?: string;
  /** Elections: the value to proclaim once elected. */
  readonly value?: string;
}

export interface LockReleaseCommand {
  readonly type: 'lockRelease';
  readonly kind: LockKind;
  readonly name: string;
  readonly token: number;
}

/** A waiting request ended (its wait ran out, its client went away): it leaves the queue. */
export interface LockWithdrawCommand {
  readonly type: 'lockWithdraw';
  readonly kind: LockKind;
  readonly name: string;
  readonly waiterId: string;
  /** If the waiter was granted meanwhile, release that holding (its client is gone). */
  readonly releaseIfHolding?: boolean;
}

export interface ElectionProclaimCommand {
  readonly type: 'electionProclaim';
  readonly name: string;
  readonly token: number;
  readonly value: string;
}

/** Proposed by the leader when its countdown of the lock-delay of holding `token` ran out. */
export interface LockDelayEndCommand {
  readonly type: 'lockDelayEnd';
  readonly kind: LockKind;
  readonly name: string;
  readonly token: number;
}

export type LockCommandBody =
  | LockAcquireCommand
  | LockReleaseCommand
  | LockWithdrawCommand
  | ElectionProclaimCommand
  | LockDelayEndCommand;

/** A holding as the contract shows it. */
export interface LockGrant {
  readonly name: string;
  readonly token: number;
  readonly lease: string;
  readonly owner: string;
  readonly value?: string;
}

export type LockAcquireResult =
  | (LockGrant & { readonly status: 'held'; readonly revision: number })
  | {
      readonly status: 'queued';
      readonly name: string;
      /** 1 = next in line. */
      readonly position: number;
      readonly revision: number;
    };

export interface LockReleaseResult {
  readonly revision: number;
}

export type LockWithdrawResult =
  | { readonly status: 'withdrawn' | 'absent' | 'released'; readonly revision: number }
  | (LockGrant & { readonly status: 'holding'; readonly revision: number });

export interface ElectionProclaimResult {
  readonly revision: number;
  readonly leader: ElectionLeader;
}

export interface LockDelayEndResult {
  readonly revision: number;
  /** False when the delay had already ended (a repeated or stale end). */
  readonly ended: boolean;
}

export interface LockResultByType {
  readonly lockAcquire: LockAcquireResult;
  readonly lockRelease: LockReleaseResult;
  readonly lockWithdraw: LockWithdrawResult;
  readonly electionProclaim: ElectionProclaimResult;
  readonly lockDelayEnd: LockDelayEndResult;
}
