/**
 * NodeHost glues a RaftNode to its Storage, Transport, Clock and state machine and runs the
 * Ready loop: tick on a timer; take a Ready; send a leader's appends at once; restore and apply
 * what is committed, resolving the proposals and reads that were waiting; persist the Ready in
 * one write (every proposal waiting at that moment shares the one fsync: group commit); only
 * then send its other messages; advance; compact the log every N applied entries. Readies keep
 * coming while a write is in flight; their writes queue and merge behind it (write-pipeline.ts).
 * A large snapshot is encoded (compaction) and restored (from the leader) a slice per turn
 * (sliced-job.ts); Readies taken during a restore wait to be applied until it is done.
 * It takes its Clock, Transport and Storage as arguments, so the simulator runs this very class,
 * not a model of it.
 *
 * Its API is callback-based, not promise-based, for the same reason: the simulator completes
 * everything in virtual time without awaiting the microtask queue. Promise wrappers belong to
 * the server.
 */
import { assert } from '../common/assert.ts';
import type { TimerHandle } from '../common/clock.ts';
import type { Slices } from '../common/slices.ts';
import { decodeConfigEntry, type ConfChange } from '../raft/membership.ts';
import { isHostMessage, type ForwardProposalsRequest, type ForwardProposalsResponse, type HostMessage, type RaftMessage } from '../raft/messages.ts';
import { RaftNode, type RaftEvent } from '../raft/raft-node.ts';
import type { Ready } from '../raft/ready.ts';
import type { ClusterConfig, Entry, LogIndex, NodeId, Role, SoftState } from '../raft/types.ts';
import type { PersistBatch } from '../storage/storage.ts';
import { ForwardedRequests } from './forwarded-requests.ts';
import { PendingProposals, type SettleProposal } from './pending-proposals.ts';
import { ReadRounds, type ReadCallback } from './read-rounds.ts';
import { SlicedJob } from './sliced-job.ts';
import { WritePipeline } from './write-pipeline.ts';
import type { ConfChangeOutcome, NodeHostOptions, ProposalOutcome } from './host-types.ts';

/**
 * How many Readies may wait for storage, or for a snapshot restored in slices, before the node
 * takes no more. Under load a write carries a few (one per turn of the event loop during an
 * fsync); hundreds mean the disk has stalled, and the node then waits for it instead of holding
 * ever more entries in memory.
 */
const MAX_READIES_WAITING = 256;

/**
 * After this many ticks a ReadIndex round still unanswered no longer holds later reads back (its
 * request or answer may have been lost): the next round carries its reads too. A round under
 * load takes milliseconds to tens of milliseconds.
 */
const READ_ROUND_PATIENCE_TICKS = 5;

/**
 * How many list elements of a snapshot one turn of the event loop encodes or restores when the
 * state machine can work in slices: a few milliseconds' work, where a whole large state takes
 * 100 ms and more.
 */
const DEFAULT_SNAPSHOT_SLICE_ELEMENTS = 2_000;

export class NodeHost<Result> {
  readonly raft: RaftNode;
  private readonly options: NodeHostOptions<Result>;
  private running = false;
  private tickTimer: TimerHandle | null = null;
  private readonly writes: WritePipeline;
  private pumpScheduled = false;
  private readonly pendingProposals = new PendingProposals<Result>();
  /** Proposals sent to the leader from here, until it says where it put them. */
  private readonly forwarded = new ForwardedRequests<Uint8Array, SettleProposal<Result>>();
  /**
   * Leader side: where forwarded proposals went, held until the appends carrying them leave, and
   * sent in the same write (one frame to the follower instead of two). The follower cannot apply
   * an entry before the append that carries it, so nothing waits longer for this.
   */
  private forwardAnswers: ForwardProposalsResponse[] = [];
  /** A compaction whose snapshot is being encoded a slice per turn (StateMachine.snapshotInSlices). */
  private compaction: SlicedJob<Uint8Array> | null = null;
  /** A snapshot from the leader being restored a slice per turn (StateMachine.restoreInSlices). */
  private restoring: SlicedJob<void> | null = null;
  /**
   * Readies taken and not yet applied, oldest first. Empty but while a snapshot is restored in
   * slices: the Ready that carries it and every later one wait for the restore.
   */
  private readonly unapplied: Ready[] = [];
  /** Readies whose writes are durable, oldest first, until they are applied too and advanced. */
  private readonly durable: Ready[] = [];
  /** The last index this host applied, entry by entry (RaftNode hears it once per Ready: appliedTo). */
  private lastAppliedIndex: LogIndex;
  /** Bytes of entry data applied since the last snapshot (for NodeHostOptions.snapshotEveryBytes). */
  private appliedBytesSinceSnapshot = 0;
  /** Linearizable reads, batched into ReadIndex rounds (one outstanding at a time). */
  private readonly reads: ReadRounds;
  private softState: SoftState;
  private membership: ClusterConfig;
  private membershipCommitted: boolean;
  private membershipLeader: NodeId;

