/**
 * Tunables of the Raft core, in ticks and counts (the core knows no milliseconds). Validated
 * together, as hashicorp/raft's ValidateConfig does, because some only make sense in relation.
 */
import type { NodeId } from './types.ts';

export interface RaftConfig {
  readonly id: NodeId;
  /** Base election timeout; each timeout is drawn from [electionTicks, 2 × electionTicks). */
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly maxEntriesPerAppend: number;
  readonly maxBytesPerAppend: number;
  /** Appends in flight to one follower before the leader waits for acknowledgements. */
  readonly maxInflightAppends: number;
  /** Proposals beyond this many uncommitted entries are refused as overloaded. */
  readonly maxUncommittedEntries: number;
  readonly maxPendingReads: number;
  readonly maxApplyEntriesPerReady: number;
  readonly snapshotChunkBytes: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
}

export const DEFAULT_RAFT_CONFIG: Omit<RaftConfig, 'id'> = {
  electionTicks: 10,
  heartbeatTicks: 1,
  maxEntriesPerAppend: 512,
  maxBytesPerAppend: 1024 * 1024,
  maxInflightAppends: 64,
  maxUncommittedEntries: 100_000,
  maxPendingReads: 10_000,
  maxApplyEntriesPerReady: 4096,
  snapshotChunkBytes: 256 * 1024,
  preVote: true,
  checkQuorum: true,
};

/** Returns the problems with a configuration (empty when it is valid). */
export function validateRaftConfig(config: RaftConfig): string[] {
  const problems: string[] = [];
  const positive: (keyof RaftConfig)[] = [
    'electionTicks',
    'heartbeatTicks',
    'maxEntriesPerAppend',
    'maxBytesPerAppend',
    'maxInflightAppends',
    'maxUncommittedEntries',
    'maxPendingReads',
    'maxApplyEntriesPerReady',
    'snapshotChunkBytes',
  ];
  for (const key of positive) {
    const value = config[key];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
      problems.push(`${key} must be a positive integer`);
    }
  }
  if (config.id === '') problems.push('id must not be empty');
  if (config.heartbeatTicks >= config.electionTicks) {
    problems.push('heartbeatTicks must be below electionTicks, or followers time out between heartbeats');
  }
  return problems;
}
