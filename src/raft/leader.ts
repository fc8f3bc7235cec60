/**
 * The leader's side of Raft: replicating the log (batched appends, a pipelined in-flight
 * window per follower, fast backtracking on rejection, snapshots for followers behind the
 * compacted log), heartbeats, ReadIndex rounds and the end of a leadership transfer.
 */
import { assert } from '../common/assert.ts';
import type {
  AppendResponse,
  HeartbeatResponse,
  ReadIndexRequest,
  SnapshotResponse,
} from './messages.ts';
import type { Progress } from './progress.ts';
import { hasQuorum } from './quorum.ts';
import type { RaftNode } from './raft-node.ts';
import type { LogIndex, NodeId } from './types.ts';

/** Resend a snapshot chunk after this many ticks without an answer. */
const SNAPSHOT_CHUNK_RESEND_TICKS = 3;

function progressOf(node: RaftNode, id: NodeId): Progress | undefined {
  return node.progress.get(id);
}

/**
 * Sends `to` the entries it lacks, as many as its window allows. Returns whether a message
 * left. `allowEmpty` sends an entry-less append (to carry a new commit index or probe).
 */
export function sendAppend(node: RaftNode, to: NodeId, allowEmpty: boolean): boolean {
  const progress = progressOf(node, to);
  if (progress === undefined || progress.isPaused()) return false;
  const log = node.log;
  const prevLogIndex = progress.next - 1;
  const prevLogTerm = log.term(prevLogIndex);
  if (prevLogTerm === undefined) {
    startSnapshot(node, to, progress);
    return false;
  }
  const last = log.lastIndex();
  const entries =
    progress.next <= last
      ? log.slice(progress.next, last, node.config.maxEntriesPerAppend, node.config.maxBytesPerAppend)
      : [];
  if (entries.length === 0 && !allowEmpty && progress.state === 'replicate') return false;
  node.send({
    type: 'append',
    from: node.id,
    to,
    term: node.term,
    prevLogIndex,
    prevLogTerm,
    entries,
    commit: log.commitIndex,
    commitOnly: entries.length === 0 && progress.state === 'replicate',
  });
  progress.sentAppend(prevLogIndex + entries.length, entries.length);
  return true;
}

/** Sends appends to every follower; each keeps sending while its window has room. */
export function broadcastAppend(node: RaftNode, allowEmpty: boolean): void {
  for (const id of node.progress.keys()) {
    let sentAny = sendAppend(node, id, allowEmpty);
    while (sentAny && progressOf(node, id)?.state === 'replicate') sentAny = sendAppend(node, id, false);
  }
}

export function broadcastHeartbeat(node: RaftNode, readContext: string): void {
  for (const [id, progress] of node.progress) {
    node.send({
      type: 'heartbeat',
      from: node.id,
      to: id,
      term: node.term,
      commit: Math.min(progress.match, node.log.commitIndex),
      readContext,
    });
  }
}

export function handleAppendResponse(node: RaftNode, response: AppendResponse): void {
  const progress = progressOf(node, response.from);
  if (progress === undefined) return;
  progress.recentActive = true;
  if (!response.success) {
    if (progress.maybeDecrease(response.rejectedIndex, backtrackHint(node, response))) {
      sendAppend(node, response.from, true);
    }
    return;
  }
  const wasPaused = progress.isPaused();
  if (!progress.maybeUpdate(response.matchIndex)) {
    if (wasPaused && !progress.isPaused()) fillWindow(node, response.from);
    return;
  }
  if (progress.state === 'probe') progress.becomeReplicate();
  else if (progress.state === 'snapshot' && progress.match >= progress.snapshotIndex) progress.becomeReplicate();
  if (node.maybeCommit()) broadcastAppend(node, true);
  else fillWindow(node, response.from);
  if (response.from === node.leadTransferee && progress.match === node.log.lastIndex()) {
    node.sendTimeoutNow(response.from);
  }
}

/** Where to probe next after a rejection: skip the follower's whole conflicting term at once. */
function backtrackHint(node: RaftNode, response: AppendResponse): LogIndex {
  if (response.conflictTerm > 0) {
    const ours = node.log.lastIndexOfTerm(response.conflictTerm);
    if (ours > 0) return ours + 1;
  }
  return response.conflictIndex;
}

function fillWindow(node: RaftNode, to: NodeId): void {
  while (sendAppend(node, to, false)) {
    // Keeps going while the follower's in-flight window has room and entries remain.
  }
}

export function handleHeartbeatResponse(node: RaftNode, response: HeartbeatResponse): void {
  const progress = progressOf(node, response.from);
  if (progress === undefined) return;
  progress.recentActive = true;
  progress.onHeartbeatResponse();
  if (progress.match < node.log.lastIndex()) sendAppend(node, response.from, true);
  if (response.readContext === '' || !node.isVoter(response.from)) return;
  const confirmed = node.readRounds.acknowledge(response.readContext, response.from, (acks) =>
    hasQuorum(node.membership.voters, (id) => acks.has(id)),
  );
  for (const read of confirmed) releaseRead(node, read.context, read.index, read.requester);
}

