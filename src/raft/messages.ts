/**
 * The messages Raft nodes exchange: a discriminated union of plain objects, one interface
 * per RPC, so a transport can encode them with msgpackr and a simulator can inspect them.
 */
import type { Entry, LogIndex, NodeId, SnapshotMeta, Term } from './types.ts';

interface Envelope {
  readonly from: NodeId;
  readonly to: NodeId;
  /** The sender's term (for PreVote: the term the sender would campaign in). */
  readonly term: Term;
}

/** Would you vote for me if I campaigned? Sent without incrementing the sender's term. */
export interface PreVoteRequest extends Envelope {
  readonly type: 'pre-vote';
  readonly lastLogIndex: LogIndex;
  readonly lastLogTerm: Term;
}

export interface VoteRequest extends Envelope {
  readonly type: 'vote';
  readonly lastLogIndex: LogIndex;
  readonly lastLogTerm: Term;
  /** Set by a leadership transfer: voters ignore their leader lease for it. */
  readonly transfer: boolean;
}

export interface VoteResponse extends Envelope {
  readonly type: 'vote-response' | 'pre-vote-response';
  readonly granted: boolean;
}

export interface AppendRequest extends Envelope {
  readonly type: 'append';
  readonly prevLogIndex: LogIndex;
  readonly prevLogTerm: Term;
  readonly entries: readonly Entry[];
  readonly commit: LogIndex;
  /**
   * Entry-less, to a follower the leader streams to (replicate state): it only carries a new
   * commit index. The follower answers it only with a rejection; an acceptance would tell the
   * leader nothing (its match index moves only with entries), and answering every commit would
   * double the messages of each write.
   */
  readonly commitOnly: boolean;
}

export interface AppendResponse extends Envelope {
  readonly type: 'append-response';
  readonly success: boolean;
  /** On success: the last index now known to match the leader's log. */
  readonly matchIndex: LogIndex;
  /** On rejection: the index the leader's probe was at. */
  readonly rejectedIndex: LogIndex;
  /**
   * On rejection, for fast backtracking: the follower's term at `conflictIndex`, and the first
   * index of that term in its log (or its last index + 1 and term 0 when its log is too short).
   */
  readonly conflictTerm: Term;
  readonly conflictIndex: LogIndex;
}

export interface HeartbeatRequest extends Envelope {
  readonly type: 'heartbeat';
  /** min(leader commit, follower match): never ahead of what the follower is known to hold. */
  readonly commit: LogIndex;
  /** The ReadIndex round this heartbeat confirms leadership for ('' when none). */
  readonly readContext: string;
}

export interface HeartbeatResponse extends Envelope {
  readonly type: 'heartbeat-response';
  readonly readContext: string;
}

/** One chunk of a snapshot; chunks are sent one at a time and acknowledged by offset. */
export interface SnapshotChunk extends Envelope {
  readonly type: 'snapshot';
  readonly meta: SnapshotMeta;
  readonly offset: number;
  readonly totalBytes: number;
  readonly data: Uint8Array;
}

export interface SnapshotResponse extends Envelope {
  readonly type: 'snapshot-response';
  readonly snapshotIndex: LogIndex;
  /** The next byte offset the follower expects; equals totalBytes once installed and durable. */
  readonly nextOffset: number;
  readonly installed: boolean;
}

/** A leadership transfer's final step: campaign now, without waiting for a timeout. */
export interface TimeoutNow extends Envelope {
  readonly type: 'timeout-now';
}

/** A follower asks the leader for a read index on behalf of its own clients. */
export interface ReadIndexRequest extends Envelope {
  readonly type: 'read-index';
  readonly readContext: string;
}

export interface ReadIndexResponse extends Envelope {
  readonly type: 'read-index-response';
  readonly readContext: string;
  /** The leader's confirmed commit index, or 0 when the leader could not serve it. */
  readonly index: LogIndex;
}

/** A client's command, proposed on a follower and sent to the leader to append. */
export interface ForwardedProposal {
  /** The sender's number for it (unique per sender while it waits), to match the answer. */
  readonly id: number;
  readonly data: Uint8Array;
}

/**
 * Proposals a follower forwards to the leader it knows (as etcd's MsgProp): the leader appends
 * each like its own and answers where it put them. Not a Raft message: the node host (src/node)
 * handles both directions and the Raft core never sees them, so `term` is only the sender's
 * term, for the record.
 */
export interface ForwardProposalsRequest extends Envelope {
  readonly type: 'forward-proposals';
  readonly proposals: readonly ForwardedProposal[];
}

/**
 * Where the leader put each forwarded proposal: `indexes[i]` answers `ids[i]`, with 0 for one it
 * did not append (it does not lead, or is overloaded or transferring leadership). An appended
 * proposal's entry has this message's `term`; the follower learns its outcome by applying that
 * index itself, as it applies every entry.
 */
export interface ForwardProposalsResponse extends Envelope {
  readonly type: 'forward-proposals-response';
  readonly ids: readonly number[];
  readonly indexes: readonly LogIndex[];
}

/** A client's lease keepalive, made on a follower and sent to the leader, where countdowns run. */
export interface ForwardedKeepalive {
  /** The sender's number for it (unique per sender while it waits), to match the answer. */
  readonly id: number;
  readonly lease: string;
}

/**
 * Lease keepalives a follower forwards to the leader it knows (etcd forwards LeaseKeepAlive to
 * its leader too). The leader renews them as its own clients' (src/node/kv-node.ts renewLease:
 * a read barrier, then the countdown restarts) and answers once for the whole message. Like
 * forward-proposals, handled by the KV node, never by the Raft core.
 */
export interface ForwardKeepalivesRequest extends Envelope {
  readonly type: 'forward-keepalives';
  readonly keepalives: readonly ForwardedKeepalive[];
}

/**
 * The leader's answers: `ttls[i]` answers `ids[i]` with the TTL it granted from now, or 0 when
 * it knows no such lease (or its expiry is already proposed). `leading` false: the sender could
 * not confirm it leads, and renewed nothing.
 */
export interface ForwardKeepalivesResponse extends Envelope {
  readonly type: 'forward-keepalives-response';
  readonly leading: boolean;
  readonly ids: readonly number[];
  readonly ttls: readonly number[];
}

/** Messages between node hosts that are not part of the Raft protocol. */
export type HostMessage = ForwardProposalsRequest | ForwardProposalsResponse;

/** Messages between KV nodes (src/node/kv-node.ts): neither Raft's nor the node host's. */
export type KvNodeMessage = ForwardKeepalivesRequest | ForwardKeepalivesResponse;

export type RaftMessage =
  | PreVoteRequest
  | VoteRequest
  | VoteResponse
  | AppendRequest
  | AppendResponse
  | HeartbeatRequest
  | HeartbeatResponse
  | SnapshotChunk
  | SnapshotResponse
  | TimeoutNow
  | ReadIndexRequest
  | ReadIndexResponse;

/** Everything a Transport carries. */
export type Message = RaftMessage | HostMessage | KvNodeMessage;

export type MessageType = Message['type'];

export function isHostMessage(message: Message): message is HostMessage {
  return message.type === 'forward-proposals' || message.type === 'forward-proposals-response';
}

export function isKvNodeMessage(message: Message): message is KvNodeMessage {
  return message.type === 'forward-keepalives' || message.type === 'forward-keepalives-response';
}
