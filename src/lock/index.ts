/**
 * Locks and elections as replicated state: the rules (lock-table.ts), their bounds (limits.ts)
 * and their snapshot form (lock-state-codec.ts). Pure like src/kv, which applies them.
 */
export * from './types.ts';
export * from './limits.ts';
export * from './lock-table.ts';
export { lockStateFromWire, lockStateToWire, type Corrupt, type LockStateWire } from './lock-state-codec.ts';
