/**
 * The data the Raft core works on: log entries, hard state, configurations and snapshots.
 * Plain objects only, so they cross the storage and transport boundaries unchanged.
 */

/** A member's id, unique within a cluster. */
export type NodeId = string;
/** A Raft term: increases monotonically; 0 means "before any election". */
export type Term = number;
/** A position in the replicated log; the first entry has index 1, 0 means "none". */
export type LogIndex = number;

/** The absence of a node (no vote cast, no known leader). */
export const NO_NODE: NodeId = '';

/**
 * `normal` carries application data; `noop` is the empty entry every new leader appends so
 * that entries of earlier terms become committed; `config` carries a membership change (see
 * membership.ts), which takes effect as soon as it is in a node's log.
 */
export type EntryType = 'normal' | 'noop' | 'config';

export interface Entry {
  readonly term: Term;
  readonly index: LogIndex;
  readonly type: EntryType;
  readonly data: Uint8Array;
}

/** What must be durable before any message that depends on it leaves the node. */
export interface HardState {
  readonly term: Term;
  readonly vote: NodeId;
  readonly commit: LogIndex;
}

/** Where a member is reached. Opaque to the core, which only carries it along with the ids. */
export interface MemberEndpoints {
  /** host:port other members dial for Raft traffic. */
  readonly peerAddress: string;
  /** The member's client (HTTP) URL; '' when not known. */
  readonly clientUrl: string;
}

/** Membership: voters decide; learners receive the log but never vote or count. */
export interface ClusterConfig {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
  /**
   * Addresses of members, replicated with the configuration so that every node (and a node
   * restarting from its log) can reach members added after it started. Absent or partial for
   * a cluster bootstrapped from flags: the node layer fills the gaps from --initial-cluster.
   */
  readonly endpoints?: Readonly<Record<NodeId, MemberEndpoints>>;
}

export interface SnapshotMeta {
  /** The last log index the snapshot covers. */
  readonly index: LogIndex;
  /** The term of the entry at `index`. */
  readonly term: Term;
  /** The configuration in effect at `index`. */
  readonly config: ClusterConfig;
}

export interface Snapshot {
  readonly meta: SnapshotMeta;
  /** The application's serialized state machine, opaque to Raft. */
  readonly data: Uint8Array;
}

export type Role = 'follower' | 'pre-candidate' | 'candidate' | 'leader';

/** Volatile state that the driver may want to observe (who leads, and our role). */
export interface SoftState {
  readonly leader: NodeId;
  readonly role: Role;
}

/** A read that is now safe to serve from the local state machine. */
export interface ReadState {
  /** The caller's context passed to readIndex(). */
  readonly context: string;
  /** The commit index the read must observe; the core releases it only once applied ≥ index. */
  readonly index: LogIndex;
}

/** The state a node restarts from, as loaded from storage. */
export interface PersistedState {
  readonly hardState: HardState;
  readonly snapshot: Snapshot | null;
  /** Every entry after the snapshot, in order, contiguous. */
  readonly entries: readonly Entry[];
}

export const EMPTY_HARD_STATE: HardState = { term: 0, vote: NO_NODE, commit: 0 };
export const EMPTY_DATA: Uint8Array = new Uint8Array(0);

export function hardStateEqual(left: HardState, right: HardState): boolean {
  return left.term === right.term && left.vote === right.vote && left.commit === right.commit;
}