/** Sends the round gathering the reads taken since the last Ready (ready() calls this). */
export function sendReadRound(node: RaftNode): void {
  const round = node.readRounds.takeRoundToSend();
  if (round !== null) broadcastHeartbeat(node, round);
}

function releaseRead(node: RaftNode, context: string, index: LogIndex, requester: NodeId): void {
  if (requester === node.id) {
    node.readConfirmed(context, index);
  } else {
    node.send({ type: 'read-index-response', from: node.id, to: requester, term: node.term, readContext: context, index });
  }
}

/**
 * Starts a ReadIndex round for `requester`. A leader that has not yet committed an entry of
 * its own term does not know the true commit index, so such reads wait for its no-op.
 */
export function startReadRound(node: RaftNode, context: string, requester: NodeId): boolean {
  assert(node.role === 'leader', 'read round on a non-leader');
  if (!node.committedInCurrentTerm()) {
    if (node.readsAwaitingTermCommit.length >= node.config.maxPendingReads) return false;
    node.readsAwaitingTermCommit.push({ context, requester });
    return true;
  }
  const commitIndex = node.log.commitIndex;
  const { voters } = node.membership;
  if (voters.length === 1 && voters[0] === node.id) {
    releaseRead(node, context, commitIndex, requester);
    return true;
  }
  return node.readRounds.add({ context, index: commitIndex, requester }, node.id);
}

export function handleReadIndexRequest(node: RaftNode, request: ReadIndexRequest): void {
  if (node.role !== 'leader' || !startReadRound(node, request.readContext, request.from)) {
    node.send({
      type: 'read-index-response',
      from: node.id,
      to: request.from,
      term: node.term,
      readContext: request.readContext,
      index: 0,
    });
  }
}

// ---- Snapshots --------------------------------------------------------------------------

function startSnapshot(node: RaftNode, to: NodeId, progress: Progress): void {
  const snapshot = node.snapshot;
  assert(snapshot !== null, () => `follower ${to} needs compacted entries but there is no snapshot`);
  progress.becomeSnapshot(snapshot.meta.index);
  node.observe('snapshot-sent');
  sendSnapshotChunk(node, to, progress);
}

function sendSnapshotChunk(node: RaftNode, to: NodeId, progress: Progress): void {
  const snapshot = node.snapshot;
  assert(snapshot !== null, 'sending a snapshot chunk without a snapshot');
  if (progress.snapshotIndex !== snapshot.meta.index) {
    // A newer snapshot replaced the one in transfer: start that one over.
    progress.becomeSnapshot(snapshot.meta.index);
  }
  const offset = progress.snapshotOffset;
  node.send({
    type: 'snapshot',
    from: node.id,
    to,
    term: node.term,
    meta: snapshot.meta,
    offset,
    totalBytes: snapshot.data.byteLength,
    data: snapshot.data.subarray(offset, offset + node.config.snapshotChunkBytes),
  });
  progress.snapshotChunkAgeTicks = 0;
}

export function handleSnapshotResponse(node: RaftNode, response: SnapshotResponse): void {
  const progress = progressOf(node, response.from);
  if (progress === undefined) return;
  progress.recentActive = true;
  if (progress.state !== 'snapshot' || response.snapshotIndex !== progress.snapshotIndex) return;
  if (response.installed) {
    progress.maybeUpdate(response.snapshotIndex);
    progress.becomeReplicate();
    fillWindow(node, response.from);
    return;
  }
  if (response.nextOffset > progress.snapshotOffset) {
    // The chunk in flight arrived: send the next one at once.
    progress.snapshotOffset = response.nextOffset;
    sendSnapshotChunk(node, response.from, progress);
  } else if (response.nextOffset < progress.snapshotOffset) {
    // The follower wants an earlier offset (it lost its partial copy, or this answer is stale).
    // Rewind, but leave the sending to the resend timer: answering every stale or duplicated
    // response with a chunk would multiply the chunks in flight on a duplicating network.
    progress.snapshotOffset = response.nextOffset;
  }
  // Equal: a duplicate of an answer already acted on.
}

/** A lost chunk or answer would stall a transfer forever: resend after a few quiet ticks. */
export function resendStaleSnapshotChunks(node: RaftNode): void {
  for (const [id, progress] of node.progress) {
    if (progress.state !== 'snapshot') continue;
    progress.snapshotChunkAgeTicks++;
    if (progress.snapshotChunkAgeTicks >= SNAPSHOT_CHUNK_RESEND_TICKS) sendSnapshotChunk(node, id, progress);
  }
}