  constructor(options: NodeHostOptions<Result>) {
    this.options = options;
    const observe = (event: RaftEvent): void => options.hooks?.raftEvent?.(event);
    const make = options.makeRaft ?? ((...args) => new RaftNode(...args));
    this.raft = make(options.raftConfig, options.bootstrap, options.persisted, options.random, observe);
    this.reads = new ReadRounds(this.raft, () => options.clock.nowMs(), READ_ROUND_PATIENCE_TICKS * options.tickMs);
    this.writes = new WritePipeline(
      options.storage,
      (readies) => this.written(readies),
      (error) => {
        this.stop();
        options.hooks?.fatal?.(error);
      },
    );
    if (options.persisted.snapshot !== null) options.stateMachine.restore(options.persisted.snapshot.data);
    this.softState = this.raft.softState();
    this.membership = this.raft.members;
    this.membershipCommitted = this.raft.membershipCommitted;
    this.membershipLeader = this.raft.leader;
    this.lastAppliedIndex = this.raft.appliedIndex;
  }

  get id(): NodeId {
    return this.raft.id;
  }

  get role(): Role {
    return this.raft.currentRole;
  }

  get isRunning(): boolean {
    return this.running;
  }

  start(): void {
    assert(!this.running, 'NodeHost started twice');
    this.running = true;
    this.scheduleTick();
    this.schedulePump();
  }

  /** Stops ticking and fails everything waiting (their outcome, for writes, is unknown). */
  stop(): void {
    if (!this.running) return;
    this.running = false;
    this.writes.stop();
    this.compaction?.cancel();
    this.compaction = null;
    this.restoring?.cancel();
    this.restoring = null;
    this.unapplied.length = 0;
    this.durable.length = 0;
    if (this.tickTimer !== null) this.options.clock.clearTimer(this.tickTimer);
    this.tickTimer = null;
    const leaderHint = this.raft.leader;
    const unknown = { ok: false, code: 'unavailable', leaderHint, mayHaveApplied: true } as const;
    for (const pending of this.pendingProposals.takeAll()) pending.settle(unknown);
    for (const settle of this.forwarded.drain()) settle(unknown);
    this.reads.failAll('unavailable');
  }

  /** A message from a peer (the KV node's own messages never reach the host: kv-node.ts). */
  receive(message: RaftMessage | HostMessage): void {
    if (!this.running) return;
    if (isHostMessage(message)) {
      if (message.type === 'forward-proposals') this.appendForwarded(message);
      else this.placeForwarded(message);
      return;
    }
    this.raft.step(message);
    this.schedulePump();
  }

  /**
   * The connection `peer` sent us Raft messages on was closed by its end: strong evidence the
   * peer went away (its process died, its machine restarted). If it led us, the follower
   * forgets it and campaigns soon instead of after an election timeout (RaftNode.leaderGone).
   */
  peerGone(peer: NodeId): void {
    if (!this.running) return;
    this.raft.leaderGone(peer);
    this.schedulePump();
  }

