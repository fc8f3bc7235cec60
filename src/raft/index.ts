/** The pure Raft core: no clock, no randomness of its own, no I/O. */
export { RaftNode } from './raft-node.ts';
export type { ProposeResult, RaftEvent, ReadIndexResult, TransferResult } from './raft-node.ts';
export { DEFAULT_RAFT_CONFIG, validateRaftConfig } from './config.ts';
export type { RaftConfig } from './config.ts';
export type { Ready } from './ready.ts';
export type { Message, MessageType, RaftMessage, HostMessage } from './messages.ts';
export * from './types.ts';
