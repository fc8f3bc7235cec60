/**
 * Locks and elections as replicated state: the rules (lock-table.ts, over the records of
 * lock-record.ts and the lease index of lease-refs.ts), their bounds (limits.ts) and their
 * snapshot form (lock-state-codec.ts). Pure like src/kv, which applies them.
 */
export * from './types.ts';
export * from './limits.ts';
export * from './lock-table.ts';
export type { LockRecordState } from './lock-record.ts';
export { lockStateFromWire, lockStateToWire, type Corrupt, type LockStateWire } from './lock-state-codec.ts';