  /** Proposes `data`; `done` is called once it applied (with its result) or cannot. */
  propose(data: Uint8Array, done: (outcome: ProposalOutcome<Result>) => void): void {
    const leaderHint = this.raft.leader;
    if (!this.running) return done({ ok: false, code: 'unavailable', leaderHint, mayHaveApplied: false });
    if (this.pendingProposals.size + this.forwarded.size >= this.options.maxPendingProposals) {
      return done({ ok: false, code: 'overloaded', leaderHint, mayHaveApplied: false });
    }
    const result = this.raft.propose(data);
    if (!result.ok) {
      const code = result.reason === 'overloaded' ? 'overloaded' : 'not_leader';
      return done({ ok: false, code, leaderHint: result.leaderHint, mayHaveApplied: false });
    }
    this.pendingProposals.add(result.index, { term: result.term, settle: this.commandSettler(done) });
    this.schedulePump();
  }

  /**
   * Proposes `data` here if this node leads, else sends it to the leader it knows (with the
   * other proposals of this turn) and waits for the entry to apply here. When the leader cannot
   * be asked, or does not answer in time, `done` gets 'unavailable' with mayHaveApplied: the
   * caller retries with the same idempotency key. Not for proposals only a leader may make
   * (lease expiries): those use propose().
   */
  proposeAnywhere(data: Uint8Array, done: (outcome: ProposalOutcome<Result>) => void): void {
    const leader = this.raft.leader;
    if (!this.running || leader === '' || leader === this.id || this.raft.currentRole === 'leader') {
      this.propose(data, done);
      return;
    }
    if (this.pendingProposals.size + this.forwarded.size >= this.options.maxPendingProposals) {
      return done({ ok: false, code: 'overloaded', leaderHint: leader, mayHaveApplied: false });
    }
    this.forwarded.add(data, this.commandSettler(done));
    this.schedulePump();
  }

  /** A command entry always has a result; null means a no-op or config entry took the index. */
  private commandSettler(done: (outcome: ProposalOutcome<Result>) => void): SettleProposal<Result> {
    return (outcome) => done(outcome.ok && outcome.result === null ? this.superseded() : (outcome as ProposalOutcome<Result>));
  }

  /**
   * Proposes a membership change; `done` is called once it applied (the change is then final
   * on a quorum) or cannot. It takes effect on each node as soon as it is in that node's log.
   */
  proposeConfChange(change: ConfChange, done: (outcome: ConfChangeOutcome) => void): void {
    const leaderHint = this.raft.leader;
    if (!this.running) return done({ ok: false, code: 'unavailable', leaderHint, mayHaveApplied: false });
    const result = this.raft.proposeConfChange(change);
    if (!result.ok) return done({ ok: false, code: result.reason, leaderHint: result.leaderHint, mayHaveApplied: false });
    this.pendingProposals.add(result.index, {
      term: result.term,
      settle: (outcome) => {
        if (!outcome.ok) return done(outcome);
        const entry = this.raft.entryAt(outcome.index);
        const config = entry?.type === 'config' ? decodeConfigEntry(entry.data).config : this.raft.members;
        done({ ok: true, index: outcome.index, config });
      },
    });
    this.schedulePump();
  }

  /**
   * A linearizable read barrier: `done` is called once the local state machine reflects every
   * write acknowledged before this call. Reads arriving together share one ReadIndex round.
   */
  read(done: ReadCallback): void {
    if (!this.running) return done({ ok: false, code: 'unavailable', leaderHint: this.raft.leader });
    if (this.reads.pending >= this.options.maxPendingReads) {
      return done({ ok: false, code: 'overloaded', leaderHint: this.raft.leader });
    }
    this.reads.add(done);
    this.schedulePump();
  }

  transferLeadership(target: NodeId): boolean {
    const result = this.raft.transferLeadership(target);
    this.schedulePump();
    return result.ok;
  }

  // ---- The Ready loop ---------------------------------------------------------------------

