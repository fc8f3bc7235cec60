/**
 * NodeHost's API types: what a proposal, a membership change and a read barrier come back with,
 * the hooks a host calls, and the options it is built from (node-host.ts).
 */
import type { Clock } from '../common/clock.ts';
import type { Random } from '../common/random.ts';
import type { RaftConfig } from '../raft/config.ts';
import type { ConfChangeRefusal } from '../raft/membership.ts';
import type { RaftEvent, RaftFactory } from '../raft/raft-node.ts';
import type { ClusterConfig, Entry, LogIndex, NodeId, PersistedState, SoftState, Term } from '../raft/types.ts';
import type { Storage } from '../storage/storage.ts';
import type { StateMachine } from './state-machine.ts';
import type { Transport } from './transport.ts';

/** Why a proposal or read did not succeed. */
export type FailureCode = 'not_leader' | 'overloaded' | 'superseded' | 'unavailable';

export type ProposalOutcome<Result> =
  | { readonly ok: true; readonly index: LogIndex; readonly result: Result }
  | {
      readonly ok: false;
      readonly code: FailureCode;
      readonly leaderHint: NodeId;
      /** False only when the proposal certainly never applies (safe to retry elsewhere). */
      readonly mayHaveApplied: boolean;
    };

export type ConfChangeOutcome =
  | { readonly ok: true; readonly index: LogIndex; readonly config: ClusterConfig }
  | {
      readonly ok: false;
      readonly code: FailureCode | ConfChangeRefusal;
      readonly leaderHint: NodeId;
      /** False only when the change certainly never takes effect. */
      readonly mayHaveApplied: boolean;
    };

export type ReadOutcome =
  | { readonly ok: true; readonly appliedIndex: LogIndex }
  | { readonly ok: false; readonly code: FailureCode; readonly leaderHint: NodeId };

export interface NodeHostHooks<Result> {
  /** After each entry is applied (result null for no-op and config entries). */
  applied?(entry: Entry, result: Result | null): void;
  /** The local state machine was replaced by a snapshot from the leader. */
  restored?(index: LogIndex): void;
  /** Role or leader changed. */
  softStateChanged?(softState: SoftState, term: Term): void;
  raftEvent?(event: RaftEvent): void;
  /** A storage write failed: the node has stopped. */
  fatal?(error: Error): void;
  /**
   * The configuration in effect changed (a config entry was appended, rolled back, or arrived
   * in a snapshot), it became committed, or the leader we follow changed; called before any
   * message of the Ready that follows is sent: the place to tell the transport whom to dial
   * (src/node/peer-set.ts).
   */
  membershipChanged?(config: ClusterConfig, committed: boolean, leader: NodeId): void;
}

export interface NodeHostOptions<Result> {
  readonly raftConfig: RaftConfig;
  readonly bootstrap: ClusterConfig;
  readonly persisted: PersistedState;
  readonly random: Random;
  readonly clock: Clock;
  readonly transport: Transport;
  readonly storage: Storage;
  readonly stateMachine: StateMachine<Result>;
  readonly tickMs: number;
  /** Compact the log once this many entries were applied since the last snapshot. */
  readonly snapshotEveryEntries: number;
  /**
   * Also compact once the entries applied since the last snapshot carry this many bytes of data
   * (absent: no byte bound). The entry count alone lets the log (in memory and on disk) grow
   * with the values: 10,000 entries of 1 MiB values would be 10 GiB.
   */
  readonly snapshotEveryBytes?: number;
  /**
   * List elements of a snapshot encoded or restored per turn when the state machine works in
   * slices (default 2,000: a few milliseconds' work). The simulator sets it small, so that many
   * things happen while a snapshot is being encoded or restored.
   */
  readonly snapshotSliceElements?: number;
  /**
   * Simulator only: virtual milliseconds between those slices, standing for the time each takes,
   * so that messages and ticks come between them. Absent or 0: the next turn of the event loop.
   */
  readonly snapshotSliceDelayMs?: number;
  /** Proposals waiting to apply beyond this are refused as overloaded. */
  readonly maxPendingProposals: number;
  readonly maxPendingReads: number;
  readonly hooks?: NodeHostHooks<Result>;
  /** Builds the Raft node; tests substitute a subclass with one planted bug. */
  readonly makeRaft?: RaftFactory;
}
