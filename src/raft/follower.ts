/**
 * The follower's side of Raft: accepting appends (with the conflict hints that let the leader
 * back up fast), heartbeats, snapshot chunks (assembled in order, installed once complete),
 * and answers to the ReadIndex requests it forwarded.
 */
import { assert } from '../common/assert.ts';
import type {
  AppendRequest,
  HeartbeatRequest,
  ReadIndexResponse,
  SnapshotChunk,
} from './messages.ts';
import type { RaftNode } from './raft-node.ts';

/** A snapshot being received chunk by chunk. */
export interface IncomingSnapshot {
  readonly chunk: SnapshotChunk;
  readonly buffer: Uint8Array;
  received: number;
}

export function handleFromLeader(node: RaftNode, message: AppendRequest | HeartbeatRequest | SnapshotChunk): void {
  if (node.role === 'leader') {
    assert(false, () => `two leaders in term ${node.term}: ${node.id} and ${message.from}`);
  }
  if (node.role !== 'follower' || node.lead !== message.from) node.becomeFollower(node.term, message.from);
  node.electionElapsed = 0;
  if (message.type === 'append') handleAppend(node, message);
  else if (message.type === 'heartbeat') handleHeartbeat(node, message);
  else handleSnapshotChunk(node, message);
}

function handleAppend(node: RaftNode, request: AppendRequest): void {
  const reply = { type: 'append-response' as const, from: node.id, to: request.from, term: node.term };
  if (request.prevLogIndex < node.log.commitIndex) {
    // Everything up to our commit index already matches: tell the leader where to continue.
    if (request.commitOnly) return;
    node.send({ ...reply, success: true, matchIndex: node.log.commitIndex, rejectedIndex: 0, conflictTerm: 0, conflictIndex: 0 });
    return;
  }
  const lastNew = node.log.tryAppend(request.prevLogIndex, request.prevLogTerm, request.entries);
  if (lastNew !== null) {
    node.log.commitTo(Math.min(request.commit, lastNew));
    if (request.commitOnly) return;
    node.send({ ...reply, success: true, matchIndex: lastNew, rejectedIndex: 0, conflictTerm: 0, conflictIndex: 0 });
    return;
  }
  node.observe('append-rejected');
  const tooShort = request.prevLogIndex > node.log.lastIndex();
  const conflictTerm = tooShort ? 0 : (node.log.term(request.prevLogIndex) ?? 0);
  const conflictIndex = tooShort ? node.log.lastIndex() + 1 : node.log.firstIndexOfTermAt(request.prevLogIndex);
  node.send({
    ...reply,
    success: false,
    matchIndex: 0,
    rejectedIndex: request.prevLogIndex,
    conflictTerm,
    conflictIndex: Math.max(conflictIndex, node.log.commitIndex + 1),
  });
}

function handleHeartbeat(node: RaftNode, request: HeartbeatRequest): void {
  // The leader sends min(its commit, our match), so this never commits what we do not hold.
  if (request.commit <= node.log.lastIndex()) node.log.commitTo(request.commit);
  node.send({ type: 'heartbeat-response', from: node.id, to: request.from, term: node.term, readContext: request.readContext });
}

function handleSnapshotChunk(node: RaftNode, chunk: SnapshotChunk): void {
  const { meta } = chunk;
  const reply = { type: 'snapshot-response' as const, from: node.id, to: chunk.from, term: node.term, snapshotIndex: meta.index };
  if (meta.index <= node.log.commitIndex) {
    node.incomingSnapshot = null;
    node.send({ ...reply, nextOffset: chunk.totalBytes, installed: true });
    return;
  }
  const incoming = acceptChunk(node, chunk);
  if (incoming === null || incoming.received < chunk.totalBytes) {
    node.send({ ...reply, nextOffset: incoming?.received ?? 0, installed: false });
    return;
  }
  node.incomingSnapshot = null;
  if (node.log.matchTerm(meta.index, meta.term)) {
    // We already hold the entry the snapshot ends at: it is committed, keep our log.
    node.log.commitTo(meta.index);
  } else {
    node.log.restore(meta);
    node.snapshot = { meta, data: incoming.buffer };
    node.receivedSnapshot = node.snapshot;
    node.observe('snapshot-installed');
  }
  node.send({ ...reply, nextOffset: chunk.totalBytes, installed: true });
}

/** Adds a chunk to the snapshot being received; null when it is out of order. */
function acceptChunk(node: RaftNode, chunk: SnapshotChunk): IncomingSnapshot | null {
  if (chunk.offset === 0) {
    node.incomingSnapshot = { chunk, buffer: new Uint8Array(chunk.totalBytes), received: 0 };
  }
  const incoming = node.incomingSnapshot;
  if (incoming === null) return null;
  const sameSnapshot =
    incoming.chunk.meta.index === chunk.meta.index &&
    incoming.chunk.meta.term === chunk.meta.term &&
    incoming.chunk.totalBytes === chunk.totalBytes;
  if (!sameSnapshot || chunk.offset !== incoming.received) return sameSnapshot ? incoming : null;
  assert(chunk.offset + chunk.data.byteLength <= chunk.totalBytes, 'snapshot chunk past its total size');
  incoming.buffer.set(chunk.data, chunk.offset);
  incoming.received += chunk.data.byteLength;
  return incoming;
}

export function handleReadIndexResponse(node: RaftNode, response: ReadIndexResponse): void {
  if (!node.readsForwarded.delete(response.readContext)) return;
  if (response.index === 0) node.droppedReads.push(response.readContext);
  else node.readConfirmed(response.readContext, response.index);
}