  private scheduleTick(): void {
    this.tickTimer = this.options.clock.setTimer(this.options.tickMs, () => {
      if (!this.running) return;
      this.raft.tick();
      this.giveUpOnUnansweredForwards();
      this.scheduleTick();
      this.schedulePump();
    });
  }

  private schedulePump(): void {
    if (this.pumpScheduled || !this.running) return;
    this.pumpScheduled = true;
    this.options.clock.defer(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    if (!this.running) return;
    this.reads.start();
    this.sendForwarded();
    // A disk that stalls stalls the node: written() pumps again when a write completes (and a
    // restore that takes long, when it is done).
    if (this.writes.pendingReadies >= MAX_READIES_WAITING || this.unapplied.length >= MAX_READIES_WAITING) return;
    if (!this.raft.hasReady()) {
      this.sendWithForwardAnswers([]);
      return;
    }
    const ready = this.raft.ready();
    this.noteSoftState(ready.softState);
    this.noteMembership();
    // A leader's appends go out now: followers write while we write (Ready.messagesBeforePersist).
    this.sendWithForwardAnswers(ready.messagesBeforePersist);
    // Committed entries are durable on a quorum already, so applying them need not wait for our
    // own write (etcd applies in parallel with its WAL write too). Otherwise, under load, every
    // answer would wait for the fsync of the next batch of proposals that shares this Ready.
    // The state machine is volatile: a crash now rebuilds it from snapshot and log either way.
    this.unapplied.push(ready);
    this.applyInOrder();
    const batch: PersistBatch = {
      snapshot: ready.snapshot,
      compaction: ready.compaction,
      entries: ready.entries,
      hardState: ready.hardState,
      sync: ready.mustSync,
    };
    const nothingToWrite =
      batch.snapshot === null && batch.compaction === null && batch.entries.length === 0 && batch.hardState === null;
    this.writes.add(ready, nothingToWrite ? null : batch);
  }

  /**
   * Applies the Readies taken so far, in order: a received snapshot first, then the committed
   * entries. It stops at a snapshot the state machine restores in slices, and goes on from there
   * once the restore is done; Readies taken meanwhile wait behind it (their writes and messages
   * do not: a follower restoring keeps acknowledging its leader's appends).
   */
  private applyInOrder(): void {
    while (this.restoring === null) {
      const ready = this.unapplied[0];
      if (ready === undefined) return;
      if (ready.snapshot !== null) {
        const { data, meta } = ready.snapshot;
        const slices = this.options.stateMachine.restoreInSlices?.(data, this.sliceElements);
        if (slices !== undefined) {
          this.restoring = this.slicedJob(slices, () => this.restoredInSlices(ready, meta.index));
          return;
        }
        this.options.stateMachine.restore(data);
        this.snapshotRestored(meta.index);
      }
      this.unapplied.shift();
      this.applyCommitted(ready);
    }
  }

  /** The snapshot `ready` carries is restored: apply it and the Readies that waited for it. */
  private restoredInSlices(ready: Ready, index: LogIndex): void {
    this.restoring = null;
    assert(this.unapplied[0] === ready, 'a restore in slices ended for a Ready not first in line');
    this.unapplied.shift();
    this.snapshotRestored(index);
    this.applyCommitted(ready);
    this.applyInOrder();
    this.advanceApplied();
    this.maybeCompact();
    this.schedulePump();
  }

  /** Apply committed entries, then serve the reads they enable. */
  private applyCommitted(ready: Ready): void {
    for (const entry of ready.committedEntries) this.applyEntry(entry);
    for (const read of ready.readStates) this.reads.finish(read.context, ready.appliedThrough);
    for (const context of ready.droppedReads) this.reads.drop(context);
    // The reads that gathered while that round was out get theirs.
    if (this.reads.waiting) this.schedulePump();
    // Now, not at advance(): a compaction after an earlier write must not label a snapshot of
    // what this Ready applied with an older index.
    this.raft.appliedTo(ready.appliedThrough);
  }

  /** These Readies' writes are durable: send what they promise (in one call), then advance. */
  private written(readies: readonly Ready[]): void {
    if (!this.running) return; // stopped (or crashed) meanwhile: nothing more happens here
    const messages = readies.length === 1 ? readies[0]!.messages : readies.flatMap((ready) => ready.messages);
    if (messages.length > 0) this.options.transport.send(messages);
    this.durable.push(...readies);
    this.advanceApplied();
    this.maybeCompact();
    this.schedulePump();
  }

  /**
   * Advances the durable Readies that are applied too: all of them but those waiting for a
   * restore in slices (`unapplied` holds a run of the newest Readies; `durable` the oldest).
   */
  private advanceApplied(): void {
    const firstUnapplied = this.unapplied[0];
    while (this.durable.length > 0 && this.durable[0] !== firstUnapplied) this.raft.advance(this.durable.shift()!);
  }

  /** The state machine now holds a snapshot's state, up to `index`. */
  private snapshotRestored(index: LogIndex): void {
    // Proposals the snapshot covers may have applied, but their results are gone.
    for (const pending of this.pendingProposals.takeThrough(index)) {
      pending.settle({ ok: false, code: 'unavailable', leaderHint: this.raft.leader, mayHaveApplied: true });
    }
    this.lastAppliedIndex = Math.max(this.lastAppliedIndex, index);
    this.appliedBytesSinceSnapshot = 0;
    this.options.hooks?.restored?.(index);
  }

  private applyEntry(entry: Entry): void {
    const result = entry.type === 'normal' ? this.options.stateMachine.apply(entry.index, entry.data) : null;
    this.lastAppliedIndex = entry.index;
    this.appliedBytesSinceSnapshot += entry.data.length;
    this.options.hooks?.applied?.(entry, result);
    for (const pending of this.pendingProposals.takeAt(entry.index)) {
      if (pending.term === entry.term) {
        pending.settle({ ok: true, index: entry.index, result });
      } else {
        // Another leader's entry took this index: ours was never committed and never will be.
        pending.settle(this.superseded());
      }
    }
  }

  private superseded(): ProposalOutcome<never> {
    return { ok: false, code: 'superseded', leaderHint: this.raft.leader, mayHaveApplied: false };
  }

  private maybeCompact(): void {
    // A restore in slices holds back what is applied: the state machine is not at raft's index.
    if (this.compaction !== null || this.restoring !== null) return;
    const applied = this.raft.appliedIndex;
    if (!this.snapshotDue(applied)) return;
    // Entries applied while a snapshot is encoded in slices count toward the next one.
    const bytesCovered = this.appliedBytesSinceSnapshot;
    const slices = this.options.stateMachine.snapshotInSlices?.(this.sliceElements);
    if (slices === undefined) {
      this.raft.compact(applied, this.options.stateMachine.snapshot());
      this.appliedBytesSinceSnapshot -= bytesCovered;
      return;
    }
    this.compaction = this.slicedJob(slices, (data) => {
      this.compaction = null;
      // A snapshot received meanwhile replaced the log beyond this one (and reset the count).
      if (applied <= this.raft.snapshotIndex) return;
      this.raft.compact(applied, data);
      this.appliedBytesSinceSnapshot -= bytesCovered;
      this.schedulePump();
    });
  }

  /** Enough was applied since the last snapshot, by entry count or by bytes of data. */
  private snapshotDue(applied: LogIndex): boolean {
    const entries = applied - this.raft.snapshotIndex;
    if (entries <= 0) return false;
    if (entries >= this.options.snapshotEveryEntries) return true;
    const everyBytes = this.options.snapshotEveryBytes;
    return everyBytes !== undefined && this.appliedBytesSinceSnapshot >= everyBytes;
  }

  private slicedJob<T>(slices: Slices<T>, done: (result: T) => void): SlicedJob<T> {
    const delayMs = this.options.snapshotSliceDelayMs;
    return new SlicedJob(this.options.clock, slices, { done, ...(delayMs === undefined ? {} : { delayMs }) });
  }

  private get sliceElements(): number {
    return this.options.snapshotSliceElements ?? DEFAULT_SNAPSHOT_SLICE_ELEMENTS;
  }

  private noteMembership(): void {
    const config = this.raft.members;
    const committed = this.raft.membershipCommitted;
    const leader = this.raft.leader;
    if (config === this.membership && committed === this.membershipCommitted && leader === this.membershipLeader) return;
    this.membership = config;
    this.membershipCommitted = committed;
    this.membershipLeader = leader;
    this.options.hooks?.membershipChanged?.(config, committed, leader);
  }

  private noteSoftState(softState: SoftState): void {
    if (softState.leader === this.softState.leader && softState.role === this.softState.role) return;
    // The leader we forwarded to is gone: it may have appended what it never answered for.
    if (softState.leader !== this.softState.leader) this.failForwarded(this.forwarded.drain());
    this.softState = softState;
    this.options.hooks?.softStateChanged?.(softState, this.raft.currentTerm);
  }

  // ---- Proposals forwarded to the leader (forwarded-requests.ts) ---------------------------

  /** Sends this turn's forwarded proposals to the leader in one message. */
  private sendForwarded(): void {
    const queued = this.forwarded.takeQueued();
    if (queued.length === 0) return;
    const leader = this.raft.leader;
    // Leadership moved meanwhile: noteSoftState fails what was waiting when it sees the change.
    if (leader === '' || leader === this.id) return;
    const proposals = queued.map(({ id, payload }) => ({ id, data: payload }));
    this.options.transport.send([{ type: 'forward-proposals', from: this.id, to: leader, term: this.raft.currentTerm, proposals }]);
  }

  /** Leader side: append each forwarded proposal as our own and say where it went (0: not). */
  private appendForwarded(request: ForwardProposalsRequest): void {
    const ids: number[] = [];
    const indexes: LogIndex[] = [];
    let term = this.raft.currentTerm;
    for (const proposal of request.proposals) {
      const result = this.raft.propose(proposal.data);
      ids.push(proposal.id);
      indexes.push(result.ok ? result.index : 0);
      if (result.ok) term = result.term;
    }
    this.forwardAnswers.push({ type: 'forward-proposals-response', from: this.id, to: request.from, term, ids, indexes });
    this.schedulePump();
  }

  /** Sends `messages`, after the held answers to forwarded proposals (in one transport call). */
  private sendWithForwardAnswers(messages: readonly RaftMessage[]): void {
    if (this.forwardAnswers.length === 0) {
      if (messages.length > 0) this.options.transport.send(messages);
      return;
    }
    const answers = this.forwardAnswers;
    this.forwardAnswers = [];
    this.options.transport.send([...answers, ...messages]);
  }

  /**
   * Follower side: wait for each placed proposal's index to apply; refused ones fail now.
   * Protected for the simulator's planted-bug tests only.
   */
  protected placeForwarded(response: ForwardProposalsResponse): void {
    response.ids.forEach((id, position) => {
      const settle = this.forwarded.answered(id);
      const index = response.indexes[position] ?? 0;
      if (settle === undefined) return;
      if (index === 0) {
        // The node we took for the leader is not (or cannot take more): no hint, look again.
        settle({ ok: false, code: 'not_leader', leaderHint: '', mayHaveApplied: false });
      } else if (index <= this.lastAppliedIndex) {
        // The answer came after the entry applied here (a slow or reordered answer): whatever
        // applied at that index, its result is gone. Unknown; the retry's key dedups.
        settle({ ok: false, code: 'unavailable', leaderHint: this.raft.leader, mayHaveApplied: true });
      } else {
        this.pendingProposals.add(index, { term: response.term, settle });
      }
    });
  }

  private giveUpOnUnansweredForwards(): void {
    this.failForwarded(this.forwarded.tick(this.options.raftConfig.electionTicks));
  }

  private failForwarded(settles: readonly SettleProposal<Result>[]): void {
    for (const settle of settles) settle({ ok: false, code: 'unavailable', leaderHint: this.raft.leader, mayHaveApplied: true });
  }
}
